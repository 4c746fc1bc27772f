"""Stage 2 on columns: a whole column of raw values normalized at once.

The resolution core works on Polars columns, a million records at a time; calling the per-value
normalizers once per row would cost a minute. The per-value functions stay the definition: every
result here equals what `normalize.record._normalize_value` (or, for raw identifiers, the trim
and junk rule of `_exact`) gives for that value. Speed comes from two things:

- each distinct value is normalized once and the results are gathered back onto the rows
  (distinct values are found by hash, and every row is checked against its representative, so
  a hash collision costs time, never a wrong value);
- email, phone, street, city, postcode and identifiers take a vectorised fast path for plain
  shapes, which marks each value it is certain about; only the other values reach Python (see
  the modules of `idgraph.normalize._columnar`). Names, dates and countries repeat enough that
  Python once per distinct value is fast.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import NamedTuple

import polars as pl

from idgraph.errors import FieldError
from idgraph.normalize._columnar.common import Fast
from idgraph.normalize._columnar.email import fast_email
from idgraph.normalize._columnar.phone import fast_phone
from idgraph.normalize._columnar.text import fast_identifier, fast_postcode, fast_text
from idgraph.normalize.record import NormalizeOptions, _normalize_value
from idgraph.types import FIELD_NAMES, IDENTIFIER_KINDS

__all__ = ["COLUMN_NAMES", "fallback_share", "normalize_column", "normalize_frame"]

logger = logging.getLogger(__name__)

#: Identifier kinds that are only trimmed (email and phone are normalized as fields).
_TRIMMED_KINDS: tuple[str, ...] = tuple(k for k in IDENTIFIER_KINDS if k not in FIELD_NAMES)
#: Every name `normalize_column` accepts: the golden fields, then the trimmed identifier kinds.
COLUMN_NAMES: tuple[str, ...] = (*FIELD_NAMES, *_TRIMMED_KINDS)

_Exact = Callable[[str], tuple[str | None, str | None]]
#: Above this share of distinct values, a column with a fast path is not deduplicated first:
#: finding the duplicates would cost more than the fast path saves.
_DEDUPE_LIMIT = 0.5


def _exact(name: str, options: NormalizeOptions) -> _Exact:
    """The per-value definition for `name`: (value, problem) of one raw string."""
    if name in _TRIMMED_KINDS:

        def trim(raw: str) -> tuple[str | None, str | None]:
            text = raw.strip()
            return (None if not text or options.junk.is_junk(name, text) else text), None

        return trim

    def field(raw: str) -> tuple[str | None, str | None]:
        try:
            return _normalize_value(name, raw, options), None
        except FieldError as exc:
            return None, exc.reason

    return field


def _fast(name: str, options: NormalizeOptions) -> Callable[[pl.Series], Fast] | None:
    """The vectorised fast path for `name`, or None where Python per distinct value is enough."""
    junk = options.junk
    if name == "email":
        return lambda raw: fast_email(raw, junk)
    if name == "phone":
        return lambda raw: fast_phone(raw, options.default_region, junk)
    if name in ("street", "city"):
        return lambda raw: fast_text(raw, name, junk)
    if name == "postcode":
        return lambda raw: fast_postcode(raw, junk)
    if name in _TRIMMED_KINDS:
        return lambda raw: fast_identifier(raw, name, junk)
    return None


def _per_value(raw: pl.Series, exact: _Exact) -> tuple[pl.Series, pl.Series]:
    """`exact` on each value of `raw` (nulls stay null); meant for distinct values."""
    results = [(None, None) if value is None else exact(value) for value in raw.to_list()]
    values = pl.Series([value for value, _ in results], dtype=pl.String)
    return values, pl.Series([problem for _, problem in results], dtype=pl.String)


class _Distinct(NamedTuple):
    """The distinct values of a column (first occurrences) and each row's index among them."""

    values: pl.Series
    inverse: pl.Series

    @classmethod
    def of(cls, raw: pl.Series, hashes: pl.Series, first: pl.Series) -> _Distinct:
        keys = pl.DataFrame(
            {"hash": hashes.gather(first), "index": pl.int_range(len(first), eager=True)},
            schema={"hash": pl.UInt64, "index": pl.UInt32},
        )
        joined = hashes.to_frame("hash").join(keys, on="hash", how="left", maintain_order="left")
        return cls(raw.gather(first), joined["index"])

    def spread(
        self, raw: pl.Series, results: tuple[pl.Series, pl.Series], exact: _Exact
    ) -> tuple[pl.Series, pl.Series]:
        """Results for the distinct values, on the rows of `raw`; hash collisions redone."""
        values, problems = (result.gather(self.inverse) for result in results)
        collided = (~raw.eq_missing(self.values.gather(self.inverse))).arg_true()
        if len(collided):
            redone_values, redone_problems = _per_value(raw.gather(collided), exact)
            values = values.scatter(collided, redone_values)
            problems = problems.scatter(collided, redone_problems)
        return values, problems


