"""Typed cells over whole columns: timestamps, numbers, booleans and dates, with their problems.

Each function here answers for a column what the per-value function it names answers for one
value: the parsed value, or the reason a `FieldError` gives. Parsing runs once per distinct
value, and timestamps (nearly all distinct) take a vectorised path for the ISO shapes exports
use, falling back to `parse_timestamp` for anything else.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from idgraph.errors import FieldError
from idgraph.normalize.fields import normalize_date, parse_timestamp
from idgraph.normalize.record import NormalizeOptions

__all__ = [
    "ISO_TIMESTAMP",
    "Parsed",
    "map_distinct",
    "parse_dates",
    "parse_timestamps",
    "parse_typed",
    "parse_whens",
]

#: A parsed column and, aligned with it, the reason each unusable value was refused.
Parsed = tuple[pl.Series, pl.Series]

_TRUE = frozenset({"true", "yes", "1", "y", "t"})
_FALSE = frozenset({"false", "no", "0", "n", "f"})
#: `2024-05-04T10:00:00Z`, with optional fraction and numeric offset: what exports write.
ISO_TIMESTAMP = (
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?"
    r"(Z|[+-]\d{2}:\d{2})$"
)


def map_distinct(
    raw: pl.Series, parse: Callable[[str], Any], dtype: pl.DataType | type[pl.DataType]
) -> Parsed:
    """Apply `parse` once per distinct non-null value; a `FieldError` becomes its reason.

    Returns the values (null where `raw` is null or `parse` failed) and the reasons.
    """
    distinct = raw.drop_nulls().unique()
    values: list[Any] = []
    reasons: list[str | None] = []
    for text in distinct.to_list():
        try:
            values.append(parse(text))
            reasons.append(None)
        except FieldError as exc:
            values.append(None)
            reasons.append(exc.reason)
    lookup = pl.DataFrame(
        {
            "raw": pl.Series(distinct.to_list(), dtype=pl.Utf8),
            "value": pl.Series(values, dtype=dtype),
            "reason": pl.Series(reasons, dtype=pl.Utf8),
        }
    )
    joined = (
        pl.DataFrame({"raw": raw.cast(pl.Utf8)})
        .with_row_index("_pos")
        .join(lookup, on="raw", how="left")
        .sort("_pos")
    )
    return joined["value"], joined["reason"]


def _iso_fast(raw: pl.Series) -> pl.Series:
    """Epoch ms of the plain ISO shapes, null for anything else (including impossible dates)."""
    frame = pl.DataFrame({"raw": raw.cast(pl.Utf8)})
    parts = pl.col("raw").str.extract_groups(ISO_TIMESTAMP)
    year, month, day = (parts.struct.field(str(i)).cast(pl.Int32) for i in (1, 2, 3))
    hour, minute, second = (parts.struct.field(str(i)).cast(pl.Int64) for i in (4, 5, 6))
    fraction = parts.struct.field("7").str.pad_end(6, "0").cast(pl.Int64).fill_null(0)
    zone = parts.struct.field("8")
    offset_min = (
        pl.when(zone == "Z")
        .then(0)
        .otherwise(
            (zone.str.slice(1, 2).cast(pl.Int64) * 60 + zone.str.slice(4, 2).cast(pl.Int64))
            * pl.when(zone.str.starts_with("-")).then(-1).otherwise(1)
        )
    )
    days = pl.col("raw").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    ok = (
        days.is_not_null()
        & (days.dt.year() == year)
        & (days.dt.month() == month)
        & (days.dt.day() == day)
        & (hour < 24)
        & (minute < 60)
        & (second < 60)
        & ((zone == "Z") | ((zone.str.slice(1, 2) < "24") & (zone.str.slice(4, 2) < "60")))
    )
    micros = (
        days.cast(pl.Int64) * 86_400_000_000
        + ((hour * 60 + minute - offset_min) * 60 + second) * 1_000_000
        + fraction
    )
    millis = micros // 1000
    return frame.select(
        pl.when(ok & (millis >= 0)).then(millis).otherwise(None).alias("ts")
    ).to_series()


#: The forms trackers write most, as Polars formats, with the length of a value in each.
_QUICK_FORMATS = (("%Y-%m-%dT%H:%M:%S%.3fZ", 24), ("%Y-%m-%dT%H:%M:%SZ", 20))


def _iso_quick(raw: pl.Series) -> pl.Series:
    """Epoch ms of timestamps written exactly in a `_QUICK_FORMATS` form, null for the rest.

    Polars' parser is lenient (a missing fraction, second 60), so a value counts only when
    writing its parse back in the same form gives the value itself.
    """
    quick: pl.Series | None = None
    for form, length in _QUICK_FORMATS:
        parsed = raw.str.to_datetime(form, strict=False, time_unit="ms")
        exact = (raw.str.len_bytes() == length) & (parsed.dt.strftime(form) == raw)
        millis = parsed.cast(pl.Int64)
        found = millis.set(~(exact.fill_null(False) & (millis >= 0).fill_null(False)), None)
        quick = found if quick is None else quick.fill_null(found)
    assert quick is not None
    return quick


def parse_timestamps(raw: pl.Series) -> Parsed:
    """`parse_timestamp` over a column: epoch ms (Int64) and reasons.

    Examples:
        >>> ts, why = parse_timestamps(pl.Series(["2024-05-04T10:00:00Z", "x", None]))
        >>> ts.to_list(), why.to_list()[1].startswith("not a timestamp")
        ([1714816800000, None, None], True)
    """
    raw = raw.cast(pl.Utf8)
    quick = _iso_quick(raw)
    if quick.null_count() == raw.null_count():
        return quick, pl.Series("reason", [None] * raw.len(), dtype=pl.Utf8)
    fast = quick.fill_null(_iso_fast(raw.set(quick.is_not_null(), None)))
    rest = raw.filter(fast.is_null() & raw.is_not_null())
    if rest.len() == 0:
        return fast, pl.Series("reason", [None] * raw.len(), dtype=pl.Utf8)
    values, reasons = map_distinct(raw.set(fast.is_not_null(), None), parse_timestamp, pl.Int64)
    return fast.fill_null(values), reasons


def _when(options: NormalizeOptions) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            return parse_timestamp(text)
        except FieldError as exc:
            first = exc.reason
        try:
            day = date.fromisoformat(_date_value(text, options))
        except FieldError:
            raise FieldError("when", first) from None
        return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)

    return parse


def parse_whens(raw: pl.Series, options: NormalizeOptions) -> Parsed:
    """`idgraph.ingest.when.parse_when` over a column: a timestamp, or a plain date at
    midnight UTC; the reason is the timestamp's when neither reads."""
    fast = _iso_fast(raw)
    values, reasons = map_distinct(raw.set(fast.is_not_null(), None), _when(options), pl.Int64)
    return fast.fill_null(values), reasons


