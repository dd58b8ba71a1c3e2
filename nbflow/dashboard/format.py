"""Small pure helpers the views share: times and durations as text, time filters from text,
HTML escaping and status colours."""

from __future__ import annotations

import datetime as dt
import html
import re

from ..errors import ValidationError

#: Status -> colour, for badges, DAG nodes and Gantt bars (one palette everywhere).
STATUS_COLORS = {
    "success": "#2e7d32", "failure": "#c62828", "cancelled": "#8e24aa", "skipped": "#9e9e9e",
    "running": "#1565c0", "queued": "#5c6bc0", "ready": "#5c6bc0", "retry_wait": "#ef6c00",
    "waiting": "#bdbdbd", "paused": "#f9a825", "active": "#1565c0", "interrupted": "#ef6c00",
    "none": "#e0e0e0",
}
RUNNER_COLORS = {"cmd": "#546e7a", "python": "#3949ab", "notebook": "#f57c00"}

_RELATIVE = re.compile(r"^-?\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def esc(value: object) -> str:
    """``value`` as HTML-escaped text (``None`` is empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


def color(status: str | None) -> str:
    return STATUS_COLORS.get(status or "none", "#757575")


def badge(status: str | None) -> str:
    """A coloured status label (CSS class ``nbflow-status-<status>`` for tests and styles)."""
    s = status or "none"
    return (f'<span class="nbflow-badge nbflow-status-{esc(s)}" style="background:{color(s)};'
            f'color:#fff;border-radius:3px;padding:0 5px;font-size:90%">{esc(s)}</span>')


def local(t: dt.datetime | None) -> dt.datetime | None:
    """``t`` in the kernel's local time zone (naive times are taken as UTC)."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone()


def fmt_time(t: dt.datetime | None, *, ms: bool = False) -> str:
    """``2026-12-04 16:11:11`` in local time (``.123`` with ``ms``); empty for ``None``."""
    t = local(t)
    if t is None:
        return ""
    text = t.strftime("%Y-%m-%d %H:%M:%S")
    return text + f".{t.microsecond // 1000:03d}" if ms else text


def fmt_duration(seconds: float | None) -> str:
    """``0.25s``, ``12.3s``, ``4m05s``, ``2h03m``; empty for ``None``."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def between(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def parse_time(text: str, *, field: str = "time", now: dt.datetime | None = None) -> dt.datetime | None:
    """A time filter typed by a user: empty -> ``None``; ``-2h``/``30m``/``1d`` -> that long
    ago; an ISO date or date-time (naive means local time) -> that instant (aware).

    Raises ``ValidationError`` naming the field and the accepted forms.
    """
    text = (text or "").strip()
    if not text:
        return None
    now = now or dt.datetime.now(dt.UTC)
    m = _RELATIVE.match(text)
    if m:
        return now - dt.timedelta(seconds=float(m.group(1)) * _UNIT_SECONDS[m.group(2)])
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"{field}: {text!r} is not a time; write an ISO date or time such as 2026-12-04 or "
            f"2026-12-04 16:30, or a time ago such as 30m, 2h, 1d", rule="time") from None
    if value.tzinfo is None:
        value = value.astimezone()     # naive: the kernel's local time
    return value