def _per_distinct(raw: pl.Series, exact: _Exact) -> tuple[pl.Series, pl.Series]:
    """`exact` once per distinct value of `raw`, spread back onto every row."""
    hashes = raw.hash()
    distinct = _Distinct.of(raw, hashes, hashes.arg_unique())
    return distinct.spread(raw, _per_value(distinct.values, exact), exact)


def _with_fast_path(
    raw: pl.Series, fast: Callable[[pl.Series], Fast], exact: _Exact
) -> tuple[pl.Series, pl.Series]:
    """The fast path's answer, with the rows it is not certain about redone by `exact`."""
    answer = fast(raw)
    values, problems = answer.values, answer.problems
    pending = (raw.is_not_null() & ~answer.certain.fill_null(False)).arg_true()
    logger.debug("%d of %d values left to Python", len(pending), len(raw))
    if len(pending):
        slow_values, slow_problems = _per_distinct(raw.gather(pending), exact)
        values = values.scatter(pending, slow_values)
        problems = problems.scatter(pending, slow_problems)
    return values, problems


def _check(name: str, raw: pl.Series) -> pl.Series:
    if name not in COLUMN_NAMES:
        raise ValueError(
            f"cannot normalize a column as {name!r}: expected a field or identifier kind, "
            f"one of {', '.join(COLUMN_NAMES)}"
        )
    if raw.dtype == pl.Null:
        return raw.cast(pl.String)
    if raw.dtype != pl.String:
        raise ValueError(
            f"column {raw.name!r} ({name}) holds {raw.dtype}, expected strings (pl.String); "
            "read raw inputs as text, e.g. pl.read_csv(..., infer_schema=False)"
        )
    return raw


def normalize_column(
    name: str, raw: pl.Series, options: NormalizeOptions
) -> tuple[pl.Series, pl.Series]:
    """Normalize a whole column of raw strings as field (or identifier kind) `name`.

    Element by element the result is what the per-value normalizer gives: for a golden field,
    `_normalize_value(name, value, options)`, with a refused value (a `FieldError`) as a null
    value and its reason in `problems`; for a raw identifier kind (``customer_id``,
    ``user_id``, ``anonymous_id``, ``device_id``), the trimmed value, or null when blank or
    junk (case is kept: it is significant in ids).

    Args:
        name: A golden field (``email``, ``phone``, ``first_name``, ...) or identifier kind.
        raw: The raw values, as strings; null means absent.
        options: Region, date order and junk lists for this source.

    Returns:
        ``(values, problems)``, both string Series aligned with `raw` and named like it:
        the normalized value (null when absent, blank, junk or refused), and the refusal reason
        (null unless refused). A null in `raw` gives null in both.

    Raises:
        ValueError: `name` is not a field or identifier kind, or `raw` does not hold strings.

    Examples:
        >>> raw = pl.Series("email", [" Ann+x@Shop.com", "n/a", "ann@", None])
        >>> values, problems = normalize_column("email", raw, NormalizeOptions())
        >>> values.to_list()
        ['ann@shop.com', None, None, None]
        >>> problems.to_list()[2]
        "not an email address (expected a domain such as example.com after '@')"
        >>> normalize_column("phone", pl.Series(["347 123 4567"]), NormalizeOptions(
        ...     default_region="IT"))[0].to_list()
        ['+393471234567']
    """
    raw = _check(name, raw)
    exact = _exact(name, options)
    fast = _fast(name, options)
    hashes = raw.hash()
    first = hashes.arg_unique()
    if fast is not None and len(first) > _DEDUPE_LIMIT * len(raw):
        values, problems = _with_fast_path(raw, fast, exact)
    else:
        distinct = _Distinct.of(raw, hashes, first)
        if fast is None:
            results = _per_value(distinct.values, exact)
        else:
            results = _with_fast_path(distinct.values, fast, exact)
        values, problems = distinct.spread(raw, results, exact)
    return values.alias(raw.name), problems.alias(raw.name)


