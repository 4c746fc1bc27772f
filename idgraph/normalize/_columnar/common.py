"""What every fast path returns, and the small helpers they share."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import polars as pl

from idgraph.errors import FieldError

__all__ = ["Fast", "null_strings", "printable", "reason_of"]


class Fast(NamedTuple):
    """A fast path's answer for a whole column.

    Attributes:
        values: Normalized values (null for blank, junk or refused).
        problems: The refusal reason where a value is refused, else null.
        certain: True where `values` and `problems` are certainly what the per-value normalizer
            gives; every other non-null row is handed to it.
    """

    values: pl.Series
    problems: pl.Series
    certain: pl.Series


def printable(raw: pl.Series) -> pl.Series:
    """True where a string is printable ASCII (space to tilde) only; null stays null."""
    return ~raw.str.contains(r"[^ -~]")


def null_strings(length: int) -> pl.Series:
    """A String series of nulls."""
    return pl.repeat(None, length, dtype=pl.String, eager=True)


def reason_of(normalize: Callable[[str], object], example: str) -> str:
    """The refusal reason `normalize` gives for `example`, read from the normalizer itself.

    Fast paths report these reasons without calling the normalizer per value; taking them from
    it keeps one source for each message.
    """
    try:
        normalize(example)
    except FieldError as exc:
        return exc.reason
    raise RuntimeError(f"expected {example!r} to be refused by {normalize!r}")
