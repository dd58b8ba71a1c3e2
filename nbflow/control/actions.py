"""The engine side of control actions: ``apply`` a command, registered for every op with the
inbox commands (so the inbox, the socket and the Python handle all reach it).

Every action first checks that it applies to its target in its current state - a
``ControlError`` says why not, and nothing changed - then makes all its changes at once on
the engine's loop, each a stage row with the actor, the reason and the target.  An action that
cancels running processes answers once they are gone.  Pause and resume live in ``pausing``,
retry, skip and cancel in ``reruns``; clone and the generator delegation here.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..engine.commands import handler
from ..errors import ControlError, UnknownNameError
from . import pausing as _pausing  # noqa: F401  (registers its planners)
from . import reruns as _reruns  # noqa: F401  (registers its planners)
from .checks import PLANNERS, Change, planner
from .command import OPS, Request
from .ending import Actor, settle
from .scope import Scope, resolve


async def apply(engine, cmd: dict[str, Any]) -> dict[str, Any]:
    """Check ``cmd`` against the state of its target, then apply it; a summary of what changed."""
    req = Request.of(cmd)
    if req.target.kind == "generator":
        return await _generator(engine, req)
    scope = await resolve(engine, req.target)
    change = PLANNERS[req.op](engine, req, scope)      # raises ControlError; changes nothing
    interrupted: list = []
    result = {"op": req.op, "target": str(req.target), "actor": req.actor, "reason": req.reason,
              **change(Actor(engine, req), interrupted)}
    if interrupted:
        left = await settle(engine, interrupted, engine.config.engine.kill_grace + 10.0)
        if left:
            result["still_running"] = [ts.name for ts in left]
    return result


for _op in OPS:
    handler(_op)(apply)


# -- clone --------------------------------------------------------------------------------------
@planner("clone")
def _clone(engine, req: Request, scope: Scope) -> Change:
    t = req.target
    if t.kind != "event" or t.flow is not None:
        raise ControlError(f"clone applies to events (clone event:KEY makes a new event with its "
                           f"values), not to {t}")
    ev = scope.ev
    if req.command_id:   # an inbox command replayed after a crash: its clone exists already
        row = engine.query("SELECT event_key FROM event_log WHERE command_id = ?",
                           [req.command_id]).fetchone()
        if row is not None:
            return lambda who, interrupted: {"summary": f"already cloned as {row[0]}",
                                             "event_key": row[0]}
    cause = f"clone of {ev.key} by {req.actor}" + (f": {req.reason}" if req.reason else "")

    def change(who: Actor, interrupted: list) -> dict[str, Any]:
        key, _ = engine.create_event(ev.etype, dict(ev.values), source="user", cause=cause,
                                     command_id=req.command_id, validated=True)
        return {"summary": f"cloned {scope.describe()} as {key}", "event_key": key}

    return change


# -- generators (delegated to the generator service) --------------------------------------------
def generator_service(engine) -> Any:
    """The service that owns generator state (``engine.generators``: ``pause``, ``resume``,
    ``find``), if this engine runs one."""
    service = getattr(engine, "generators", None)
    if callable(getattr(service, "pause", None)) and callable(getattr(service, "resume", None)):
        return service
    return None


async def _generator(engine, req: Request) -> dict[str, Any]:
    t = req.target
    if req.op not in ("pause", "resume"):
        raise ControlError(f"{req.op} does not apply to generators: they take pause and resume "
                           f"(and `nbflow generator ...` for their state)")
    if req.until_us is not None or req.cancel_running:
        raise ControlError("pause of a generator takes no --until or --cancel-running")
    try:
        spec = engine.config.find_generator(f"{t.event_type}.{t.name}" if t.event_type else t.name)
    except UnknownNameError as exc:
        raise ControlError(str(exc)) from None
    service = generator_service(engine)
    if service is None:
        raise ControlError(f"{req.op} of generator {spec.qualified_name} needs the generator "
                           f"service, which this engine does not run")
    # Refuse what does not apply before the service records anything (it answers a repeated
    # pause with a message; a control action is refused instead).
    doc = getattr(service.find(spec.qualified_name), "doc", None) if hasattr(service, "find") else None
    paused = getattr(doc, "paused", None)
    if req.op == "pause" and paused is True:
        why = getattr(doc, "paused_reason", None)
        raise ControlError(f"generator {spec.qualified_name} is already paused"
                           + (f" ({why})" if why else ""))
    if req.op == "resume" and paused is False:
        raise ControlError(f"generator {spec.qualified_name} is not paused")
    answer = getattr(service, req.op)(spec.qualified_name, req.reason, req.actor)
    if inspect.isawaitable(answer):
        answer = await answer
    message = answer.get("message") if isinstance(answer, dict) else None
    return {"op": req.op, "target": f"generator:{spec.qualified_name}", "actor": req.actor,
            "reason": req.reason, "summary": message or f"{req.op}d generator {spec.qualified_name}"}
