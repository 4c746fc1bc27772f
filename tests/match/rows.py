"""Small hand-written record and identifier frames for the matcher's unit tests."""

from __future__ import annotations

from typing import Any

import polars as pl

from idgraph.frames import FIELDS, IDENTIFIERS


def records(*rows: dict[str, Any]) -> pl.DataFrame:
    """A records frame: `key` and every golden field (null where a row leaves it out)."""
    return pl.DataFrame(
        [{"key": r["key"], **{f: r.get(f) for f in FIELDS}} for r in rows],
        schema={"key": pl.Utf8, **{f: pl.Utf8 for f in FIELDS}},
    ).sort("key")


def identifiers(*rows: tuple[str, str, str]) -> pl.DataFrame:
    """(record, kind, value) rows."""
    return pl.DataFrame(rows, schema=IDENTIFIERS, orient="row")
