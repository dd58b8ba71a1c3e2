"""The parsed form of an OnExp: one frozen value per field, checked once at construction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

FIELD_NAMES = ("second", "minute", "hour", "day-of-month", "month", "day-of-week", "year", "dates")
# Bounds of the numeric fields; day-of-week allows 7 (Sunday) on input and stores it as 0.
BOUNDS = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "day-of-month": (1, 31),
    "month": (1, 12),
    "day-of-week": (0, 7),
    "year": (1900, 2999),
}
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# OnExp's calendar is the year field's range: no fire happens before 1900 or after 2999.
FIRST_YEAR, LAST_YEAR = BOUNDS["year"]


@dataclass(frozen=True)
class DayOfMonth:
    """A restricted day-of-month field; exactly one of its forms is set.

    ``days`` holds plain days (``1,15``, ``10-20/2``); ``from_end`` is ``nL`` (1 = the last
    day, 2 = the day before); ``nearest_weekday`` is ``nW``; ``last_weekday`` is ``LW``.
    """

    days: tuple[int, ...] = ()
    from_end: int | None = None
    nearest_weekday: int | None = None
    last_weekday: bool = False


@dataclass(frozen=True)
class DayOfWeek:
    """A restricted day-of-week field: weekdays (0 = Sunday ... 6 = Saturday) and ``DAY#n`` items.

    ``nth`` holds ``(weekday, n)`` pairs: the n-th such weekday of the month (n in 1-5).
    """

    days: tuple[int, ...] = ()
    nth: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Fields:
    """Every field of an OnExp, as sorted values.

    ``day_of_month`` and ``day_of_week`` are None when the field is exactly ``*``
    (unrestricted); when both are set a day matches if either matches.  ``year`` and
    ``dates`` are None when absent or ``*``; ``dates`` holds sorted, merged, inclusive
    ranges.  ``fixed_time`` is the Debian cron rule: neither the minute nor the hour field
    starts with ``*`` (``/n`` counts as ``*/n``).
    """

    second: tuple[int, ...]
    minute: tuple[int, ...]
    hour: tuple[int, ...]
    day_of_month: DayOfMonth | None
    month: tuple[int, ...]
    day_of_week: DayOfWeek | None
    year: tuple[int, ...] | None
    dates: tuple[tuple[date, date], ...] | None
    fixed_time: bool
