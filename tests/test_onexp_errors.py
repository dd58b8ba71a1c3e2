"""Every invalid OnExp is refused at construction, with the field it is about named first."""

from __future__ import annotations

import pytest

from nbflow.errors import ConfigError
from nbflow.onexp import OnExp

BAD = [
    # field count
    ("0 0 * *", "expected 5, 6, 7 or 8 fields, got 4"),
    ("", "expected 5, 6, 7 or 8 fields, got 0"),
    ("0 0 0 * * * * * *", "expected 5, 6, 7 or 8 fields, got 9"),
    ("@daily", "expected 5, 6, 7 or 8 fields, got 1 ('@daily': '@' shortcuts are not supported"),
    # out of range, per field
    ("60 0 0 * * *", "second: 60 is out of range 0-59"),
    ("60 * * * *", "minute: 60 is out of range 0-59"),
    ("* 24 * * *", "hour: 24 is out of range 0-23"),
    ("0 0 32 * *", "day-of-month: 32 is out of range 1-31"),
    ("0 0 0 * *", "day-of-month: 0 is out of range 1-31"),
    ("0 0 * 13 *", "month: 13 is out of range 1-12"),
    ("0 0 * 0 *", "month: 0 is out of range 1-12"),
    ("0 0 * * 8", "day-of-week: 8 is out of range 0-7"),
    ("0 0 0 * * * 1899", "year: 1899 is out of range 1900-2999"),
    ("0 0 0 * * * 3000", "year: 3000 is out of range 1900-2999"),
    # reversed ranges
    ("0 10-5 * * *", "hour: reversed range 10-5 (there is no wrap-around)"),
    ("0 0 * DEC-JAN *", "month: reversed range DEC-JAN (there is no wrap-around)"),
    ("0 0 * * FRI-MON", "day-of-week: reversed range FRI-MON"),
    ("0 0 0 * * * 2020-2019", "year: reversed range 2020-2019"),
    # steps
    ("*/0 * * * *", "minute: step 0 in '*/0' (a step must be 1 or more)"),
    ("0 0 1-10/0 * *", "day-of-month: step 0"),
    ("*/ * * * *", "minute: step '' in '*/' is not a whole number"),
    ("0 */x * * *", "hour: step 'x' in '*/x' is not a whole number"),
    ("0 0 * * MON/-1", "day-of-week: step '-1'"),
    # not numbers, names in the wrong place, empty items
    ("1,,2 * * * *", "minute: empty list item in '1,,2'"),
    ("-5 * * * *", "minute: '-5' is not a number"),
    ("0 0 * FOO *", "month: 'FOO' is not a number or a month name JAN-DEC"),
    ("0 0 * * MONDAY", "day-of-week: 'MONDAY' is not a number or a day name SUN-SAT"),
    ("0 0 MON * *", "day-of-month: 'MON' is not a number"),
    ("0 JAN * * *", "hour: 'JAN' is not a number"),
    ("0 0 * * 1.5", "day-of-week: '1.5' is not a number"),
    ("0 0 0 * * * twenty", "year: 'twenty' is not a number"),
    # forms other crons have and OnExp does not
    ("? * * * *", "minute: '?' is not a number ('?' is not supported"),
    ("0 0 ? * MON", "day-of-month: '?' is not a number ('?' is not supported: use '*')"),
    ("0 0 * * ?", "day-of-week: '?'"),
    ("0 0 * * 5L", "day-of-week: '5L' is not a number or a day name SUN-SAT ('L' is not supported in day-of-week"),
    ("0 0 * * L", "day-of-week: 'L'"),
    ("L * * * *", "minute: 'L' is not a number"),
    ("0 0 * L *", "month: 'L' is not a number"),
    ("0 0 L,15 * *", "day-of-month: 'L' is not a number (L and W forms"),
    ("0 0 15W,1 * *", "day-of-month: '15W' is not a number (L and W forms"),
    ("0 0 W * *", "day-of-month: 'W'"),
    ("0 0 L-5 * *", "day-of-month: 'L'"),
    ("0 0 0L * *", "day-of-month: '0L': 0 is out of range 1-31"),
    ("0 0 32W * *", "day-of-month: '32W': 32 is out of range 1-31"),
    ("0 0 * * FRI#6", "day-of-week: 'FRI#6': the n in DAY#n must be 1-5"),
    ("0 0 * * FRI#0", "day-of-week: 'FRI#0'"),
    ("0 0 * * FRI#", "day-of-week: 'FRI#'"),
    ("0 0 * * MON-FRI#2", "day-of-week: 'MON-FRI#2': '#' takes a single day"),
    ("0 0 * * 8#1", "day-of-week: 8 is out of range 0-7"),
    ("0 0 1#2 * *", "day-of-month: '1#2' is not a number ('#' is only allowed in day-of-week"),
    ("5#1 * * * *", "minute: '5#1'"),
    # the date set
    ("0 0 0 * * * * 20230229", "dates: 20230229 is not a real date"),
    ("0 0 0 * * * * 2024-01-01", "dates: '2024-01-01' is not a date YYYYMMDD"),
    ("0 0 0 * * * * 2024010", "dates: '2024010'"),
    ("0 0 0 * * * * 20240301-20240101", "dates: reversed range 20240301-20240101"),
    ("0 0 0 * * * * 18991231", "dates: 18991231 is out of range (years 1900-2999)"),
    ("0 0 0 * * * * *,20240101", "dates: '*' must be the whole field"),
    ("0 0 0 * * * * 20240101/2", "dates: '20240101/2'"),
    ("0 0 0 * * * * 20240101,,20240102", "dates: '' is not a date"),
]


