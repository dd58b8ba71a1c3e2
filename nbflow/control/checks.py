"""The planner registry and the checks control actions share.

A planner reads the target's state and either raises ``ControlError`` (nothing changed) or
returns the change to make: ``change(actor, interrupted) -> summary dict``, run at once on the
engine's loop with no wait in between.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ControlError
from .command import Request
from .ending import Actor
from .scope import Scope

Change = Callable[[Actor, list], dict[str, Any]]
PLANNERS: dict[str, Callable[[Any, Request, Scope], Change]] = {}


def planner(op: str):
    """Register the planner of ``op``."""
    def register(fn):
        PLANNERS[op] = fn
        return fn

    return register


def events_only(req: Request) -> None:
    """Refuse a type or generator target for an action that works inside events."""
    if req.target.kind != "event":
        raise ControlError(f"{req.op} applies to events, flows and tasks (event:KEY[/FLOW[.TASK]]), "
                           f"not to {req.target}")


def finished(scope: Scope, what: str) -> ControlError:
    return ControlError(f"{scope.describe()} has finished ({scope.outcome()}): {what}")


def check_open(scope: Scope, what: str) -> None:
    """Refuse an action that needs the event (and the flow named) not to have finished."""
    if not scope.live:
        raise finished(scope, what)
    if scope.fs is not None and scope.fs.done and scope.ts is None:
        raise ControlError(f"{scope.describe()} has finished ({scope.fs.outcome()}): {what}")
    check_started(scope)


def check_started(scope: Scope) -> None:
    if scope.fs is not None and not scope.fs.active:
        raise ControlError(f"{scope.describe()} has not started (it runs when the event is late)")


def paused_by(engine, target: str) -> str:
    """`` (by ACTOR: REASON)`` for an explicit pause of ``target``, else ``''``."""
    entry = engine.pauses.entries.get(target)
    if entry is None:
        return ""
    return f" (by {entry.actor}" + (f": {entry.reason})" if entry.reason else ")")
