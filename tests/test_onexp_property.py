"""OnExp against references of our own and against cronsim and croniter, on random expressions.

The generator builds each expression from structured parts and computes what every field
means on its own (it never asks OnExp's parser), so the brute-force references below share
no code with OnExp.  ``ONEXP_EXAMPLES=2000`` runs more, and non-derandomized, examples.
"""

from __future__ import annotations

import calendar
import itertools
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from nbflow.onexp import OnExp

MINUTE = timedelta(minutes=1)
DST_ZONES = [
    "America/New_York", "Europe/London", "Europe/Berlin", "Australia/Lord_Howe", "Australia/Sydney",
    "America/Santiago", "America/Havana", "Pacific/Chatham", "America/St_Johns", "Antarctica/Troll",
    "Europe/Dublin", "Asia/Beirut", "America/Asuncion",
]
STEADY_ZONES = ["UTC", "Asia/Tokyo", "Asia/Kolkata", "Asia/Kathmandu", "Etc/GMT+5", "Asia/Dubai"]
MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
DAYS = "SUN MON TUE WED THU FRI SAT".split()

_EXAMPLES = int(os.environ.get("ONEXP_EXAMPLES", "0"))


def examples(n: int) -> settings:
    """Deterministic runs by default (a fixed set of examples); more and random ones on request."""
    return settings(max_examples=_EXAMPLES or n, deadline=None, database=None, derandomize=not _EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# --- the generator: text plus its meaning ------------------------------------------------

@dataclass
class Spec:
    """An expression and, independently computed, what each of its fields allows."""

    text: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    dom: tuple | None            # ("days", set) | ("L", n) | ("W", n) | ("LW",); None: '*'
    dow: tuple | None            # (weekdays 0=Sun, {(weekday, n)}); None: '*'
    years: frozenset[int] | None
    dates: list[tuple[date, date]] | None
    fixed: bool


def _cased(draw, word: str) -> str:
    return draw(st.sampled_from([word, word.lower(), word.title()]))


@st.composite
def numeric_field(draw, lo: int, hi: int, names: list[str] | None = None, pick=None, max_items: int = 3,
                  cronsim_safe: bool = False, plain_first: bool = False):
    """A list of cron items over ``lo..hi``, as (text, values); ``plain_first``: not starting with '*' or '/'."""
    pick = st.integers(lo, hi) if pick is None else pick
    texts, values = [], set()
    kinds = ["star", "star_step", "bare_step", "single", "range", "start_step", "range_step"]
    if cronsim_safe:
        kinds.remove("bare_step")
    for i in range(draw(st.integers(1, max_items))):
        kind = draw(st.sampled_from(kinds[3:] if plain_first and i == 0 else kinds))
        step = draw(st.integers(1, max(1, (hi - lo) // 2)))
        a = draw(pick)
        b = draw(st.integers(a, hi))

        def token(v: int, range_end_of: int | None = None) -> tuple[str, int]:
            if names and draw(st.booleans()):
                name = names[v % len(names)] if names is DAYS else names[v - 1]
                value = DAYS.index(name) if names is DAYS else v
                if names is DAYS and name == "SUN" and range_end_of is not None and range_end_of > 0:
                    value = 7  # 'MON-SUN' reads as Monday to Sunday
                return _cased(draw, name), value
            return str(v), v

        if kind == "star":
            texts.append("*")
            values.update(range(lo, hi + 1))
        elif kind in ("star_step", "bare_step"):
            texts.append(("*" if kind == "star_step" else "") + f"/{step}")
            values.update(range(lo, hi + 1, step))
        elif kind == "single":
            text, v = token(a)
            texts.append(text)
            values.add(v)
        elif kind == "start_step":
            text, v = token(a)
            texts.append(f"{text}/{step}")
            values.update(range(v, hi + 1, step))
        else:
            ta, va = token(a)
            tb, vb = token(b, range_end_of=va)
            assume(va <= vb)
            texts.append(f"{ta}-{tb}" + (f"/{step}" if kind == "range_step" else ""))
            values.update(range(va, vb + 1, step if kind == "range_step" else 1))
    return ",".join(texts), values


@st.composite
def day_of_month(draw, specials: bool = True):
    if draw(st.integers(0, 3)) == 0:
        return "*", None
    kind = draw(st.sampled_from(["days", "L", "nL", "nW", "LW"] if specials else ["days"]))
    n = draw(st.one_of(st.integers(1, 5), st.integers(26, 31), st.integers(1, 31)))
    if kind == "days":
        text, values = draw(numeric_field(1, 31, cronsim_safe=not specials))
        return (text, None) if text == "*" else (text, ("days", values))  # exactly '*': unrestricted
    if kind == "L":
        return _cased(draw, "L"), ("L", 1)
    if kind == "nL":
        return f"{n}{_cased(draw, 'L')}", ("L", n)
    if kind == "nW":
        return f"{n}{_cased(draw, 'W')}", ("W", n)
    return _cased(draw, "LW"), ("LW",)


@st.composite
def day_of_week(draw, cronsim_safe: bool = False):
    if draw(st.integers(0, 2)) == 0:
        return "*", None
    texts, days, nth = [], set(), set()
    for _ in range(draw(st.integers(1, 2))):
        if draw(st.integers(0, 2)) == 0:
            day, n = draw(st.integers(0, 7)), draw(st.integers(1, 5))
            texts.append(f"{_cased(draw, DAYS[day % 7]) if draw(st.booleans()) else day}#{n}")
            nth.add((day % 7, n))
        else:
            text, values = draw(numeric_field(0, 7, DAYS, max_items=2, cronsim_safe=cronsim_safe))
            texts.append(text)
            days.update(v % 7 for v in values)
    text = ",".join(texts)
    return (text, None) if text == "*" else (text, (days, nth))  # exactly '*': unrestricted


@st.composite
def expressions(draw, around: int = 2024, seconds=None, hours=None, cronsim_safe: bool = False, fields=None,
                plain_minutes: bool = False):
    """A random valid OnExp with every feature; years and dates near ``around`` so they can fire."""
    sec_text, secs = draw(numeric_field(0, 59, cronsim_safe=cronsim_safe) if seconds is None else seconds)
    min_text, mins = draw(numeric_field(0, 59, cronsim_safe=cronsim_safe, plain_first=plain_minutes))
    hour_text, hrs = draw(numeric_field(0, 23, cronsim_safe=cronsim_safe) if hours is None else hours)
    dom_text, dom = draw(day_of_month(specials=not cronsim_safe))
    mon_text, mons = draw(numeric_field(1, 12, MONTHS, cronsim_safe=cronsim_safe) | st.just(("*", set(range(1, 13)))))
    dow_text, dow = draw(day_of_week(cronsim_safe=cronsim_safe))
    count = fields or draw(st.sampled_from([5, 6, 7, 8, 8]))
    years = dates = None
    year_text = "*"
    if count >= 7 and draw(st.booleans()):
        year_text, years = draw(numeric_field(1900, 2999, pick=st.integers(around - 2, around + 4)))
    dates_text = "*"
    if count == 8 and draw(st.integers(0, 3)) > 0:
        items, dates = [], []
        for _ in range(draw(st.integers(1, 3))):
            first = date(around - 1, 1, 1) + timedelta(days=draw(st.integers(0, 4 * 365)))
            last = first + timedelta(days=draw(st.integers(0, 60)))
            items.append(f"{first:%Y%m%d}" + (f"-{last:%Y%m%d}" if last > first or draw(st.booleans()) else ""))
            dates.append((first, last))
        dates_text = ",".join(items)
    if count == 5:
        sec_text, secs = "0", {0}
    parts = [sec_text, min_text, hour_text, dom_text, mon_text, dow_text, year_text, dates_text]
    text = " ".join(parts[:count] if count > 5 else parts[1:6])
    return Spec(
        text=text, seconds=frozenset(secs), minutes=frozenset(mins), hours=frozenset(hrs),
        months=frozenset(mons), dom=dom, dow=dow, years=frozenset(years) if years else None, dates=dates,
        fixed=not (min_text.startswith(("*", "/")) or hour_text.startswith(("*", "/"))),
    )


# --- the reference: the grammar's meaning, applied directly -------------------------------

def ref_day(spec: Spec, d: date) -> bool:
    if d.month not in spec.months or not 1900 <= d.year <= 2999:
        return False
    if spec.years is not None and d.year not in spec.years:
        return False
    if spec.dates is not None and not any(a <= d <= b for a, b in spec.dates):
        return False
    if spec.dom is None and spec.dow is None:
        return True
    return (spec.dom is not None and ref_dom(spec.dom, d)) or (spec.dow is not None and ref_dow(spec.dow, d))


def ref_dom(dom: tuple, d: date) -> bool:
    last = calendar.monthrange(d.year, d.month)[1]
    if dom[0] == "days":
        return d.day in dom[1]
    if dom[0] == "L":
        return d.day == last + 1 - dom[1]
    target = last if dom[0] == "LW" else dom[1]
    if target > last:
        return False  # nW for a day the month does not have: no fire that month
    weekday = date(d.year, d.month, target).weekday()  # Monday = 0
    if weekday == 5:
        target = target - 1 if target > 1 else target + 2
    elif weekday == 6:
        target = target + 1 if target < last else target - 2
    return d.day == target


def ref_dow(dow: tuple, d: date) -> bool:
    weekday = d.isoweekday() % 7  # Sunday = 0
    return weekday in dow[0] or (weekday, (d.day + 6) // 7) in dow[1]


def ref_wall(spec: Spec, wall: datetime) -> bool:
    return (wall.second in spec.seconds and wall.minute in spec.minutes and wall.hour in spec.hours
            and ref_day(spec, wall.date()))


def ref_next_steady(spec: Spec, zone: ZoneInfo, after: datetime, horizon_days: int) -> datetime | None:
    """First fire after ``after`` in a zone whose offset does not change: walk days, then times."""
    wall = after.astimezone(zone).replace(tzinfo=None)
    for i in range(horizon_days):
        day = wall.date() + timedelta(days=i)
        if not ref_day(spec, day):
            continue
        today = i == 0
        for h in sorted(spec.hours):
            if today and h < wall.hour:
                continue
            for m in sorted(spec.minutes):
                if today and (h, m) < (wall.hour, wall.minute):
                    continue
                for s in sorted(spec.seconds):
                    candidate = datetime.combine(day, time(h, m, s))
                    if candidate > wall:
                        return candidate.replace(tzinfo=zone)
    return None


def ref_fires_dst(spec: Spec, zone: ZoneInfo, after: datetime, end: datetime, limit: int) -> list[datetime]:
    """Fires in ``(after, end]`` by walking every real minute (DST rules applied one by one).

    Wildcard: a real instant fires when its wall time matches.  Fixed time: a wall time fires
    at its first occurrence (fold 0), and the wall times a gap skips fire at the instant after
    the gap.  Assumes offsets change on whole minutes (true for these zones in these years).
    """
    out: list[datetime] = []
    start = after.astimezone(UTC).replace(second=0, microsecond=0)
    prev_wall = (start - MINUTE).astimezone(zone).replace(tzinfo=None)
    instant = start
    while instant <= end and len(out) < limit:
        loc = instant.astimezone(zone)
        wall = loc.replace(tzinfo=None, fold=0)
        hits = set()
        if spec.fixed and wall - prev_wall > MINUTE:  # a gap just ended: its wall times fire now
            skipped = prev_wall + MINUTE
            while skipped < wall and not hits:
                if any(ref_wall(spec, skipped.replace(second=s)) for s in spec.seconds):
                    hits.add(instant)
                skipped += MINUTE
        for s in spec.seconds:
            if ref_wall(spec, wall.replace(second=s)) and not (spec.fixed and loc.fold == 1):
                hits.add(instant + timedelta(seconds=s))
        out.extend(sorted(h for h in hits if after < h <= end))
        prev_wall = wall
        instant += MINUTE
    return out[:limit]


@cache
def transitions(zone_name: str, year: int) -> list[datetime]:
    """The instants (UTC) in ``year`` where the zone's offset changes, found hour by hour."""
    zone = ZoneInfo(zone_name)
    found, t = [], datetime(year, 1, 1, tzinfo=UTC)
    previous = t.astimezone(zone).utcoffset()
    while t.year == year:
        offset = (t + timedelta(hours=1)).astimezone(zone).utcoffset()
        if offset != previous:
            lo, hi = t, t + timedelta(hours=1)
            while hi - lo > MINUTE:
                mid = lo + (hi - lo) / 2
                lo, hi = (lo, mid) if mid.astimezone(zone).utcoffset() == offset else (mid, hi)
            found.append(hi.replace(second=0, microsecond=0))
            previous = offset
        t += timedelta(hours=1)
    return found


def instants(draw, base: datetime, spread: timedelta) -> datetime:
    seconds = draw(st.integers(int(-spread.total_seconds()), int(spread.total_seconds() // 4)))
    micro = draw(st.sampled_from([0, 0, 0, 1, 500_000, 999_999]))
    return base + timedelta(seconds=seconds, microseconds=micro)


def utc(times: list[datetime]) -> list[datetime]:
    """Python compares two datetimes of one zone by wall clock, ignoring fold: compare in UTC."""
    return [t.astimezone(UTC) for t in times]


def check_iter(on: OnExp, after: datetime, found: list[datetime]) -> None:
    assert all(on.matches(x) for x in found), found
    assert all(a < b for a, b in itertools.pairwise(utc([after, *found])))
    if found:
        before = found[0] - timedelta(seconds=1)
        assert on.matches(before) == (on.next(before - timedelta(microseconds=1)) == before)


# --- the properties -----------------------------------------------------------------------

@given(data=st.data())
@examples(300)
def test_calendar_features_against_day_by_day_reference(data):
    """L, W, #, OR, steps, years and date sets in zones with a steady offset."""
    year = data.draw(st.integers(1990, 2090))
    spec = data.draw(expressions(around=year))
    zone = ZoneInfo(data.draw(st.sampled_from(STEADY_ZONES)))
    after = instants(data.draw, datetime(year, 7, 1, tzinfo=UTC), timedelta(days=400))
    on = OnExp(spec.text, zone.key)
    found = list(itertools.islice(on.iter(after), 3))
    for feature, present in [("L/nL", spec.dom and spec.dom[0] == "L"), ("nW/LW", spec.dom and spec.dom[0] in ("W", "LW")),
                             ("DAY#n", spec.dow and spec.dow[1]), ("day OR", spec.dom and spec.dow),
                             ("year", spec.years), ("dates", spec.dates), ("runs out", len(found) < 3)]:
        if present:
            event(feature)
    horizon = 800
    current = after
    for i in range(3):
        expected = ref_next_steady(spec, zone, current, horizon)
        if expected is None:  # nothing within the horizon: OnExp must not find anything sooner
            limit = current.astimezone(zone).date() + timedelta(days=horizon)
            assert len(found) <= i or found[i].date() >= limit, (spec.text, current)
            break
        assert len(found) > i and utc(found)[i] == expected.astimezone(UTC), (spec.text, zone.key, current, found)
        assert found[i].tzinfo is zone
        current = expected
    check_iter(on, after, found)


@st.composite
def dst_expressions(draw):
    # Dense enough to fire near a DST change, with hours where changes happen.
    near = st.sampled_from([0, 1, 1, 2, 2, 3, 23])
    seconds = st.sampled_from([("0", {0}), ("0", {0}), ("*/20", {0, 20, 40}), ("15,45", {15, 45}), ("58-59", {58, 59})])
    fixed = draw(st.booleans())
    hours = numeric_field(0, 23, pick=near, max_items=2, plain_first=fixed)
    return draw(expressions(seconds=seconds, hours=hours, around=2024, plain_minutes=fixed))


@given(data=st.data())
@examples(250)
def test_dst_rules_against_minute_by_minute_reference(data):
    spec = data.draw(dst_expressions())
    zone_name = data.draw(st.sampled_from(DST_ZONES))
    changes = transitions(zone_name, data.draw(st.sampled_from([2024, 2025])))
    assume(changes)
    change = data.draw(st.sampled_from(changes))
    after = instants(data.draw, change, timedelta(hours=data.draw(st.sampled_from([3, 30])))).astimezone(
        data.draw(st.sampled_from([ZoneInfo(zone_name), UTC])))
    end = after.astimezone(UTC) + timedelta(hours=40)
    on = OnExp(spec.text, zone_name)
    expected = ref_fires_dst(spec, ZoneInfo(zone_name), after, end, limit=25)
    found = utc(list(itertools.islice(itertools.takewhile(lambda x: x.astimezone(UTC) <= end, on.iter(after)), 25)))
    assert found == expected, (spec.text, zone_name, after.isoformat())
    check_iter(on, after, found)
    zone = ZoneInfo(zone_name)
    event("fixed time" if spec.fixed else "wildcard")
    if after.astimezone(zone).fold:
        event("asked from an overlap's second pass")
    if any(f.astimezone(zone).fold for f in found):
        event("fires in an overlap's second pass")
    if any(not ref_wall(spec, f.astimezone(zone).replace(tzinfo=None)) for f in found):
        event("fires at the end of a gap for a wall time inside it")
    # one fixed set of instants: next() from anywhere between two fires gives the later one
    for a, b in itertools.pairwise(found[:6]):
        middle = (a + (b - a) / 2).astimezone(ZoneInfo(zone_name))
        assert utc([on.next(middle)]) == [b], (spec.text, zone_name, middle.isoformat())


# --- the libraries, where their semantics are ours ----------------------------------------

def _libraries_agree_on_days(spec: Spec) -> bool:
    """Both day fields restricted, one with a '*' in it (``*/2``, ``*,5``): OnExp ORs them (only
    an exact ``*`` is unrestricted); cronsim ANDs them, croniter reads ``*,*`` as ``*``."""
    dom, _, dow = spec.text.split()[-3:]
    return not (spec.dom is not None and spec.dow is not None and ("*" in dom or "*" in dow))


@given(data=st.data())
@examples(250)
def test_same_as_cronsim_where_cronsim_follows_the_same_rules(data):
    """5-field expressions (cronsim's Debian DST handling is for 5 fields only), in DST zones too."""
    cronsim = pytest.importorskip("cronsim")
    spec = data.draw(expressions(cronsim_safe=True, fields=5))
    assume(_libraries_agree_on_days(spec))
    # Not Lord Howe: cronsim steps hours in UTC and, after the 30-minute fall-back, skips
    # wall times (``* */2 * * *`` after 01:30 +10:30 on 2024-04-07 gives 02:30, not 02:00).
    # Not Santiago: after a gap at midnight cronsim returns a wall time that does not exist
    # (``* */2 8 * *`` after 2024-09-07 23:59:58 gives 2024-09-08 00:00-04:00, i.e. 01:00 -03).
    zone_name = data.draw(st.sampled_from(
        ["UTC", "America/New_York", "Europe/London", "Europe/Berlin", "Australia/Sydney"]))
    zone = ZoneInfo(zone_name)
    change = data.draw(st.sampled_from(transitions(zone_name, 2024) or [datetime(2024, 6, 1, tzinfo=UTC)]))
    after = instants(data.draw, change, timedelta(days=20)).replace(microsecond=0).astimezone(zone)
    # cronsim reads a fixed-time expression on the naive wall clock, so from inside an overlap's
    # second pass it answers with a time before ``after`` (see nbflow/onexp/_onexp.py).
    assume(not (spec.fixed and after.fold == 1))
    try:
        theirs = list(itertools.islice(cronsim.CronSim(spec.text, after), 5))
    except cronsim.CronSimError:
        assume(False)
    ours = list(itertools.islice(OnExp(spec.text, zone_name).iter(after), len(theirs)))
    assert utc(ours) == utc(theirs), (spec.text, zone_name, after.isoformat())


def _single_value_range(text: str) -> bool:
    """Whether an item is a range of one value (``5-5``, ``1-MON``), which croniter 7 reads as ``*``."""
    names = {n.lower(): i for i, n in enumerate(DAYS)} | {n.lower(): i + 1 for i, n in enumerate(MONTHS)}
    for item in re.split(r"[ ,]", text):
        first, dash, last = item.partition("/")[0].partition("-")
        if dash and _number(first, names) == _number(last, names):
            return True
    return False


def _number(token: str, names: dict[str, int]) -> int | str:
    return int(token) if token.isdigit() else names.get(token.lower(), token)


@given(data=st.data())
@examples(200)
def test_same_as_croniter_in_utc(data):
    croniter = pytest.importorskip("croniter").croniter
    spec = data.draw(expressions(cronsim_safe=True, fields=5))
    assume(not _single_value_range(spec.text) and _libraries_agree_on_days(spec))
    dow = spec.text.split()[-1]
    # croniter refuses 'SUN#1,3', drops the '*' of 'SUN#1,*' and ignores day-of-month beside a '#'
    # ('0 0 13 * 5#2' fires on second Fridays only, not also on the 13th)
    assume(not ("#" in dow and ("," in dow or spec.dom is not None)))
    assume(not re.search(r"-sun", dow, re.IGNORECASE))  # 'MON-SUN' is OnExp's reading, croniter wraps
    # 'a/n' in day-of-week runs to 7 (Sunday) in OnExp and cronsim, to 6 in croniter
    assume(not any("/" in item and not item.startswith(("*", "/")) and "-" not in item for item in dow.split(",")))
    after = instants(data.draw, datetime(2024, 6, 1, tzinfo=UTC), timedelta(days=400)).replace(microsecond=0)
    try:
        it = croniter(spec.text, after)
        theirs = [it.get_next(datetime) for _ in range(4)]
    except Exception:  # croniter refuses some valid forms or gives up on rare ones: nothing to compare
        assume(False)
    ours = list(itertools.islice(OnExp(spec.text).iter(after), 4))
    assert utc(ours) == utc(theirs), (spec.text, after.isoformat())
