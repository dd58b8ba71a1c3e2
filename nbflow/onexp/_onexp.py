"""``OnExp``: a cron-compatible expression in an IANA time zone, and when it fires.

Why the date arithmetic is our own rather than cronsim's or croniter's (DESIGN.md prefers a
library where it gets the rules right).  Checked against cronsim 2.9 and croniter 7.0:

- grammar: neither has the year or date-set fields; cronsim refuses ``2L``, ``15W`` and
  ``/15``, croniter ``2L`` and ``/15``; croniter reads ``5-5`` as ``*``; their errors do not
  name the field.
- day OR: only an exact ``*`` leaves a day field unrestricted, so ``0 0 */2 * MON`` fires on
  odd days *or* Mondays; cronsim ANDs the fields whenever one starts with ``*``, and croniter
  ignores day-of-month beside a ``#`` (``0 0 13 * 5#2`` fires on second Fridays only).
- DST: cronsim applies the fixed-time rule to 5-field expressions only (``0 30 2 * * *`` in
  New York skips 2024-03-10 instead of firing at 03:00); from inside an overlap's second pass
  it answers *before* the instant asked about (``30 1 * * *`` after 01:10 EST gives 01:30
  EDT), where croniter fires a second time (01:30 EST); it skips wall times after Lord Howe's
  30-minute fall-back (``* */2 * * *`` after 01:30 +10:30 on 2024-04-07 gives 02:30, not
  02:00) and returns a wall time that does not exist after a midnight gap (``* */2 8 * *`` in
  America/Santiago after 2024-09-07 23:59:58 gives 2024-09-08 00:00-04:00).
- impossible expressions (``0 0 30 2 *``) raise instead of having no next fire.

What remains once all that is handled here is a sorted-set search (``_calendar``) and the
DST mapping (``_zone``), with the calendar and zone data from the standard library
(``calendar``, ``datetime``, ``zoneinfo``).  The tests check OnExp against brute-force
references and against cronsim and croniter wherever their semantics are ours.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime

from ..errors import ConfigError, did_you_mean
from ._calendar import WallCalendar
from ._describe import describe
from ._fields import Fields
from ._parse import parse
from ._zone import is_instant, next_instant

# Instants outside these cannot be next to a fire: fires lie in local years 1900-2999.
_BEFORE_ALL = datetime(1899, 12, 30)
_AFTER_ALL = datetime(3000, 1, 2)


class OnExp:
    """When a timer fires: a cron-compatible expression read on the wall clock of ``tz``.

    ``OnExp("0 0 14 * * MON-FRI", "America/New_York")`` fires at 14:00:00 New York time on
    weekdays.  Fields: ``[second] minute hour day-of-month month day-of-week [year [dates]]``
    (5 to 8 fields); the full grammar and the DST rules are in ``docs/onexp.md``.  Invalid
    expressions and unknown zones raise ``ConfigError`` at construction, the message starting
    with the field it is about.  Equal and hashed by ``(expr, tz)``.
    """

    __slots__ = ("_calendar", "expr", "fields", "tz", "zone")

    def __init__(self, expr: str, tz: str = "UTC") -> None:
        if not isinstance(expr, str):
            raise ConfigError(f"expected 5, 6, 7 or 8 fields in a string such as '0 9 * * MON-FRI', got {expr!r}")
        self.expr: str = " ".join(expr.split())
        self.fields: Fields = parse(self.expr)
        self.tz: str = tz
        self.zone: zoneinfo.ZoneInfo = _zone(tz)
        self._calendar = WallCalendar(self.fields)

    @property
    def is_fixed_time(self) -> bool:
        """Whether neither the minute nor the hour field starts with ``*`` (Debian cron's rule).

        Each matching wall time of a fixed-time expression fires once, even when a DST change
        skips or repeats it; any other expression fires at every real instant whose wall time
        matches (never in a gap, twice in an overlap).
        """
        return self.fields.fixed_time

    def next(self, after: datetime) -> datetime | None:
        """The first fire time strictly after the aware ``after``, in this zone; None once there is none."""
        utc = _utc(after, "next")
        if utc >= _AFTER_ALL:
            return None
        found = next_instant(self._calendar, self.zone, self.is_fixed_time, max(utc, _BEFORE_ALL))
        return None if found is None else found.replace(tzinfo=UTC).astimezone(self.zone)

    def iter(self, after: datetime) -> Iterator[datetime]:
        """The fire times strictly after ``after``, in order; ends when the schedule runs out."""
        current = self.next(after)
        while current is not None:
            yield current
            current = self.next(current)

    def matches(self, dt: datetime) -> bool:
        """Whether the aware instant ``dt`` is a fire time (fires fall on whole seconds)."""
        utc = _utc(dt, "matches")
        if utc.microsecond or not _BEFORE_ALL <= utc <= _AFTER_ALL:
            return False
        return is_instant(self._calendar, self.zone, self.is_fixed_time, utc)

    def describe(self) -> str:
        """A short English description, e.g. ``at 14:00:00 on Mon-Fri (America/New_York)``."""
        return f"{describe(self.fields)} ({self.tz})"

    def __str__(self) -> str:
        return f"{self.expr} ({self.tz})"

    def __repr__(self) -> str:
        return f"OnExp({self.expr!r}, tz={self.tz!r})"

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, "_calendar"):  # set last in __init__: hashed by (expr, tz), so frozen
            raise AttributeError(f"OnExp is immutable: make a new one instead of setting {name!r}")
        super().__setattr__(name, value)

    def __reduce__(self) -> tuple[type[OnExp], tuple[str, str]]:
        return OnExp, (self.expr, self.tz)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OnExp):
            return NotImplemented
        return (self.expr, self.tz) == (other.expr, other.tz)

    def __hash__(self) -> int:
        return hash((self.expr, self.tz))


def _utc(dt: datetime, what: str) -> datetime:
    if not isinstance(dt, datetime):
        raise TypeError(f"OnExp.{what}() takes an aware datetime, got {dt!r}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(
            f"OnExp.{what}() needs an aware datetime, got naive {dt.isoformat()}; "
            "attach a zone, e.g. dt.replace(tzinfo=zoneinfo.ZoneInfo('UTC'))"
        )
    try:
        return dt.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # within a day of year 1 or 9999: as good as before or after every fire
        return datetime.min if dt.year < 5000 else datetime.max


def _zone(tz: str) -> zoneinfo.ZoneInfo:
    message = f"unknown timezone {tz!r} (an IANA name such as 'Europe/London' or 'UTC')"
    if not isinstance(tz, str):
        raise ConfigError(message)
    try:
        return zoneinfo.ZoneInfo(tz)
    # ValueError: malformed keys ('', absolute paths); OSError: a directory such as 'America'.
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        names = zoneinfo.available_timezones()
        same_case = [name for name in names if name.lower() == tz.lower()]
        hint = f" (did you mean {same_case[0]!r}?)" if same_case else did_you_mean(tz, names)
        raise ConfigError(message + hint) from None
