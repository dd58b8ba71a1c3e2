"""The OnExp grammar: text to ``Fields``, or a ``ConfigError`` whose message starts with the field name.

Every message names the field first (``day-of-month: 32 is out of range 1-31``) so the config
loader can place it under the expression's config path and the user sees which field is wrong.
"""

from __future__ import annotations

import re
from datetime import date

from ..errors import ConfigError
from ._fields import (
    BOUNDS,
    DAY_NAMES,
    FIELD_NAMES,
    FIRST_YEAR,
    LAST_YEAR,
    MONTH_NAMES,
    DayOfMonth,
    DayOfWeek,
    Fields,
)

_NAMES = {
    "month": {name: i + 1 for i, name in enumerate(MONTH_NAMES)},
    "day-of-week": {name: i for i, name in enumerate(DAY_NAMES)},
}
_NAME_HINT = {"month": " or a month name JAN-DEC", "day-of-week": " or a day name SUN-SAT"}
_DIGITS = re.compile(r"[0-9]+")
_DOM_SPECIAL = re.compile(r"(?:([0-9]+)([LW])|L|LW)")
_DATE_ITEM = re.compile(r"([0-9]{8})(?:-([0-9]{8}))?")


def parse(expr: str) -> Fields:
    """Parse a whitespace-separated OnExp of 5, 6, 7 or 8 fields."""
    parts = expr.split()
    if len(parts) not in (5, 6, 7, 8):
        hint = ""
        if parts and parts[0].startswith("@"):
            hint = f" ({parts[0]!r}: '@' shortcuts are not supported; write the fields, e.g. '0 0 * * *')"
        raise ConfigError(f"expected 5, 6, 7 or 8 fields, got {len(parts)}{hint}")
    if len(parts) == 5:
        parts = ["0", *parts]
    texts = dict(zip(FIELD_NAMES, parts, strict=False))  # 6 or 7 fields leave year, dates out
    dom, dow = texts["day-of-month"], texts["day-of-week"]
    return Fields(
        second=_numbers("second", texts["second"]),
        minute=_numbers("minute", texts["minute"]),
        hour=_numbers("hour", texts["hour"]),
        day_of_month=None if dom == "*" else _day_of_month(dom),
        month=_numbers("month", texts["month"]),
        day_of_week=None if dow == "*" else _day_of_week(dow),
        year=None if texts.get("year", "*") == "*" else _numbers("year", texts["year"]),
        dates=None if texts.get("dates", "*") == "*" else _dates(texts["dates"]),
        # Debian cron's rule, on the text as written; '/15' is shorthand for '*/15'.
        fixed_time=not any(texts[f].startswith(("*", "/")) for f in ("minute", "hour")),
    )


def _numbers(field: str, text: str) -> tuple[int, ...]:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_item(field, item, text))
    return tuple(sorted(values))


def _item(field: str, item: str, text: str) -> range:
    """One list item: ``*``, ``a``, ``a-b``, each optionally ``/n``; ``/n`` alone means ``*/n``."""
    if item == "":
        raise ConfigError(f"{field}: empty list item in {text!r}")
    lo, hi = BOUNDS[field]
    base, slash, step_text = item.partition("/")
    step = _step(field, item, step_text) if slash else 1
    if base in ("*", ""):
        return range(lo, hi + 1, step)
    if "-" in base:
        first, _, last = base.partition("-")
        start = _value(field, first, item)
        end = _value(field, last, item)
        if field == "day-of-week" and last.upper() == "SUN" and start > 0:
            end = 7  # MON-SUN reads as Monday to Sunday, not as a reversed range
        if end < start:
            raise ConfigError(f"{field}: reversed range {base} (there is no wrap-around)")
        return range(start, end + 1, step)
    start = _value(field, base, item)
    return range(start, hi + 1 if slash else start + 1, step)


