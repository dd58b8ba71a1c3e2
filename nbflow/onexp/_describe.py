"""A short English reading of parsed fields, for ``OnExp.describe()`` and the UI."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ._fields import DAY_NAMES, MONTH_NAMES, DayOfMonth, DayOfWeek, Fields


def describe(f: Fields) -> str:
    """E.g. ``at 14:00:00 on Mon-Fri`` or ``at minute 0,30 of every hour on the last day of the month``."""
    parts = [_time(f)]
    days = [text for text in (_dom(f.day_of_month), _dow(f.day_of_week)) if text]
    if days:
        parts.append(" or ".join(days))  # both restricted: unix OR
    if len(f.month) < 12:
        parts.append("in " + _compact(f.month, lambda m: MONTH_NAMES[m - 1].title()))
    if f.year is not None:
        parts.append("in " + _compact(f.year))
    if f.dates is not None:
        spans = [a.strftime("%Y-%m-%d") + ("" if a == b else " to " + b.strftime("%Y-%m-%d")) for a, b in f.dates]
        parts.append("on " + ", ".join(spans))
    return " ".join(parts)


def _time(f: Fields) -> str:
    if len(f.hour) == len(f.minute) == len(f.second) == 1:
        return f"at {f.hour[0]:02d}:{f.minute[0]:02d}:{f.second[0]:02d}"
    units = [("second", f.second, 60), ("minute", f.minute, 60), ("hour", f.hour, 24)]
    if f.second == (0,):
        units = units[1:]
    words = [f"every {unit}" if len(values) == size else f"{unit} {_compact(values)}" for unit, values, size in units]
    while len(words) > 1 and words[-1].startswith("every") and words[-2].startswith("every"):
        words.pop()  # "every minute of every hour" says no more than "every minute"
    text = " of ".join(words)
    return text if text.startswith("every") else "at " + text


def _dom(dom: DayOfMonth | None) -> str:
    if dom is None:
        return ""
    if dom.days:
        return f"on day {_compact(dom.days)} of the month"
    if dom.from_end == 1:
        return "on the last day of the month"
    if dom.from_end is not None:
        return f"on the {_ordinal(dom.from_end)}-last day of the month"
    if dom.nearest_weekday is not None:
        return f"on the weekday nearest day {dom.nearest_weekday} of the month"
    return "on the last weekday of the month"


def _dow(dow: DayOfWeek | None) -> str:
    if dow is None:
        return ""
    items = [_compact(dow.days, lambda d: DAY_NAMES[d].title())] if dow.days else []
    items += [f"the {_ordinal(n)} {DAY_NAMES[d].title()} of the month" for d, n in dow.nth]
    return "on " + ", ".join(items)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _compact(values: Sequence[int], name: Callable[[int], str] = str) -> str:
    """``1,2,3,7`` as ``1-3,7``: runs of three or more consecutive values become ranges."""
    runs: list[list[int]] = []
    for v in values:
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    out: list[str] = []
    for run in runs:
        if len(run) >= 3:
            out.append(f"{name(run[0])}-{name(run[-1])}")
        else:
            out.extend(name(v) for v in run)
    return ",".join(out)
