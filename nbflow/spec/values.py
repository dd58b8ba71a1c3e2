"""Var types: converting raw values (CLI strings, YAML scalars, Python objects) to typed values."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from ..errors import ValidationError

VAR_TYPES = ("str", "int", "float", "bool", "date", "datetime")

_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float, dt.date)):
        return format_value(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    raise TypeError("expected an integer")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("expected a number, got a boolean")
    result = None
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value)
        except ValueError:
            pass
    if result is None:
        raise TypeError("expected a number")
    if result != result:  # NaN compares false with everything: it would slip past min, max and choices
        raise TypeError("expected a number, got NaN")
    return result


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    raise TypeError("expected a boolean (true/false, yes/no, 1/0)")


def _to_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise TypeError("expected a date, got a datetime")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise TypeError("expected a date as YYYY-MM-DD")


def _to_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        result = value
    elif isinstance(value, dt.date):
        result = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            result = dt.datetime.fromisoformat(text)
        except ValueError:
            raise TypeError("expected a datetime as YYYY-MM-DDTHH:MM[:SS][+HH:MM]") from None
    else:
        raise TypeError("expected a datetime as YYYY-MM-DDTHH:MM[:SS][+HH:MM]")
    # Naive datetimes are read as UTC: one instant for everybody, whatever the machine's zone.
    if result.tzinfo is None:
        result = result.replace(tzinfo=dt.UTC)
    return result


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "str": _to_str,
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "date": _to_date,
    "datetime": _to_datetime,
}


def convert(var_type: str, value: Any, var: str) -> Any:
    """``value`` as a ``var_type`` value, or ``ValidationError`` naming ``var`` and rule ``type``."""
    try:
        return CONVERTERS[var_type](value)
    except TypeError as exc:
        raise ValidationError(
            f"var {var!r}: {exc}, got {value!r}", var=var, rule="type"
        ) from None


def format_value(value: Any) -> str:
    """The canonical text of a value: used by ``str(event)``, env vars and templates."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_json_value(value: Any) -> Any:
    """A JSON-ready form of a typed value (dates as ISO strings)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
