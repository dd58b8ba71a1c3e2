"""Generator commands: show, list, init, reset, skip-to-now, replay, pause, resume.

Each changing command says exactly what it cleared and what it kept (the idempotency keys
included: a reset that "does nothing" because the next instant was already fired is the
classic confusion), appends the new state document with who (``actor``) and why
(``reason``), and remembers the inbox command's id so a replayed inbox file is a no-op.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..errors import ControlError
from .document import GeneratorDoc
from .fires import Fire, epoch_us, fires_from, iso_utc, parse_instant

ACTIONS = ("show", "list", "init", "reset", "skip-to-now", "replay", "pause", "resume")
CHANGING = frozenset(ACTIONS) - {"show", "list"}


def apply_command(svc, cmd: dict[str, Any]) -> dict[str, Any] | list[dict[str, Any]]:
    """Apply one ``{"action": ..., "name": ...}`` command; its answer (a message and the state)."""
    action = cmd.get("action")
    if action not in ACTIONS:
        raise ControlError(f"unknown generator action {action!r}; actions: {', '.join(ACTIONS)}")
    if action == "list":
        return [describe(gen) for gen in svc.gens.values()]
    if not cmd.get("name"):
        raise ControlError(f"generator {action} needs a generator name ([TYPE.]NAME)")
    gen = svc.find(cmd["name"])
    if action == "show":
        return describe(gen)
    command_id = cmd.get("id")
    if command_id and command_id in gen.doc.commands:
        return {**describe(gen), "action": action, "message": f"already applied (command {command_id})"}
    actor, reason = cmd.get("actor") or "user", cmd.get("reason")
    message = _CHANGES[action](svc, gen, cmd, actor, reason)
    if command_id:
        gen.doc.remember_command(command_id)
    svc.save(gen, actor=actor, reason=f"{action}: {reason}" if reason else action)
    return {**describe(gen), "action": action, "message": message}


def apply_queued(svc) -> int:
    """Apply generator commands waiting in the inbox, before catch-up (a queued ``skip-to-now``
    must act on this start's missed fires).  The inbox applies them again later: a no-op, by
    id.  A command that fails here is left for the inbox, which rejects it with its reason."""
    from .. import inbox
    from ..errors import NbflowError

    applied = 0
    for path in inbox.pending(svc.engine.ws):
        try:
            cmd = inbox.read_command(path)
        except (OSError, ValueError):
            continue
        if cmd.get("op") == "generator" and cmd.get("action") in CHANGING:
            try:
                apply_command(svc, cmd)
                applied += 1
            except (NbflowError, KeyError, TypeError, ValueError):
                continue
    return applied


def describe(gen) -> dict[str, Any]:
    """What ``show`` and ``list`` answer for one generator."""
    spec = gen.spec
    return {"name": gen.qname, "event_type": spec.event_type, "generator": spec.name,
            "status": gen.doc.status,
            "on_time": f"{spec.on_time.onexp} ({spec.on_time.timezone})" if spec.on_time else None,
            "subscribe": [str(s) for s in spec.subscribe], "class": spec.class_,
            "hold": spec.hold, "on_hold": spec.on_hold if spec.hold else None,
            "catchup": spec.catchup if spec.on_time else None,
            "next_fire": gen.next_fire.isoformat() if gen.next_fire is not None else None,
            "pending": len(gen.doc.pending), "held_on": gen.doc.held_on,
            "state": gen.doc.to_json()}


def _drop_pending(svc, gen, why: str) -> list[str]:
    dropped = []
    for data in gen.doc.pending:
        fire = Fire.from_json(gen.qname, data)
        svc.tick(gen, fire, "skipped", why)
        dropped.append(fire.text)
    gen.doc.pending = []
    return dropped


def _emitted_count(svc, gen, since_us: int | None = None) -> int:
    sql = ("SELECT count(DISTINCT idempotency_key) FROM generator_ticks WHERE event_type = ? "
           "AND generator = ? AND outcome = 'emitted' AND fire_time IS NOT NULL")
    params: list[Any] = [gen.etype.name, gen.spec.name]
    if since_us is not None:
        sql += " AND epoch_us(fire_time) >= ?"
        params.append(since_us)
    committed = int(svc.engine.query(sql, params).fetchone()[0])
    unwritten = sum(1 for us in gen.recent.values() if since_us is None or us >= since_us)
    return max(committed, unwritten)


def _by(actor: str, reason: str | None) -> str:
    return f"by {actor}" + (f": {reason}" if reason else "")


def _init(svc, gen, cmd, actor, reason) -> str:
    state = cmd.get("state")
    if isinstance(state, str):
        try:
            state = json.loads(state)
        except json.JSONDecodeError as exc:
            raise ControlError(f"init --state is not valid JSON ({exc}): {state!r:.200}") from None
    if state is None:
        state = dict(gen.spec.state)
    if not isinstance(state, dict):
        raise ControlError(f"init --state must be a JSON object such as '{{\"n\": 1}}', got {state!r:.200}")
    old, gen.doc.user = gen.doc.user, json.loads(json.dumps(state, default=str))
    return (f"init {gen.qname}: user state set to {json.dumps(gen.doc.user)} (was {json.dumps(old)}); "
            "cleared nothing else: last_fire, the hold, pending fires and idempotency keys are kept")


def _reset(svc, gen, cmd, actor, reason) -> str:
    old = gen.doc
    dropped = _drop_pending(svc, gen, f"dropped by reset {_by(actor, reason)}")
    svc.unhold(gen)
    keys = _emitted_count(svc, gen)
    gen.doc = GeneratorDoc.initial(dict(gen.spec.state))
    gen.doc.paused, gen.doc.paused_reason = old.paused, old.paused_reason
    gen.doc.cleared, gen.doc.commands = old.cleared, old.commands
    gen.doc.subscribed = old.subscribed   # bookkeeping of evaluated stages, not state to reset
    return (f"reset {gen.qname}: user state back to the config's {json.dumps(gen.doc.user)} "
            f"(was {json.dumps(old.user)}); cleared last_fire ({old.last_fire or 'none'}: fires missed "
            f"before the next start will not be caught up), last_event_key ({old.last_event_key or 'none'}), "
            f"the hold ({'on event ' + old.held_on + ': the next fire emits at once' if old.held_on else 'none'}), "
            f"{len(dropped)} pending fire(s), the emitted count ({old.emitted}); kept: the pause "
            f"({old.status}) and the idempotency keys of {keys} emitted timer fire(s): those instants "
            "never fire again (replay --from TIME clears them)")


def _skip_to_now(svc, gen, cmd, actor, reason) -> str:
    now = datetime.now(UTC)
    dropped = _drop_pending(svc, gen, f"dropped by skip-to-now {_by(actor, reason)}")
    old_last = gen.doc.last_fire
    if gen.schedule is not None:
        gen.doc.last_fire = iso_utc(now)
    hold = f"the hold on event {gen.doc.held_on}" if gen.doc.held_on else "no hold"
    moved = (f"last_fire moved from {old_last or 'none'} to {gen.doc.last_fire}: no fire before now will be "
             "caught up; " if gen.schedule is not None else "")
    return (f"skip-to-now {gen.qname}: forgot {len(dropped)} pending fire(s)"
            + (f" ({', '.join(dropped[:5])}{', ...' if len(dropped) > 5 else ''})" if dropped else "")
            + f"; {moved}kept: {hold}, the user state, and the idempotency keys (none need clearing: "
            "only later instants fire)")


def _replay(svc, gen, cmd, actor, reason) -> str:
    if gen.schedule is None:
        raise ControlError(f"generator {gen.qname} has no on_time timer: replay fires timer instants again; "
                           "emit the events yourself to repeat a subscription")
    if not cmd.get("from"):
        raise ControlError("replay needs --from TIME (an ISO time or a duration ago such as 10m)")
    now = datetime.now(UTC)
    start = parse_instant(str(cmd["from"]), now)
    if start > now:
        raise ControlError(f"replay --from {start.isoformat()} is in the future; give a past instant")
    fires, more = fires_from(gen.schedule, start, now, gen.spec.catchup_limit)
    start_us = epoch_us(start)
    keys = _emitted_count(svc, gen, start_us)
    gen.doc.add_clearing({"from": iso_utc(start), "from_us": start_us, "before_tick": svc.next_tick_id,
                          "at": iso_utc(now), "by": actor, "reason": reason})
    for key in [k for k, us in gen.recent.items() if us >= start_us]:
        del gen.recent[key]
    for t in fires:
        gen.submit(Fire("replay", gen.qname, t), save=False)
    span = f"{fires[0].isoformat()} .. {fires[-1].isoformat()}" if fires else "none"
    policy = f"; hold/pause apply (on_hold: {gen.spec.on_hold})" if gen.spec.hold or gen.doc.paused else ""
    rest = (f"; later fires up to now were not replayed (catchup_limit={gen.spec.catchup_limit})"
            if more else "")
    return (f"replay {gen.qname} from {start.isoformat()}: cleared the idempotency keys of {keys} emitted "
            f"fire(s) at or after it (so they fire again); {len(fires)} instant(s) fire again ({span}){policy}{rest}")


def _pause(svc, gen, cmd, actor, reason) -> str:
    if gen.doc.paused:
        return f"{gen.qname} is already paused ({gen.doc.paused_reason or 'no reason given'})"
    gen.doc.paused, gen.doc.paused_reason = True, reason
    svc.engine.stage(None, None, None, None, "paused", reason, actor=actor, target=f"generator:{gen.qname}")
    policy = "coalesce" if gen.spec.on_hold == "cancel-running" else gen.spec.on_hold
    return f"paused {gen.qname}: its fires are held (on_hold: {policy}) until resume"


def _resume(svc, gen, cmd, actor, reason) -> str:
    if not gen.doc.paused:
        return f"{gen.qname} is not paused"
    gen.doc.paused, gen.doc.paused_reason = False, None
    svc.engine.stage(None, None, None, None, "resumed", reason, actor=actor, target=f"generator:{gen.qname}")
    pending = len(gen.doc.pending)
    gen.release(f"released: generator resumed {_by(actor, reason)}")
    return f"resumed {gen.qname}: {pending - len(gen.doc.pending)} of {pending} held fire(s) released"


_CHANGES = {"init": _init, "reset": _reset, "skip-to-now": _skip_to_now, "replay": _replay,
            "pause": _pause, "resume": _resume}
