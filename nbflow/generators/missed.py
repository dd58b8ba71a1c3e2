"""Subscription fires a crash cut off: stages recorded, never evaluated; evaluated at start.

A stage row and what the subscriptions it triggers produce (the emitted event, the
``generator_ticks`` row, the state row) are committed by different ticks of the history
writer, up to ~50 ms apart: an engine killed in between leaves the stage with no fire.  At
start, before the timers catch up, this module finds those stages and evaluates them, once.

Where the scan starts.  Each subscribed generator's state document holds a record
``subscribed: {"patterns": [...], "through_stage": S, "next_tick": T}``: with those patterns,
every stage up to ``S`` has been evaluated, and the evaluation of any later stage gets a tick
id of at least ``T``.  It rides on saves the generator makes anyway: each evaluated fire
raises it (saved in the same commit as the fire's tick), and each engine start sets ``S`` to
the last stage of the runs before (fires evaluated here leave it alone until then: a crash
in the middle of this start must find the same tail again, and their ticks in it).  That holds because stages reach the subscriptions through
one FIFO queue and commits are prefixes of what was appended: once the fire of stage ``S`` is
committed, so is the evaluation of every stage before it, for every generator.  So the
highest record of any stored state (``svc.stage_mark``, read by ``startup.load``) bounds
the scan for all: only stages after it and before this run's first stage are read (the tail
of the last run after its last committed evaluation), and only ticks from ``T`` on are read
to drop stages whose evaluation did commit (a ``where``-filtered stage writes a ``skipped``
tick but no state row, so the record can lag behind it).  Both are range scans that DuckDB
prunes by zone maps; the type of a tail stage's event comes from its ``emitted`` row when the
event was created in the tail, and ``event_log`` (not indexed: one scan) is read only for the
values of stages still unevaluated.  So the cost follows the crashed tail, not the history:
on 100k trigger events, ~5 ms after a clean stop, ~25 ms of reads after a crash that cut off
5,000 fires (plus ~35 µs to evaluate each).

What is evaluated: a stage matching a pattern the generator had in its stored record (a
pattern new to this config starts at this run: it never fires for history), exactly as the
live listener would have (a ``where`` miss is a ``skipped`` tick, a paused or held generator
holds the fire per ``on_hold``), with ``evaluated at engine start`` in the tick's reason.
A generator without a record (new, or a state from before records existed) recovers
nothing this once.  Not reproduced: the live listener ignores stages of events that were no
longer active (a control action on a finished event); history does not say, so they fire.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, NamedTuple

log = logging.getLogger("nbflow.generators")

NOTE = "evaluated at engine start: the engine stopped after the stage was recorded, before this fire was"


class _Stage(NamedTuple):
    """The fields of a stage row ``SubscriptionIndex.matches`` reads."""

    stage_id: int
    event_key: str
    flow: str | None
    task: str | None
    action: str


def pattern_of(event_type: str, row) -> str:
    """The pattern text (``str(Subscription)``) that ``row`` matches exactly."""
    return (event_type + (f"/{row.flow}" if row.flow else "") + (f".{row.task}" if row.task else "")
            + f":{row.action}")


def recover(svc) -> bool:
    """Evaluate the subscription fires of stages earlier runs recorded but never evaluated,
    then advance each subscribed generator's record to this run's first stage.

    Returns True when a generator got its first record (a new generator or pattern): the
    caller waits for it to commit before stages of this run can be lost to a crash.
    """
    gens = [g for g in svc.gens.values() if g.spec.subscribe]
    if not gens:
        return False
    first = svc.first_live_stage()
    known = {g: frozenset(g.doc.subscribed["patterns"]) for g in gens if g.doc.subscribed is not None}
    if known and svc.stage_mark[0] < first - 1:
        started = time.perf_counter()
        found = _evaluate_missed(svc, known, first)
        log.info("subscriptions: %d fire(s) of stages %d..%d evaluated at start (%.1f ms)",
                 found, svc.stage_mark[0] + 1, first - 1, (time.perf_counter() - started) * 1000)
    created = False
    for gen in gens:
        patterns = sorted(str(s) for s in gen.spec.subscribe)
        record = gen.doc.subscribed
        if record is not None and record["patterns"] == patterns and record["through_stage"] >= first - 1:
            continue
        created = created or record is None or record["patterns"] != patterns
        gen.doc.subscribed = {"patterns": patterns, "through_stage": first - 1, "next_tick": svc.next_tick_id}
        svc.save(gen, reason=f"engine start: subscriptions evaluated through stage {first - 1}")
    return created


def _evaluate_missed(svc, known: dict, first: int) -> int:
    tail = _tail(svc, known, first)
    if not tail:
        return 0
    done = {k for (k,) in svc.engine.query(
        """SELECT DISTINCT idempotency_key FROM generator_ticks
           WHERE tick_id >= ? AND idempotency_key LIKE '%@stage:%'""", [svc.stage_mark[1]]).fetchall()}
    # Stages whose every evaluation is in the log need no event_log lookup either.
    stages = [row for row, type_name in tail if type_name is None
              or any(pattern_of(type_name, row) in known.get(gen, ())
                     and f"{gen.qname}@stage:{row.stage_id}" not in done
                     for gen in svc.index.generators(type_name, row))]
    if not stages:
        return 0
    events = {k: (t, v) for k, t, v in svc.engine.query(
        "SELECT event_key, event_type, vals FROM event_log WHERE event_key IN (SELECT unnest(?::VARCHAR[]))",
        [sorted({row.event_key for row in stages})]).fetchall()}
    values: dict[str, dict[str, Any]] = {}
    found = 0
    for row in stages:
        if row.event_key not in events:
            continue
        type_name, vals = events[row.event_key]
        if row.event_key not in values:
            values[row.event_key] = _typed(svc.engine.config, type_name, vals)
        pattern = pattern_of(type_name, row)
        for gen, fire, miss in svc.index.matches(row, type_name, values[row.event_key]):
            if pattern in known.get(gen, ()) and fire.idempotency_key not in done:
                svc.evaluate(gen, fire, miss, NOTE)
                found += 1
    return found


def _tail(svc, known: dict, first: int) -> list[tuple[_Stage, str | None]]:
    """Stages after the mark, before ``first``, at the level of a known pattern, each with its
    event's type when the tail says it (None: to be looked up), other types left out."""
    levels = sorted({(s.action, s.flow or "", s.task or "") for g in known for s in g.spec.subscribe})
    types = sorted({s.event_type for g in known for s in g.spec.subscribe})
    at_level = " OR ".join("(t.action = ? AND coalesce(t.flow, '') = ? AND coalesce(t.task, '') = ?)"
                           for _ in levels)
    # An event's ``emitted`` row holds its label, ``type:values``: the type of every event
    # created in the tail, so stages of other types are dropped without a lookup in event_log
    # (not indexed: a lookup scans it whole).  A name there that is not one of the config's
    # types (a label not of that form) drops nothing.
    rows = svc.engine.query(
        f"""WITH tail AS (SELECT stage_id, event_key, flow, task, action, detail FROM stages
                          WHERE stage_id > ? AND stage_id < ? AND event_key IS NOT NULL),
                 born AS (SELECT event_key, split_part(detail, ':', 1) AS event_type FROM tail
                          WHERE action = 'emitted' AND flow IS NULL AND task IS NULL)
            SELECT t.stage_id, t.event_key, t.flow, t.task, t.action, b.event_type
            FROM tail t LEFT JOIN born b USING (event_key)
            WHERE ({at_level}) AND (b.event_type IS NULL OR b.event_type IN (SELECT unnest(?::VARCHAR[]))
                                    OR b.event_type NOT IN (SELECT unnest(?::VARCHAR[])))
            ORDER BY t.stage_id""",
        [svc.stage_mark[0], first, *(v for level in levels for v in level), types,
         [t.name for t in svc.engine.config.event_types]]).fetchall()
    return [(_Stage(*r[:5]), r[5] if r[5] in types else None) for r in rows]


def _typed(config, type_name: str, vals: str) -> dict[str, Any]:
    """The event's values typed as its vars (as live fires see them); the stored JSON values
    when they no longer validate (the type changed since)."""
    raw = json.loads(vals)
    try:
        return config.event_type(type_name).validate(raw)
    except Exception:   # a changed var: the fire still goes, with what was recorded
        return raw
