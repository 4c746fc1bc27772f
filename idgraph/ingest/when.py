"""Reading timestamps and dates out of table cells, with the column named on failure."""

from __future__ import annotations

from datetime import UTC, date, datetime

from idgraph.errors import FieldError
from idgraph.normalize.fields import normalize_date, parse_timestamp
from idgraph.normalize.record import NormalizeOptions


def parse_date_value(raw: str, column: str, options: NormalizeOptions) -> str:
    """A date cell as ISO `YYYY-MM-DD`, read in the source's date order.

    Future dates are allowed: a date trait may be a renewal or an expiry.

    Raises:
        FieldError: naming `column`, when the cell is not a date.
    """
    try:
        value = normalize_date(raw, order=options.date_order, today=date.max)
    except FieldError as exc:
        raise FieldError(column, exc.reason) from None
    if value is None:
        raise FieldError(column, "not a date (blank)")
    return value


def parse_when(raw: str, column: str, options: NormalizeOptions) -> int:
    """Epoch milliseconds from a timestamp cell, or from a plain date (midnight UTC).

    Raises:
        FieldError: naming `column`, when the cell is neither.
    """
    try:
        return parse_timestamp(raw)
    except FieldError as exc:
        first_reason = exc.reason
    try:
        day = date.fromisoformat(parse_date_value(raw, column, options))
    except FieldError:
        raise FieldError(column, first_reason) from None
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return int(moment.timestamp() * 1000)