def fallback_share(name: str, raw: pl.Series, options: NormalizeOptions) -> float:
    """Share of the non-null values of `raw` its fast path leaves to the per-value normalizer.

    A measure for benchmarks and tuning: 1.0 for fields without a fast path.

    Examples:
        >>> raw = pl.Series(["ann@x.com", "Ann@X.com", "zoë@x.com", None])
        >>> fallback_share("email", raw, NormalizeOptions())
        0.3333333333333333
    """
    raw = _check(name, raw)
    present = raw.is_not_null()
    total = int(present.sum())
    fast = _fast(name, options)
    if fast is None or total == 0:
        return 1.0 if total else 0.0
    return int((present & ~fast(raw).certain.fill_null(False)).sum()) / total


def normalize_frame(
    frame: pl.DataFrame, columns: Sequence[str], options: NormalizeOptions
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Normalize several columns of `frame`, each named after its field or identifier kind.

    Args:
        frame: Raw values; `columns` must be string columns of it.
        columns: The columns to normalize, each named like the field it holds (``email``...).
        options: Region, date order and junk lists for this source.

    Returns:
        The frame with those columns replaced by their normalized values, and the problems:
        one row per refused value, ``(row: u32 index into frame, field, reason)``, in row order
        and, within a row, in the order of `columns`.

    Raises:
        ValueError: a column is missing, not strings, or not named after a field or kind.

    Examples:
        >>> frame = pl.DataFrame({"email": ["x@y.com", "nope"], "postcode": ["20121", "?!"]})
        >>> clean, problems = normalize_frame(frame, ["email", "postcode"], NormalizeOptions())
        >>> clean["email"].to_list()
        ['x@y.com', None]
        >>> problems.select("row", "field").rows()
        [(1, 'email')]
    """
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise ValueError(
            f"cannot normalize missing columns {', '.join(map(repr, missing))}; "
            f"the frame has {', '.join(frame.columns)}"
        )
    replaced: dict[str, pl.Series] = {}
    found: list[pl.DataFrame] = []
    for order, name in enumerate(dict.fromkeys(columns)):
        values, problems = normalize_column(name, frame[name], options)
        replaced[name] = values
        rows = problems.is_not_null().arg_true()
        found.append(
            pl.DataFrame(
                {
                    "row": rows.cast(pl.UInt32),
                    "field": pl.repeat(name, len(rows), dtype=pl.String, eager=True),
                    "reason": problems.gather(rows),
                    "order": pl.repeat(order, len(rows), dtype=pl.UInt32, eager=True),
                }
            )
        )
    schema = {"row": pl.UInt32, "field": pl.String, "reason": pl.String, "order": pl.UInt32}
    problems_frame = pl.concat([pl.DataFrame(schema=schema), *found])
    problems_frame = problems_frame.sort("row", "order").drop("order")
    return frame.with_columns(**replaced), problems_frame
