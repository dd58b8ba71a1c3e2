"""Pause and resume at type, event, flow and task level.

Nothing new starts inside a paused target (``Engine.is_paused`` parks ready tasks); running
tasks finish unless ``cancel_running`` asks to cancel them (they are queued again and start
anew on resume).  A paused type holds its active events and its new ones (accepted, marked
paused).  The pause book records why, and ends ``--until`` pauses on time.
"""

from __future__ import annotations

from typing import Any

from ..engine.state import DONE
from ..errors import ControlError
from ..store.writer import now_us
from .checks import Change, check_open, finished, paused_by, planner
from .command import Request
from .ending import Actor, requeue_running
from .pauses import Pause, format_detail
from .scope import Scope


@planner("pause")
def _pause(engine, req: Request, scope: Scope) -> Change:
    t = req.target
    if t.kind == "type":
        if t.name in engine.paused_types:
            raise ControlError(f"type {t.name} is already paused{paused_by(engine, str(t))}")
        return lambda who, interrupted: _pause_type(engine, who, interrupted)
    check_open(scope, "nothing can start in it any more")
    ev, fs, ts = scope.ev, scope.fs, scope.ts
    if ts is not None and ts.status in DONE:
        raise ControlError(f"{scope.describe()} has finished ({ts.status}): nothing can start in it")
    holder = ts if ts is not None else fs if fs is not None else ev
    if holder.paused:
        why = paused_by(engine, str(t))
        if not why and ts is None and fs is None and ev.etype.name in engine.paused_types:
            why = f" (held by the pause of its type: type:{ev.etype.name})"
        raise ControlError(f"{scope.describe()} is already paused{why}")

    def change(who: Actor, interrupted: list) -> dict[str, Any]:
        holder.paused = True
        who.stage(ev, fs, ts, None, "paused", format_detail(req.reason, req.until_us))
        engine.pauses.add(Pause(str(t), req.reason, req.actor, now_us(), req.until_us))
        if req.cancel_running:
            for f, s in scope.remaining():
                if s.status == "running":
                    requeue_running(who, ev, f, s, interrupted)
        return {"summary": f"paused {scope.describe()}"}

    return change


def _pause_type(engine, who: Actor, interrupted: list) -> dict[str, Any]:
    req, name = who.req, who.req.target.name
    engine.paused_types[name] = req.reason
    who.stage(None, None, None, None, "paused", format_detail(req.reason, req.until_us))
    engine.pauses.add(Pause(str(req.target), req.reason, req.actor, now_us(), req.until_us))
    held = [ev for ev in engine.events.values() if ev.etype.name == name]
    for ev in held:
        if not ev.paused:
            ev.paused = True
            who.stage(ev, None, None, None, "paused", f"type {name} is paused")
        if req.cancel_running:
            for fs in ev.flows.values():
                for ts in fs.tasks.values():
                    if ts.status == "running":
                        requeue_running(who, ev, fs, ts, interrupted)
    return {"summary": f"paused type {name}: new events wait; {len(held)} active event(s) held"}


@planner("resume")
def _resume(engine, req: Request, scope: Scope) -> Change:
    t = req.target
    if t.kind == "type":
        if t.name not in engine.paused_types:
            raise ControlError(f"type {t.name} is not paused")
        return lambda who, interrupted: _resume_type(engine, who)
    ev, fs, ts = scope.ev, scope.fs, scope.ts
    if fs is None and not scope.live:
        raise finished(scope, "nothing to resume")
    holder = ts if ts is not None else fs if fs is not None else ev
    if not holder.paused:
        raise ControlError(f"{scope.describe()} is not paused")
    if holder is ev and str(t) not in engine.pauses.entries and ev.etype.name in engine.paused_types:
        raise ControlError(f"{scope.describe()} is held by the pause of its type: resume "
                           f"type:{ev.etype.name}")

    def change(who: Actor, interrupted: list) -> dict[str, Any]:
        holder.paused = False
        who.stage(ev, fs, ts, None, "resumed", req.reason)
        engine.pauses.drop(str(t))
        type_name = ev.etype.name
        if holder is ev and type_name in engine.paused_types:
            # its own pause ends, its type's goes on: held like the type's other events
            ev.paused = True
            engine.stage(ev.key, None, None, None, "paused", f"type {type_name} is paused",
                         target=f"type:{type_name}")
            return {"summary": f"resumed {scope.describe()}; still held: type {type_name} is paused"}
        if scope.live:
            engine.resume_ready()
        return {"summary": f"resumed {scope.describe()}"}

    return change


def _resume_type(engine, who: Actor) -> dict[str, Any]:
    name, target = who.req.target.name, str(who.req.target)
    del engine.paused_types[name]
    who.stage(None, None, None, None, "resumed", who.reason)
    engine.pauses.drop(target)
    released = 0
    for ev in list(engine.events.values()):
        if ev.etype.name == name and ev.paused and f"event:{ev.key}" not in engine.pauses.entries:
            ev.paused = False
            who.stage(ev, None, None, None, "resumed", f"type {name} resumed")
            released += 1
    engine.resume_ready()
    return {"summary": f"resumed type {name}: {released} held event(s) go on"}