@pytest.mark.parametrize(("expr", "message"), BAD, ids=[e or "<empty>" for e, _ in BAD])
def test_invalid_expression_names_the_field(expr, message):
    with pytest.raises(ConfigError) as info:
        OnExp(expr)
    assert info.value.message.startswith(message), info.value.message
    assert info.value.path is None  # the config loader places the error at its config path
    assert str(info.value) == info.value.message


def test_every_message_starts_with_a_field_name_or_the_field_count():
    starts = ("second:", "minute:", "hour:", "day-of-month:", "month:", "day-of-week:", "year:", "dates:",
              "expected 5, 6, 7 or 8 fields")
    for expr, _ in BAD:
        with pytest.raises(ConfigError) as info:
            OnExp(expr)
        assert info.value.message.startswith(starts), info.value.message


def test_unknown_timezone():
    with pytest.raises(ConfigError) as info:
        OnExp("0 9 * * *", "Mars/Base")
    assert info.value.message == "unknown timezone 'Mars/Base' (an IANA name such as 'Europe/London' or 'UTC')"
    assert info.value.path is None


@pytest.mark.parametrize(("tz", "hint"), [
    ("Europe/Londn", " (did you mean 'Europe/London'?)"),
    ("america/new_york", " (did you mean 'America/New_York'?)"),
    ("America", ""),        # a directory of the zone database, not a zone
    ("", ""),
    ("../etc/passwd", ""),
    ("/etc/localtime", ""),
    (None, ""),
])
def test_other_bad_timezones(tz, hint):
    with pytest.raises(ConfigError) as info:
        OnExp("0 9 * * *", tz)  # type: ignore[arg-type]
    assert info.value.message.startswith(
        f"unknown timezone {tz!r} (an IANA name such as 'Europe/London' or 'UTC')" + hint)


def test_a_non_string_expression():
    with pytest.raises(ConfigError, match="expected 5, 6, 7 or 8 fields in a string"):
        OnExp(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("expr", [
    "0 0 30 2 *", "0 0 31 4 *", "0 0 0 * * * 1900-2999/999", "0 0 * * MON-SUN", "0 0 * * SUN-SUN",
    "0 0 31L * *", "0 0 31W * *", "0 0 1w * *", "0 0 lw * *", "0 0 * * fri#5", "0 0 0 * * * 2999 29991231",
    "0 0 0 * * * * 19000101-29991231",
])
def test_valid_corner_forms_are_accepted(expr):
    OnExp(expr)
