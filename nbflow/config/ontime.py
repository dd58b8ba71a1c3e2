"""Timers in config: ``on_time`` of generators and OnExp deadlines, with their IANA timezone.

The OnExp itself is parsed by ``nbflow.onexp`` (imported only when a config has a timer), so
an invalid expression is rejected at load time with the field it names.
"""

from __future__ import annotations

from ..errors import ConfigError, did_you_mean
from ..spec.model import OnTime
from . import yamlnodes as yn
from .yamlnodes import Node, Problems

ON_TIME_KEYS = ("onexp", "timezone")


def build_on_time(at: Node, problems: Problems, what: str = "on_time") -> OnTime | None:
    """``{onexp: "...", timezone: Zone/Name}``; a bare string is the OnExp in UTC."""
    if at.is_scalar:
        expr = at.text
        return OnTime(expr, "UTC") if check_onexp(at, expr, "UTC", problems) else None
    entries = yn.mapping(at, problems, ON_TIME_KEYS, what)
    if entries is None:
        return None
    onexp_at = yn.required(entries, "onexp", at, problems, '{onexp: "0 0 9 * * MON-FRI", timezone: Europe/Paris}')
    expr = yn.text(onexp_at, problems, "onexp") if onexp_at else None
    zone, zone_ok = "UTC", True
    if "timezone" in entries:
        zone = yn.text(entries["timezone"], problems, "timezone")
        zone_ok = zone is not None and check_timezone(entries["timezone"], zone, problems)
    if expr is None or onexp_at is None:
        return None
    # With a bad zone, still check the expression (in UTC) so both mistakes are reported.
    ok = check_onexp(onexp_at, expr, zone if zone_ok else "UTC", problems, entries.get("timezone"))
    return OnTime(expr, zone) if ok and zone_ok else None


def check_timezone(at: Node, zone: str, problems: Problems) -> bool:
    """Whether ``zone`` is an IANA timezone name; records an error with a suggestion if not."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(zone)
        return True
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):   # 'America' is a folder
        pass
    names = zoneinfo.available_timezones()
    same_case = [n for n in names if n.lower() == zone.lower()]
    hint = f" (did you mean {same_case[0]!r}?)" if same_case else did_you_mean(zone, names)
    problems.add(at, f"unknown timezone {zone!r}{hint}; use an IANA name such as UTC, "
                     "Europe/London or America/New_York")
    return False


def check_onexp(at: Node, expr: str, zone: str, problems: Problems, zone_at: Node | None = None) -> bool:
    """Whether ``expr`` is a valid OnExp in ``zone``; records OnExp's own message if not."""
    from ..onexp import OnExp

    try:
        OnExp(expr, zone)
    except ConfigError as exc:
        message = f"{exc.path}: {exc.message}" if exc.path else exc.message
        if message.startswith("unknown timezone") and zone_at is not None:
            problems.add(zone_at, message)
        else:
            problems.add(at, f"{message} (in {expr!r})" if expr not in message else message)
        return False
    return True
