"""OnExp across DST changes, in real zones: Debian cron's fixed-time and wildcard rules.

New York 2024: 2024-03-10 02:00 EST -> 03:00 EDT (gap), 2024-11-03 02:00 EDT -> 01:00 EST (overlap).
London 2024: 2024-03-31 01:00 GMT -> 02:00 BST, 2024-10-27 02:00 BST -> 01:00 GMT.
Lord Howe 2024: 2024-04-07 02:00 (+11) -> 01:30 (+10:30), 2024-10-06 02:00 (+10:30) -> 02:30 (+11).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from nbflow.onexp import OnExp

NY = "America/New_York"
EDT, EST = timezone(timedelta(hours=-4)), timezone(timedelta(hours=-5))


def fires(expr: str, tz: str, after: datetime, n: int) -> list[str]:
    return [dt.isoformat() for dt in itertools.islice(OnExp(expr, tz).iter(after), n)]


def local(text: str, tz: str, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz), fold=fold)


# --- spring forward: the gap --------------------------------------------------------------

@pytest.mark.parametrize("expr", ["30 2 * * *", "0 30 2 * * *", "0 30 2 * * * 2024", "0 30 2 * * * * 20240301-20240331"])
def test_fixed_time_in_gap_fires_at_the_end_of_the_gap_for_every_field_count(expr):
    assert fires(expr, NY, local("2024-03-09T12:00", NY), 2) == [
        "2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"]


def test_fixed_time_with_seconds_in_gap_fires_at_the_first_real_instant():
    assert fires("15 30 2 * * *", NY, local("2024-03-09T12:00", NY), 2) == [
        "2024-03-10T03:00:00-04:00", "2024-03-11T02:30:15-04:00"]


@pytest.mark.parametrize("expr", ["0,30 2 * * *", "0 2,3 * * *", "* 30 2 * * *", "0 0-59/10 2 * * *"])
def test_several_wall_times_in_one_gap_fire_once(expr):
    first_two = fires(expr, NY, local("2024-03-09T12:00", NY), 2)
    assert first_two[0] == "2024-03-10T03:00:00-04:00"
    assert first_two[1].startswith("2024-03-1")
    assert first_two[1] != first_two[0] and not first_two[1].startswith("2024-03-10T03:00:00")


def test_wildcard_in_gap_skips_wall_times_that_never_happen():
    assert fires("30 * * * *", NY, local("2024-03-10T00:00", NY), 3) == [
        "2024-03-10T00:30:00-05:00", "2024-03-10T01:30:00-05:00", "2024-03-10T03:30:00-04:00"]
    # minute '*/30' makes it a wildcard expression: the 2 o'clock hour simply does not exist that day
    assert fires("*/30 2 * * *", NY, local("2024-03-09T12:00", NY), 3) == [
        "2024-03-11T02:00:00-04:00", "2024-03-11T02:30:00-04:00",
        "2024-03-12T02:00:00-04:00"]
    assert fires("0 * * * *", NY, local("2024-03-10T01:00", NY), 1) == ["2024-03-10T03:00:00-04:00"]
    assert fires("* * * * * *", NY, local("2024-03-10T01:59:59", NY), 1) == ["2024-03-10T03:00:00-04:00"]


def test_matches_at_the_end_of_a_gap():
    on = OnExp("30 2 * * *", NY)
    assert on.matches(local("2024-03-10T03:00", NY))
    assert not on.matches(local("2024-03-11T03:00", NY))
    assert not OnExp("*/30 2 * * *", NY).matches(local("2024-03-10T03:00", NY))
    assert not OnExp("0 3 * * *", NY).matches(local("2024-03-10T03:00:01", NY))


# --- fall back: the overlap ---------------------------------------------------------------

def test_fixed_time_in_overlap_fires_once_at_the_first_occurrence():
    assert fires("30 1 * * *", NY, local("2024-11-02T12:00", NY), 2) == [
        "2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"]
    on = OnExp("30 1 * * *", NY)
    assert on.matches(local("2024-11-03T01:30", NY, fold=0))
    assert not on.matches(local("2024-11-03T01:30", NY, fold=1))


@pytest.mark.parametrize("after", [
    datetime(2024, 11, 3, 1, 10, tzinfo=EST),   # second pass, before 01:30 EST
    datetime(2024, 11, 3, 1, 40, tzinfo=EST),   # second pass, after 01:30 EST
    datetime(2024, 11, 3, 1, 30, tzinfo=EDT),   # the fire itself
    datetime(2024, 11, 3, 1, 40, tzinfo=EDT),   # first pass, after the fire
    datetime(2024, 11, 3, 1, 30, tzinfo=EST),
])
def test_fixed_time_next_from_inside_the_overlap(after):
    # today's only fire was 01:30 EDT: whatever the instant, the next one is tomorrow's
    assert fires("30 1 * * *", NY, after, 1) == ["2024-11-04T01:30:00-05:00"]


def test_fixed_time_next_from_the_first_pass_before_the_fire():
    assert fires("30 1 * * *", NY, datetime(2024, 11, 3, 1, 10, tzinfo=EDT), 1) == ["2024-11-03T01:30:00-04:00"]


def test_wildcard_in_overlap_fires_twice():
    assert fires("0 * * * *", NY, local("2024-11-03T00:30", NY), 3) == [
        "2024-11-03T01:00:00-04:00", "2024-11-03T01:00:00-05:00", "2024-11-03T02:00:00-05:00"]
    assert fires("*/20 1 * * *", NY, local("2024-11-02T12:00", NY), 10) == [
        "2024-11-03T01:00:00-04:00", "2024-11-03T01:20:00-04:00", "2024-11-03T01:40:00-04:00",
        "2024-11-03T01:00:00-05:00", "2024-11-03T01:20:00-05:00", "2024-11-03T01:40:00-05:00",
        "2024-11-04T01:00:00-05:00", "2024-11-04T01:20:00-05:00", "2024-11-04T01:40:00-05:00",
        "2024-11-05T01:00:00-05:00"]


@pytest.mark.parametrize(("after", "expected"), [
    (datetime(2024, 11, 3, 1, 30, tzinfo=EDT), ["2024-11-03T01:40:00-04:00", "2024-11-03T01:00:00-05:00"]),
    (datetime(2024, 11, 3, 1, 45, tzinfo=EDT), ["2024-11-03T01:00:00-05:00", "2024-11-03T01:20:00-05:00"]),
    (datetime(2024, 11, 3, 1, 30, tzinfo=EST), ["2024-11-03T01:40:00-05:00", "2024-11-03T02:00:00-05:00"]),
    (datetime(2024, 11, 3, 1, 59, 59, 999999, tzinfo=EDT), ["2024-11-03T01:00:00-05:00", "2024-11-03T01:20:00-05:00"]),
    (datetime(2024, 11, 3, 1, 0, tzinfo=EST), ["2024-11-03T01:20:00-05:00", "2024-11-03T01:40:00-05:00"]),
])
def test_wildcard_next_from_inside_the_overlap(after, expected):
    assert fires("*/20 * * * *", NY, after, 2) == expected


def test_a_year_of_fires_has_no_hole_and_no_duplicate():
    start = local("2024-01-01T00:00", NY) - timedelta(seconds=1)
    end = local("2025-01-01T00:00", NY)
    hourly = list(itertools.takewhile(lambda d: d < end, OnExp("0 * * * *", NY).iter(start)))
    assert len(hourly) == 366 * 24  # every real hour, including both 01:00s of 3 November
    daily = list(itertools.takewhile(lambda d: d < end, OnExp("30 2 * * *", NY).iter(start)))
    assert len(daily) == 366  # one fire a day, 10 March included
    half_hours_at_two = list(itertools.takewhile(lambda d: d < end, OnExp("*/30 2 * * *", NY).iter(start)))
    assert len(half_hours_at_two) == 366 * 2 - 2  # 10 March has no 2 o'clock hour


# --- other zones --------------------------------------------------------------------------

def test_london():
    tz = "Europe/London"
    assert fires("30 1 * * *", tz, local("2024-03-30T12:00", tz), 2) == [
        "2024-03-31T02:00:00+01:00", "2024-04-01T01:30:00+01:00"]
    assert fires("30 1 * * *", tz, local("2024-10-26T12:00", tz), 2) == [
        "2024-10-27T01:30:00+01:00", "2024-10-28T01:30:00+00:00"]
    assert fires("0 * * * *", tz, local("2024-10-27T00:30", tz), 3) == [
        "2024-10-27T01:00:00+01:00", "2024-10-27T01:00:00+00:00", "2024-10-27T02:00:00+00:00"]


def test_lord_howe_half_hour_shift():
    tz = "Australia/Lord_Howe"
    # spring: 02:00-02:29 never happen
    assert fires("15 2 * * *", tz, local("2024-10-05T12:00", tz), 2) == [
        "2024-10-06T02:30:00+11:00", "2024-10-07T02:15:00+11:00"]
    assert fires("*/15 * * * *", tz, local("2024-10-06T01:50", tz), 2) == [
        "2024-10-06T02:30:00+11:00", "2024-10-06T02:45:00+11:00"]
    # autumn: 01:30-01:59 happen twice
    assert fires("45 1 * * *", tz, local("2024-04-06T12:00", tz), 2) == [
        "2024-04-07T01:45:00+11:00", "2024-04-08T01:45:00+10:30"]
    assert fires("*/15 * * * *", tz, local("2024-04-07T01:20", tz), 5) == [
        "2024-04-07T01:30:00+11:00", "2024-04-07T01:45:00+11:00", "2024-04-07T01:30:00+10:30",
        "2024-04-07T01:45:00+10:30", "2024-04-07T02:00:00+10:30"]


def test_gap_at_midnight_havana():
    tz = "America/Havana"  # 2024-03-10 00:00 CST -> 01:00 CDT
    assert fires("0 0 * * *", tz, local("2024-03-09T12:00", tz), 2) == [
        "2024-03-10T01:00:00-04:00", "2024-03-11T00:00:00-04:00"]
    assert fires("0 * * * *", tz, local("2024-03-09T23:30", tz), 1) == ["2024-03-10T01:00:00-04:00"]
    # the day still exists (from 01:00), so day fields see it
    assert fires("0 0 12 10 3 *", tz, local("2024-03-01T00:00", tz), 1) == ["2024-03-10T12:00:00-04:00"]


def test_overlap_before_midnight_santiago():
    tz = "America/Santiago"  # 2024-04-07 00:00 -03 -> 2024-04-06 23:00 -04
    assert fires("30 23 * * *", tz, local("2024-04-06T12:00", tz), 2) == [
        "2024-04-06T23:30:00-03:00", "2024-04-07T23:30:00-04:00"]
    assert fires("30 * * * *", tz, local("2024-04-06T22:45", tz), 3) == [
        "2024-04-06T23:30:00-03:00", "2024-04-06T23:30:00-04:00", "2024-04-07T00:30:00-04:00"]


def test_zones_without_dst_are_plain_offsets():
    assert fires("30 2 * * *", "Asia/Kolkata", local("2024-03-10T00:00", "Asia/Kolkata"), 1) == [
        "2024-03-10T02:30:00+05:30"]
    assert fires("0 0 * * *", "Etc/GMT+5", local("2024-03-10T00:00", "UTC"), 1) == ["2024-03-10T00:00:00-05:00"]
