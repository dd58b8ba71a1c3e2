"""From wall-clock times to real instants: the Debian cron rules for DST, as one fixed set of instants.

A *fixed-time* expression fires once per matching wall time: at its first occurrence when the
wall time repeats (fall-back overlap), and at the first real instant after the gap when it
never happens (spring-forward gap); several wall times in one gap are one fire.  A *wildcard*
expression fires at every real instant whose wall time matches: never inside a gap, twice in
an overlap.  ``next_instant`` returns the first fire strictly after an instant, wherever that
instant falls, so it is consistent with this one set even when asked from inside an overlap's
second pass.

All instants here are naive UTC datetimes; walls are naive local datetimes.  zoneinfo does not
expose its transitions, so the one transition near a gap or overlap is found by bisection on
whole seconds (tzdb transitions fall on whole seconds); that happens only near a DST change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ._calendar import WallCalendar

_SECOND = timedelta(seconds=1)


def offset_at(zone: ZoneInfo, instant: datetime) -> timedelta:
    """The zone's UTC offset at ``instant`` (naive UTC)."""
    offset = zone.fromutc(instant.replace(tzinfo=zone)).utcoffset()
    assert offset is not None
    return offset


def wall_offsets(zone: ZoneInfo, wall: datetime) -> tuple[timedelta, timedelta]:
    """The offsets of ``wall`` read with fold=0 and fold=1.

    Equal: an ordinary wall time.  fold=0 larger: an overlap (fold=0 is the first pass).
    fold=0 smaller: a gap (the wall time never happens).
    """
    first = wall.replace(tzinfo=zone, fold=0).utcoffset()
    second = wall.replace(tzinfo=zone, fold=1).utcoffset()
    assert first is not None and second is not None
    return first, second


def transition(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The first instant (naive UTC, whole second) in ``(before, after]`` with ``after``'s offset.

    Requires one offset change between the two instants.
    """
    target = offset_at(zone, after)
    lo = before.replace(microsecond=0)
    hi = after.replace(microsecond=0) + (_SECOND if after.microsecond else timedelta(0))
    while hi - lo > _SECOND:
        mid = (lo + (hi - lo) // 2).replace(microsecond=0)
        if offset_at(zone, mid) == target:
            hi = mid
        else:
            lo = mid
    return hi


def next_instant(cal: WallCalendar, zone: ZoneInfo, fixed: bool, after: datetime) -> datetime | None:
    """The first fire instant (naive UTC) strictly after ``after`` (naive UTC), or None."""
    local = after.replace(tzinfo=UTC).astimezone(zone)
    wall = local.replace(tzinfo=None, fold=0)
    start = wall.replace(microsecond=0) + _SECOND  # the first whole-second wall time after ``wall``
    first, second = wall_offsets(zone, wall)
    if first <= second:  # not inside an overlap: wall times only move forward from here
        return _earliest_from(cal, zone, fixed, cal.next_wall(start))
    # Inside an overlap: the first pass runs to ``end``, then the wall clock restarts at ``begin``.
    change = transition(zone, wall - first, wall - second)
    begin, end = change + second, change + first
    nxt = cal.next_wall(start)
    if local.fold == 0:
        if nxt is not None and nxt < end:
            return nxt - first
        if not fixed:  # the second pass repeats the overlap's wall times, and they fire again
            again = cal.next_wall(begin)
            if again is not None and again < end:
                return again - second
    elif nxt is not None and nxt < end:
        if not fixed:
            return nxt - second
        nxt = cal.next_wall(end)  # fixed time: these wall times already fired in the first pass
    return _earliest_from(cal, zone, fixed, nxt)


def _earliest_from(cal: WallCalendar, zone: ZoneInfo, fixed: bool, wall: datetime | None) -> datetime | None:
    """The earliest fire instant of the first matching wall time from ``wall`` on that has one.

    Only valid when the wall clock runs forward from ``wall`` (no overlap to replay first).
    """
    while wall is not None:
        first, second = wall_offsets(zone, wall)
        if first >= second:  # ordinary, or an overlap's first pass
            return wall - first
        change = transition(zone, wall - second, wall - first)  # ``wall`` lies in a gap
        if fixed:
            return change
        wall = cal.next_wall(change + second)
    return None


def is_instant(cal: WallCalendar, zone: ZoneInfo, fixed: bool, instant: datetime) -> bool:
    """Whether ``instant`` (naive UTC, whole second) is one of the fire instants."""
    local = instant.replace(tzinfo=UTC).astimezone(zone)
    wall = local.replace(tzinfo=None, fold=0)
    if cal.matches(wall):
        return not fixed or local.fold == 0  # fixed time: an overlap's second pass does not fire
    if fixed:
        before, now = offset_at(zone, instant - _SECOND), local.utcoffset()
        assert now is not None
        if now > before:  # a gap ended at ``instant``: its matching wall times fire here
            nxt = cal.next_wall(wall - (now - before))
            return nxt is not None and nxt < wall
    return False