def _step(field: str, item: str, text: str) -> int:
    if not _DIGITS.fullmatch(text):
        raise ConfigError(f"{field}: step {text!r} in {item!r} is not a whole number")
    if int(text) == 0:
        raise ConfigError(f"{field}: step 0 in {item!r} (a step must be 1 or more)")
    return int(text)


def _value(field: str, text: str, item: str) -> int:
    names = _NAMES.get(field, {})
    if text.upper() in names:
        return names[text.upper()]
    if not _DIGITS.fullmatch(text):
        raise ConfigError(f"{field}: {text or item!r} is not a number{_NAME_HINT.get(field, '')}{_why_not(field, text)}")
    lo, hi = BOUNDS[field]
    value = int(text)
    if not lo <= value <= hi:
        raise ConfigError(f"{field}: {value} is out of range {lo}-{hi}")
    return value


def _why_not(field: str, text: str) -> str:
    """A hint for forms other crons accept and OnExp does not."""
    upper = text.upper()
    if "?" in upper:
        return " ('?' is not supported: use '*')"
    if field == "day-of-month" and re.fullmatch(r"[0-9]*[LW]|LW", upper):
        return " (L and W forms such as 'L', '2L', '15W', 'LW' must be the whole field)"
    if field == "day-of-week" and "L" in upper:
        return " ('L' is not supported in day-of-week: use DAY#n, e.g. FRI#5, or 'L' in day-of-month)"
    if "#" in upper:
        return " ('#' is only allowed in day-of-week, as DAY#n)"
    return ""


def _day_of_month(text: str) -> DayOfMonth:
    special = _DOM_SPECIAL.fullmatch(text.upper())
    if special is None:
        return DayOfMonth(days=_numbers("day-of-month", text))
    if special.group(0) == "L":
        return DayOfMonth(from_end=1)
    if special.group(0) == "LW":
        return DayOfMonth(last_weekday=True)
    n = int(special.group(1))
    if not 1 <= n <= 31:
        raise ConfigError(f"day-of-month: {text!r}: {n} is out of range 1-31")
    return DayOfMonth(from_end=n) if special.group(2) == "L" else DayOfMonth(nearest_weekday=n)


def _day_of_week(text: str) -> DayOfWeek:
    days: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in text.split(","):
        if "#" not in item:
            days.update(v % 7 for v in _item("day-of-week", item, text))
            continue
        day, _, n = item.partition("#")
        if any(c in day for c in "-/*"):
            raise ConfigError(f"day-of-week: {item!r}: '#' takes a single day, e.g. FRI#3")
        weekday = _value("day-of-week", day, item) % 7
        if not (_DIGITS.fullmatch(n) and 1 <= int(n) <= 5):
            raise ConfigError(f"day-of-week: {item!r}: the n in DAY#n must be 1-5")
        nth.add((weekday, int(n)))
    return DayOfWeek(days=tuple(sorted(days)), nth=tuple(sorted(nth)))


def _dates(text: str) -> tuple[tuple[date, date], ...]:
    ranges: list[tuple[date, date]] = []
    for item in text.split(","):
        match = _DATE_ITEM.fullmatch(item)
        if match is None:
            if item == "*":
                raise ConfigError(f"dates: '*' must be the whole field, got {text!r}")
            raise ConfigError(f"dates: {item!r} is not a date YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
        first = _date(match.group(1))
        last = _date(match.group(2)) if match.group(2) else first
        if last < first:
            raise ConfigError(f"dates: reversed range {item} (there is no wrap-around)")
        ranges.append((first, last))
    ranges.sort()
    merged = [ranges[0]]
    for first, last in ranges[1:]:
        if first.toordinal() <= merged[-1][1].toordinal() + 1:  # overlapping or adjacent
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return tuple(merged)


def _date(text: str) -> date:
    try:
        day = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise ConfigError(f"dates: {text} is not a real date") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ConfigError(f"dates: {text} is out of range (years {FIRST_YEAR}-{LAST_YEAR})")
    return day
