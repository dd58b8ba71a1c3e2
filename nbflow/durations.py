"""Durations in config: a number of seconds, or a string such as ``500ms``, ``30s``, ``5m``, ``1h``."""

from __future__ import annotations

import re

from .errors import ConfigError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(value: object) -> float:
    """Seconds in ``value``: ``30``, ``1.5``, ``"500ms"``, ``"30s"``, ``"1h30m"``.

    Raises ``ConfigError`` for negative numbers, booleans and strings of another shape.
    """
    if isinstance(value, bool):
        raise ConfigError(f"expected a duration such as 30, '500ms', '5m' or '1h', got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ConfigError(f"a duration must not be negative, got {value!r}")
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return float(text)
        pos, total = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos == len(text) and text:
            return total
    raise ConfigError(
        f"expected a duration such as 30, '500ms', '30s', '5m', '1h' or '1h30m', got {value!r}"
    )


def format_duration(seconds: float) -> str:
    """A short human form: ``0.5s``, ``30s``, ``5m``, ``1h30m``."""
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    out = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{sec}s" if sec else "")
    return out or "0s"
