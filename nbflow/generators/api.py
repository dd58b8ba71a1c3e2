"""Generator state from Python, through a running engine's ``Handle`` (``nbflow.start(...)``).

    from nbflow.generators import api
    api.show(handle, "price.us_close")["state"]["last_fire"]
    print(api.reset(handle, "price.us_close", reason="bad backfill")["message"])

Every function applies the change on the engine's loop and returns once it is committed,
with ``message`` (what was cleared and kept) and the new ``state``.  The same commands go
through ``handle.command({"op": "generator", "action": ..., "name": ...})`` (no answer) and
``nbflow generator ...`` on the command line.
"""

from __future__ import annotations

import getpass
from typing import Any


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return f"python:{getpass.getuser()}"
    except Exception:   # no user name in this environment (a container without passwd entry)
        return "python"


def _run(handle, cmd: dict[str, Any]) -> Any:
    from .ops import answer

    return handle._call(lambda: answer(handle.engine, cmd))


def show(handle, name: str) -> dict[str, Any]:
    """The generator's state document, its triggers, next fire and latest ticks."""
    return _run(handle, {"action": "show", "name": name})


def list_generators(handle) -> list[dict[str, Any]]:
    """Every generator of the running config, as ``show`` without the ticks."""
    return _run(handle, {"action": "list"})


def init(handle, name: str, state: dict[str, Any] | None = None, *, reason: str | None = None,
         actor: str | None = None) -> dict[str, Any]:
    """Set the user fields of the state (default: the config's ``state:``); nothing else changes."""
    return _run(handle, {"action": "init", "name": name, "state": state, "reason": reason,
                         "actor": _actor(actor)})


def reset(handle, name: str, *, reason: str | None = None, actor: str | None = None) -> dict[str, Any]:
    """Back to the initial state: clears last fire, last event, hold and pending fires."""
    return _run(handle, {"action": "reset", "name": name, "reason": reason, "actor": _actor(actor)})


def skip_to_now(handle, name: str, *, reason: str | None = None, actor: str | None = None) -> dict[str, Any]:
    """Forget missed and pending fires: the next fire is the next instant from now."""
    return _run(handle, {"action": "skip-to-now", "name": name, "reason": reason, "actor": _actor(actor)})


def replay(handle, name: str, from_time: str, *, reason: str | None = None,
           actor: str | None = None) -> dict[str, Any]:
    """Fire the timer's instants from ``from_time`` (ISO, or a duration ago like ``10m``) again."""
    return _run(handle, {"action": "replay", "name": name, "from": from_time, "reason": reason,
                         "actor": _actor(actor)})


def pause(handle, name: str, *, reason: str | None = None, actor: str | None = None) -> dict[str, Any]:
    """Hold the generator's fires (per its ``on_hold`` policy) until ``resume``."""
    return _run(handle, {"action": "pause", "name": name, "reason": reason, "actor": _actor(actor)})


def resume(handle, name: str, *, reason: str | None = None, actor: str | None = None) -> dict[str, Any]:
    """Resume a paused generator; the fires it held are released."""
    return _run(handle, {"action": "resume", "name": name, "reason": reason, "actor": _actor(actor)})
