"""Engine start for generators: load state, restore holds, catch up missed timer fires.

What a restart must get right: each generator continues from the state it last committed;
a hold on an event that reached its action while no engine ran is released; instants missed
while down follow the generator's ``catchup`` policy; and the latest emitted instant per
generator is read from the tick log, so no instant is emitted twice.  (Stages whose
subscription fires a crash cut off are found by ``missed.py``, from the mark read here.)
"""

from __future__ import annotations

import json
from datetime import datetime

from .fires import Fire, iso_utc, missed_fires


def load(svc) -> None:
    """Each generator's latest state, its latest emitted instant, the next tick id, and the
    stage mark of subscriptions (``svc.stage_mark``, the highest of every stored state)."""
    from .document import GeneratorDoc

    con = svc.engine.con
    stored = {(t, n): (s, u) for t, n, s, u in con.execute(
        "SELECT event_type, name, state, epoch_us(updated_at) FROM generators").fetchall()}
    high = {(t, n): int(u) for t, n, u in con.execute(
        """SELECT event_type, generator, epoch_us(max(fire_time)) FROM generator_ticks
           WHERE outcome = 'emitted' AND fire_time IS NOT NULL GROUP BY event_type, generator""").fetchall()}
    svc._next_tick_id = int(con.execute(
        "SELECT coalesce(max(tick_id), 0) FROM generator_ticks").fetchone()[0]) + 1
    docs = {key: GeneratorDoc.from_json(json.loads(text)) for key, (text, _) in stored.items()}
    # Generators left out of this config count too: their marks are as valid (missed.py).
    marks = [d.subscribed for d in docs.values() if d.subscribed is not None]
    if marks:
        svc.stage_mark = (max(m["through_stage"] for m in marks), max(m["next_tick"] for m in marks))
    for gen in svc.gens.values():
        key = (gen.etype.name, gen.spec.name)
        gen.high_water_us = high.get(key, 0)
        if key in stored:
            gen.doc = docs[key]
            gen.updated_us = int(stored[key][1])
        else:
            svc.save(gen, reason="initial state from the config")


def restore_holds(svc) -> None:
    """Holds on events that reached their action while no engine ran are released."""
    held = {g.doc.held_on: g for g in svc.gens.values() if g.doc.held_on}
    if not held:
        return
    placeholders = ", ".join("?" for _ in held)
    rows = svc.engine.query(
        f"""SELECT event_key, flow, task, action FROM stages
            WHERE task IS NULL AND event_key IN ({placeholders}) ORDER BY stage_id""",
        list(held)).fetchall()
    reached = set()
    for key, flow, task, action in rows:
        row = _Row(key, flow, task, action)
        if held[key].hold_reached(row):
            reached.add(key)
    for key, gen in held.items():
        if gen.spec.hold is None or key in reached or not any(r[0] == key for r in rows):
            gen.doc.held_on = None
            svc.save(gen, reason=f"hold released at start: event {key} reached "
                                 f"{gen.spec.hold or 'its end'} (or is unknown)")
        else:
            svc.hold(gen, key)


def catch_up_missed(svc, gen, now: datetime) -> None:
    """Missed fires between the last fire recorded in state and now, per ``catchup``."""
    if gen.doc.last_fire is None:
        return   # never fired (or reset): nothing was missed
    after = datetime.fromisoformat(gen.doc.last_fire)
    keep = {"all": gen.spec.catchup_limit, "latest": 2}.get(gen.spec.catchup, 1)
    kept, count, exact = missed_fires(gen.schedule, after, now, keep)
    if kept:
        catch_up(svc, gen, kept, count, exact, "while the engine was down", gen.spec.catchup)


def catch_up(svc, gen, kept: list[datetime], count: int, exact: bool, when: str, policy: str) -> None:
    """Fire or skip, per ``policy``, missed fires: ``kept`` are the latest of ``count``."""
    fired = kept if policy == "all" else kept[-1:] if policy == "latest" else []
    dropped = count - len(fired)
    if dropped > 0:
        first = gen.schedule.next(datetime.fromisoformat(gen.doc.last_fire)) if gen.doc.last_fire else None
        unfired = kept[: len(kept) - len(fired)]
        span = (f" from {first.isoformat()}" if first is not None else "") + \
            (f" to {unfired[-1].isoformat()}" if unfired else "")
        many = f"{dropped}" if exact else f"more than {dropped}"
        why = {"none": "catchup: none fires none of them",
               "latest": "catchup: latest fires only the latest",
               "all": f"catchup: all fires at most catchup_limit={gen.spec.catchup_limit}, the latest"}
        summary = Fire("catchup", gen.qname, unfired[-1] if unfired else None)
        svc.tick(gen, summary, "skipped", f"{many} fire(s) missed {when}{span} not fired: {why[policy]}",
                 idempotency=False)
        if unfired:
            gen.doc.last_fire = max(gen.doc.last_fire or "", iso_utc(unfired[-1]))
    for t in fired:
        gen.submit(Fire("catchup", gen.qname, t), save=False)
    svc.save(gen, reason=f"catch-up {when}: {len(fired)} fire(s), {max(dropped, 0)} not fired")


class _Row:
    """The fields of a stage row ``hold_reached`` reads, for rows read back from history."""

    def __init__(self, event_key, flow, task, action) -> None:
        self.event_key, self.flow, self.task, self.action = event_key, flow, task, action
