"""When ``nbflow run --until-idle`` may stop: the engine has *settled* — nothing can move on
without someone acting; whatever is still active is held by a pause — and what is left held.

Idle (``Engine.wait_idle``: no active event at all) is stricter: a paused event keeps an
engine from ever being idle, which is what a notebook's ``handle.wait_idle()`` wants and what
a CI job running ``--until-idle`` must not wait for.  These read the engine's live state, on
its loop.
"""

from __future__ import annotations

from typing import Any

from .state import DONE


def can_progress(engine) -> bool:
    """Whether some work can still move on without anyone acting.

    True while a task runs or is queued for a slot; while a task is ready or waits for its
    ``retry_delay`` with nothing pausing it; while the inbox holds commands or is being
    applied, rows wait to be committed, or a service is busy.  False when the engine is
    idle, or when all that is left is held by a pause (type, event, flow, task, a
    generator's held fires): parked ``ready`` tasks, retries that would park, ``waiting``
    tasks behind them, pauses with an ``--until`` time.  Future timer fires and the
    deadlines of held events do not count: they are not work to finish.
    """
    from ..inbox import pending

    if engine._inbox_busy or engine.writer.pending:
        return True
    if any(not getattr(s, "idle", lambda: True)() for s in engine.services):
        return True
    for ev in engine.events.values():
        for fs in ev.flows.values():
            for ts in fs.tasks.values():
                if ts.status in _MOVING:
                    return True
                # A parked task, or a retry that will park when its delay ends, moves only
                # once someone resumes what pauses it.
                if ts.status in _PARKABLE and fs.active and not fs.done \
                        and not engine.is_paused(ev, fs, ts):
                    return True
    return next(iter(pending(engine.ws)), None) is not None


async def wait_settled(engine, settle: float = 0.05) -> None:
    """Return once nothing can progress (``can_progress`` false for two checks ``settle``
    seconds apart).  The caller reads ``held_work()`` right after, with no checkpoint in
    between, to see exactly the state that was found settled."""
    await engine.wait_until(lambda: not can_progress(engine), settle)


def held_work(engine) -> list[dict[str, Any]]:
    """What is left held, for a report once the engine has settled (``wait_settled``).

    One dict per item: ``target`` (``type:T``, ``event:KEY[/FLOW[.TASK]]``,
    ``generator:TYPE.NAME``); ``label`` (the event's, else ``None``); ``paused`` (True when
    the target itself is paused, with ``actor``, ``reason`` and ``until``: the ISO end of a
    ``pause --until``, else ``None``); ``held_by`` (the target whose pause or hold keeps it
    waiting, when it is not paused itself); ``holds`` (what waits, in words) and ``work``
    (True when something left undone waits: an active event or a held generator fire; a
    pause that holds nothing is listed with False).  An active event that nothing explains
    is listed too (``paused`` False, ``held_by`` None), so nothing left behind goes unsaid.
    """
    out: list[dict[str, Any]] = []
    by_type: dict[str, int] = {}
    for ev in engine.events.values():
        by_type[ev.etype.name] = by_type.get(ev.etype.name, 0) + 1
    for name, reason in engine.paused_types.items():
        n = by_type.get(name, 0)
        out.append(_paused(engine.pauses.entries.get(f"type:{name}"), f"type:{name}", None,
                           f"{n} active event(s) of type {name}", n > 0, reason))
    for ev in engine.events.values():
        found = len(out)
        if ev.paused:
            info = engine.pauses.info(ev) or {}
            if str(info.get("target", "")).startswith("type:"):
                out.append(_held(f"event:{ev.key}", ev.label, info["target"], "the event"))
            else:
                out.append(_paused(info, f"event:{ev.key}", ev.label, "the event", True))
        for fs in ev.flows.values():
            if fs.paused and fs.active and not fs.done:
                out.append(_paused(engine.pauses.info(ev, fs), f"event:{ev.key}/{fs.flow.name}",
                                   ev.label, f"flow {fs.flow.name}", True))
            for ts in fs.tasks.values():
                if ts.paused and ts.status not in DONE:   # a finished task holds nothing
                    out.append(_paused(engine.pauses.info(ev, fs, ts),
                                       f"event:{ev.key}/{fs.flow.name}.{ts.name}", ev.label,
                                       f"task {fs.flow.name}.{ts.name} ({ts.status})", True))
        if len(out) == found:
            out.append(_held(f"event:{ev.key}", ev.label, None, "the event (no pause holds it)"))
    svc = getattr(engine, "generators", None)
    for gen in (svc.gens.values() if svc is not None else ()):
        n = len(gen.doc.pending)
        target = f"generator:{gen.qname}"
        if gen.doc.paused:
            out.append(_paused(None, target, None, f"{n} fire(s)", n > 0, gen.doc.paused_reason))
        elif n:
            out.append(_held(target, None, f"event:{gen.doc.held_on}",
                             f"{n} fire(s) (hold: {gen.spec.hold})"))
    return out


#: Task statuses that move on by themselves, paused or not: a run ends, a queued task gets a
#: slot (and parks at once if paused); ``interrupted``: the engine is stopping.
_MOVING = frozenset({"queued", "running", "interrupted"})
#: Statuses that move on unless a pause holds them: a ready task starts, a retry's delay ends.
_PARKABLE = frozenset({"ready", "retry_wait"})


def _paused(info, target: str, label: str | None, holds: str, work: bool,
            reason: str | None = None) -> dict[str, Any]:
    """A ``held_work`` entry for a paused target, from its ``Pause`` (or ``PauseBook.info``)."""
    info = info.as_dict() if hasattr(info, "as_dict") else (info or {})
    return {"target": target, "label": label, "paused": True, "held_by": None,
            "reason": info.get("reason", reason), "actor": info.get("actor"),
            "until": info.get("until"), "holds": holds, "work": work}


def _held(target: str, label: str | None, held_by: str | None, holds: str) -> dict[str, Any]:
    """A ``held_work`` entry for work that waits on another target's pause or hold."""
    return {"target": target, "label": label, "paused": False, "held_by": held_by,
            "reason": None, "actor": None, "until": None, "holds": holds, "work": True}
