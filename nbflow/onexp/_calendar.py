"""Which local wall-clock times an OnExp names, and the first one at or after a given wall time.

Everything here is naive wall-clock time: time zones are applied on top, in ``_zone``.  The
days a month offers depend only on its length and the weekday of its 1st (28 combinations),
so they are computed once per combination and a search steps over whole months, years and
date ranges rather than over days: a ``next_wall`` is a few bisections, and an expression
that can never fire (``0 0 30 2 *``) is recognised up front.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left, bisect_right
from datetime import date, datetime, timedelta

from ._fields import FIRST_YEAR, LAST_YEAR, Fields

FIRST_WALL = datetime(FIRST_YEAR, 1, 1)
LAST_WALL = datetime(LAST_YEAR, 12, 31, 23, 59, 59)
_LAST_DAY = LAST_WALL.date()
_ONE_DAY = timedelta(days=1)


class WallCalendar:
    """The set of wall-clock times (whole seconds, years 1900-2999) an OnExp's fields match."""

    def __init__(self, fields: Fields) -> None:
        self.fields = fields
        self._seconds, self._minutes, self._hours = fields.second, fields.minute, fields.hour
        self._times = (set(fields.second), set(fields.minute), set(fields.hour))
        self._months = fields.month
        self._month_set = set(fields.month)
        self._years = fields.year
        self._year_set = set(fields.year) if fields.year is not None else None
        dates = fields.dates or ()
        self._date_starts = [first.toordinal() for first, _ in dates]
        self._date_ends = [last.toordinal() for _, last in dates]
        self._day_cache: dict[tuple[int, int], tuple[int, ...]] = {}
        self.possible = self._possible()

    def _possible(self) -> bool:
        """Whether some month length and weekday of the 1st give a matching day in an allowed month."""
        lengths = {length for m in self._months for length in ((28, 29) if m == 2 else (calendar.mdays[m],))}
        return any(self._days(length, first) for length in sorted(lengths) for first in range(7))

    def _days(self, length: int, first: int) -> tuple[int, ...]:
        """Matching days of a month of ``length`` days whose 1st is weekday ``first`` (0 = Sunday)."""
        key = (length, first)
        if key not in self._day_cache:
            self._day_cache[key] = _month_days(self.fields, length, first)
        return self._day_cache[key]

    def month_days(self, year: int, month: int) -> tuple[int, ...]:
        """The matching days of ``year``-``month`` by day-of-month and day-of-week (not dates/year)."""
        monday_first, length = calendar.monthrange(year, month)
        return self._days(length, (monday_first + 1) % 7)

    def matches(self, wall: datetime) -> bool:
        """Whether the wall time ``wall`` (its microseconds ignored) is one the fields name."""
        seconds, minutes, hours = self._times
        return (
            wall.second in seconds and wall.minute in minutes and wall.hour in hours
            and FIRST_WALL <= wall <= LAST_WALL and self.next_day(wall.date()) == wall.date()
        )

    def next_wall(self, wall: datetime) -> datetime | None:
        """The first matching wall time at or after ``wall`` (whole seconds), or None after 2999."""
        wall = max(wall, FIRST_WALL)
        day, hms = wall.date(), (wall.hour, wall.minute, wall.second)
        while day <= _LAST_DAY:
            found = self.next_day(day)
            if found is None:
                return None
            if found != day:
                day, hms = found, (0, 0, 0)
            time = self._next_time(*hms)
            if time is not None:
                return datetime(day.year, day.month, day.day, *time)
            day, hms = day + _ONE_DAY, (0, 0, 0)
        return None

    def _next_time(self, hour: int, minute: int, second: int) -> tuple[int, int, int] | None:
        """The first matching time of day at or after ``hour:minute:second``, in the same day."""
        hours, minutes, seconds = self._hours, self._minutes, self._seconds
        i = bisect_left(hours, hour)
        if i < len(hours) and hours[i] == hour:
            j = bisect_left(minutes, minute)
            if j < len(minutes) and minutes[j] == minute:
                k = bisect_left(seconds, second)
                if k < len(seconds):
                    return hour, minute, seconds[k]
                j += 1
            if j < len(minutes):
                return hour, minutes[j], seconds[0]
            i += 1
        if i < len(hours):
            return hours[i], minutes[0], seconds[0]
        return None

    def next_day(self, day: date) -> date | None:
        """The first day at or after ``day`` that every date field allows, or None after 2999."""
        if not self.possible:
            return None
        while day <= _LAST_DAY:
            if self._date_starts:
                ordinal = day.toordinal()
                i = bisect_right(self._date_starts, ordinal) - 1
                if i < 0 or self._date_ends[i] < ordinal:  # between ranges: jump to the next one
                    if i + 1 == len(self._date_starts):
                        return None
                    day = date.fromordinal(self._date_starts[i + 1])
                    continue
            year, month = day.year, day.month
            if self._year_set is not None and year not in self._year_set:
                assert self._years is not None
                i = bisect_right(self._years, year)
                if i == len(self._years):
                    return None
                day = date(self._years[i], 1, 1)
                continue
            if month not in self._month_set:
                i = bisect_right(self._months, month)
                day = date(year, self._months[i], 1) if i < len(self._months) else _next_year(year)
                continue
            days = self.month_days(year, month)
            i = bisect_left(days, day.day)
            if i == len(days):
                day = date(year, month + 1, 1) if month < 12 else _next_year(year)
                continue
            if days[i] == day.day:
                return day
            day = day.replace(day=days[i])  # loop once more: the date set may exclude it
        return None


def _next_year(year: int) -> date:
    # Past 2999 the loop ends on ``_LAST_DAY``; date() itself goes up to 9999.
    return date(year + 1, 1, 1)


def _month_days(fields: Fields, length: int, first: int) -> tuple[int, ...]:
    """Days of a month (``length`` days, 1st on weekday ``first``, 0 = Sunday) the day fields match.

    Unix semantics: when both day fields are restricted a day matches if either matches.
    """
    dom, dow = fields.day_of_month, fields.day_of_week
    if dom is None and dow is None:
        return tuple(range(1, length + 1))

    def weekday(day: int) -> int:
        return (first + day - 1) % 7

    matched: set[int] = set()
    if dom is not None:
        if dom.days:
            matched.update(d for d in dom.days if d <= length)
        elif dom.from_end is not None:
            if dom.from_end <= length:  # '31L' in a 30-day month names no day
                matched.add(length + 1 - dom.from_end)
        elif dom.nearest_weekday is not None:
            n = dom.nearest_weekday
            if n <= length:  # like Quartz: '31W' has no fire in a shorter month
                matched.add(_nearest_weekday(n, weekday(n), length))
        else:  # LW
            matched.add(_nearest_weekday(length, weekday(length), length))
    if dow is not None:
        nth = set(dow.nth)
        matched.update(
            d for d in range(1, length + 1)
            if weekday(d) in dow.days or (weekday(d), (d - 1) // 7 + 1) in nth
        )
    return tuple(sorted(matched))


def _nearest_weekday(day: int, wd: int, length: int) -> int:
    """The weekday (Mon-Fri) nearest ``day`` (weekday ``wd``, 0 = Sunday) inside its month."""
    if wd == 6:  # Saturday: Friday before, unless that leaves the month (1st -> Monday 3rd)
        return day - 1 if day > 1 else day + 2
    if wd == 0:  # Sunday: Monday after, unless that leaves the month (last -> Friday before)
        return day + 1 if day < length else day - 2
    return day
