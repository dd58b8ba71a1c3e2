"""Control commands as dicts (the format the CLI, the Python handle and the dashboard share).

``{"op": "pause"|"resume"|"retry"|"skip"|"cancel"|"clone", "target": "...", "reason": str|None,
"actor": str|None, "tree": bool, "cancel_running": bool, "until": ISO time|None}``.
``make_command`` builds and checks one on the caller's side; ``Request.of`` reads one on the
engine's side.  Light: no trio, no duckdb.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import ConfigError, ControlError
from .targets import Target, parse_target

OPS = ("pause", "resume", "retry", "skip", "cancel", "clone")


def parse_until(text: str, now: datetime | None = None) -> str:
    """An absolute ISO time (with its UTC offset) for ``--until``.

    Takes an ISO date-time (``2026-05-01T17:30``, local time unless it has an offset), a time
    of day (``17:30``: the next one to come) or a duration from now (``30m``, ``2h``, ``90s``).
    """
    from ..durations import parse_duration

    now = now or datetime.now().astimezone()
    raw = text.strip()
    if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", raw):
        parts = [int(p) for p in raw.split(":")] + [0]
        if parts[0] > 23 or parts[1] > 59 or parts[2] > 59:
            raise ControlError(f"--until {text!r}: not a time of day")
        at = now.replace(hour=parts[0], minute=parts[1], second=parts[2], microsecond=0)
        if at <= now:
            at += timedelta(days=1)
        return at.isoformat()
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        try:
            return (now + timedelta(seconds=parse_duration(raw))).isoformat()
        except ConfigError:
            raise ControlError(
                f"--until {text!r}: expected an ISO time (2026-05-01T17:30), a time of day "
                f"(17:30) or a duration from now (30m, 2h)") from None
    if at.tzinfo is None:
        at = at.astimezone()   # a naive time is the local wall clock
    return at.isoformat()


def make_command(op: str, target: str | Target, *, reason: str | None = None,
                 actor: str | None = None, tree: bool = False, cancel_running: bool = False,
                 until: str | datetime | None = None) -> dict[str, Any]:
    """A checked command dict; ``ControlError`` for a bad target, option or time."""
    if op not in OPS:
        raise ControlError(f"unknown control action {op!r}; actions: {', '.join(OPS)}")
    parsed = parse_target(target)
    if tree and op != "retry":
        raise ControlError(f"--tree goes with retry, not {op}")
    if (cancel_running or until) and op != "pause":
        raise ControlError(f"--cancel-running and --until go with pause, not {op}")
    if isinstance(until, datetime):
        until = (until if until.tzinfo else until.astimezone()).isoformat()
    elif until is not None:
        until = parse_until(until)
    return {"op": op, "target": str(parsed), "reason": reason or None, "actor": actor,
            "tree": bool(tree), "cancel_running": bool(cancel_running), "until": until}


@dataclass(frozen=True)
class Request:
    """A control command as the engine reads it."""

    op: str
    target: Target
    reason: str | None
    actor: str
    tree: bool = False
    cancel_running: bool = False
    until_us: int | None = None
    command_id: str | None = None

    @classmethod
    def of(cls, cmd: dict[str, Any]) -> Request:
        """Read ``cmd``; ``ControlError`` naming the bad field."""
        op = cmd.get("op")
        if op not in OPS:
            raise ControlError(f"unknown control action {op!r}; actions: {', '.join(OPS)}")
        reason = cmd.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ControlError(f"reason must be text, got {reason!r}")
        until_us = None
        if cmd.get("until"):
            if op != "pause":
                raise ControlError(f"until goes with pause, not {op}")
            try:
                at = datetime.fromisoformat(str(cmd["until"]))
            except ValueError:
                raise ControlError(f"until {cmd['until']!r} is not an ISO time") from None
            at = at if at.tzinfo else at.astimezone()   # a naive time is local
            until_us = int(at.timestamp() * 1_000_000)
            if until_us <= time.time_ns() // 1000:
                raise ControlError(f"until {cmd['until']} is in the past")
        return cls(op, parse_target(cmd.get("target")), reason or None,
                   str(cmd.get("actor") or "user"), bool(cmd.get("tree")),
                   bool(cmd.get("cancel_running")), until_us, cmd.get("id"))
