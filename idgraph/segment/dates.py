"""Dates and durations in segment definitions, resolved against the segment's as-of instant.

A date is absolute or relative to the as-of day (its UTC calendar date)::

    date     := YYYY-MM-DD | today | N UNIT ago
    duration := N UNIT                       (`within:` only)
    UNIT     := d | day | days | w | week | weeks | mo | month | months | y | year | years

`N` is a whole number. `6mo ago` and `1y ago` step back calendar months and years; a day that
the target month lacks (31 March minus one month) becomes that month's last day. A duration
steps back from the as-of instant itself, so `within: 30d` equals `within_days: 30`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DATE_GRAMMAR",
    "DAY_MS",
    "DURATION_GRAMMAR",
    "Duration",
    "RelativeDate",
    "day_start_ms",
    "is_relative",
    "parse_date",
    "parse_duration",
]

DAY_MS = 86_400_000
#: How the grammar reads in error messages.
DATE_GRAMMAR = "YYYY-MM-DD or a relative date: today, 30d ago, 12w ago, 6mo ago, 1y ago"
DURATION_GRAMMAR = "a duration: a whole number and a unit, e.g. 30d, 12w, 6mo, 1y"

Unit = Literal["d", "w", "mo", "y"]
_UNITS: dict[str, Unit] = {
    **dict.fromkeys(("d", "day", "days"), "d"),
    **dict.fromkeys(("w", "week", "weeks"), "w"),
    **dict.fromkeys(("mo", "month", "months"), "mo"),
    **dict.fromkeys(("y", "year", "years"), "y"),
}
_AMOUNT = r"(\d{1,5})\s*([a-z]+)"
_RELATIVE = re.compile(rf"{_AMOUNT}\s+ago")
_DURATION = re.compile(_AMOUNT)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class Duration:
    """`amount` units (days, weeks, calendar months or years)."""

    amount: int
    unit: Unit

    def before(self, day: dt.date) -> dt.date:
        """The calendar day this long before `day`."""
        if self.unit == "d":
            return day - dt.timedelta(days=self.amount)
        if self.unit == "w":
            return day - dt.timedelta(weeks=self.amount)
        months = day.year * 12 + day.month - 1 - self.amount * (12 if self.unit == "y" else 1)
        year, month = divmod(months, 12)
        if year < 1:
            raise ValueError(f"{self.amount}{self.unit} before {day} is before year 1")
        last = calendar.monthrange(year, month + 1)[1]
        return dt.date(year, month + 1, min(day.day, last))

    def start_ms(self, as_of_ms: int) -> int:
        """The instant this long before `as_of_ms` (same time of day for months and years)."""
        if self.unit in ("d", "w"):
            return as_of_ms - self.amount * (7 if self.unit == "w" else 1) * DAY_MS
        day = dt.datetime.fromtimestamp(as_of_ms / 1000, tz=dt.UTC).date()
        return as_of_ms - (day - self.before(day)).days * DAY_MS


@dataclass(frozen=True, slots=True)
class RelativeDate:
    """A date given in a definition: `absolute`, or `ago` before the as-of day."""

    absolute: dt.date | None = None
    ago: Duration | None = None

    def resolve(self, as_of_ms: int) -> dt.date:
        """The calendar day meant, with relative dates counted from the as-of UTC date."""
        if self.absolute is not None:
            return self.absolute
        today = dt.datetime.fromtimestamp(as_of_ms / 1000, tz=dt.UTC).date()
        return self.ago.before(today) if self.ago is not None else today


def parse_duration(text: object) -> Duration | None:
    """`30d`, `12w`, `6mo`, `1y` (positive), or None if `text` is not a duration."""
    if not isinstance(text, str):
        return None
    found = _DURATION.fullmatch(text.strip().lower())
    if not found or found[2] not in _UNITS or int(found[1]) <= 0:
        return None
    return Duration(int(found[1]), _UNITS[found[2]])


def parse_date(text: object) -> RelativeDate | None:
    """A date in the grammar above (or a `datetime.date`), None if `text` is not one.

    Examples:
        >>> parse_date("2026-01-31").resolve(0)
        datetime.date(2026, 1, 31)
        >>> as_of = 1_774_915_200_000  # 2026-03-31T00:00Z
        >>> [parse_date(t).resolve(as_of).isoformat() for t in ("today", "1mo ago", "2w ago")]
        ['2026-03-31', '2026-02-28', '2026-03-17']
        >>> parse_date("yesterday") is None
        True
    """
    if isinstance(text, dt.datetime):
        return None
    if isinstance(text, dt.date):
        return RelativeDate(absolute=text)
    if not isinstance(text, str):
        return None
    cleaned = text.strip().lower()
    if cleaned == "today":
        return RelativeDate()
    if _ISO.fullmatch(cleaned):
        try:
            return RelativeDate(absolute=dt.date.fromisoformat(cleaned))
        except ValueError:
            return None
    found = _RELATIVE.fullmatch(cleaned)
    if not found or found[2] not in _UNITS:
        return None
    return RelativeDate(ago=Duration(int(found[1]), _UNITS[found[2]]))


def is_relative(text: object) -> bool:
    """True for `today` and `N UNIT ago` (dates whose order depends on the as-of day)."""
    parsed = parse_date(text)
    return parsed is not None and parsed.absolute is None


def day_start_ms(day: dt.date) -> int:
    """Epoch milliseconds of `day`'s UTC midnight."""
    return (day - dt.date(1970, 1, 1)).days * DAY_MS