def _date_value(text: str, options: NormalizeOptions) -> str:
    value = normalize_date(text, order=options.date_order, today=date.max)
    if value is None:
        raise FieldError("date", "not a date (blank)")
    return value


def parse_dates(raw: pl.Series, options: NormalizeOptions) -> Parsed:
    """Date cells as ISO `YYYY-MM-DD` (future dates allowed: a renewal, an expiry)."""
    return map_distinct(raw, lambda text: _date_value(text, options), pl.Utf8)


def _number(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise FieldError("number", "not a number") from None
    if not math.isfinite(number):
        raise FieldError("number", "not a finite number")
    return number


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise FieldError("boolean", "not a boolean (expected true/false, yes/no or 1/0)")


def parse_typed(raw: pl.Series, kind: str, options: NormalizeOptions) -> Parsed:
    """A trait or event-property column of a declared type (`string`, `number`, `boolean`,
    `date`): typed values (Utf8, Float64, Boolean, Utf8) and reasons."""
    if kind == "string":
        return raw.cast(pl.Utf8), pl.Series("reason", [None] * raw.len(), dtype=pl.Utf8)
    if kind == "number":
        return map_distinct(raw, _number, pl.Float64)
    if kind == "boolean":
        return map_distinct(raw, _boolean, pl.Boolean)
    return parse_dates(raw, options)
