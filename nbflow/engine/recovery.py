"""Recovery: rebuild the live state of unfinished events by folding their stage rows.

Runs the engine left ``invoked`` without an end (it died under them) are recorded as failed
with ``detail`` ``lost`` and retried under their task's policy, and so are runs only the run
journal knows (started within the engine's last tick: processes and ``python`` tasks alike);
runs queued for a retry are dispatched again.  A run a control action was cancelling when
the engine died (its ``cancelling`` request committed, its end not: ``control/intents.py``) is
ended as the request said instead - ``cancelled``, then skipped or queued again - its process
group killed if it still runs, with no retry.  Events whose type left the config are ended as
failures, with the reason.
"""

from __future__ import annotations

import json

from ..errors import UnknownNameError
from ..keys import parse_run_id
from ..keys import run_id as make_run_id
from ..spec.model import EventType
from .state import EventState, FlowState, TaskState

#: The action of a control action's write-ahead cancel request (``control/intents.py``).
CANCELLING = "cancelling"

_TERMINAL = {"success", "failure", "skipped", "cancelled"}
#: Events without a ``final`` after their last event-level row (a skip or cancel that was still
#: ending its runs, a retried event): still to be finished.
_UNFINISHED = ("SELECT event_key FROM stages WHERE flow IS NULL AND task IS NULL "
               "GROUP BY event_key HAVING arg_max(action, stage_id) <> 'final'")


def recover(engine) -> list[tuple[EventState, FlowState, TaskState]]:
    """Load unfinished events into ``engine.events``; returns the task runs to dispatch."""
    con = engine.con
    _recover_type_pauses(engine, con)
    rows = con.execute(
        "SELECT event_key, event_type, vals, epoch_us(created_at) FROM events "
        f"WHERE event_key IN ({_UNFINISHED}) ORDER BY created_at").fetchall()
    if not rows:
        return []
    stages = con.execute(
        f"""SELECT event_key, flow, task, run, action, detail FROM stages
           WHERE event_key IN ({_UNFINISHED})
           ORDER BY stage_id""").fetchall()
    by_event: dict[str, list[tuple]] = {}
    for row in stages:
        by_event.setdefault(row[0], []).append(row[1:])
    to_dispatch = []
    for key, type_name, vals, created_us in rows:
        try:
            etype = engine.config.event_type(type_name)
        except UnknownNameError:
            engine.stage(key, None, None, None, "failure",
                         f"event type {type_name!r} is no longer in the config", actor="recovery")
            engine.stage(key, None, None, None, "final", "failure", actor="recovery")
            continue
        values = etype.validate(json.loads(vals)) if etype.vars else {}
        ev = EventState.new(key, etype, values, int(created_us))
        engine.events[key] = ev
        event_rows = by_event.get(key, [])
        event_rows.extend(unrecorded_runs(engine, ev, event_rows))
        to_dispatch.extend(_fold(engine, ev, etype, event_rows))
    return to_dispatch


def unrecorded_runs(engine, ev: EventState, rows: list[tuple]) -> list[tuple]:
    """Runs the journal knows but the history does not (the engine died within the tick that
    started them; a ``python`` task's side effects may be done): end the process groups still
    running, record the runs ``invoked``, and return stage rows for the fold, which then
    treats them as lost runs."""
    prefix = ev.key + "/"
    known = {(flow, task, run) for flow, task, run, action, _ in rows if action == "invoked"}
    found = []
    for rid in sorted(r for r in engine.journal.found if r.startswith(prefix)):
        _, flow, task, attempt = parse_run_id(rid)
        if flow not in ev.flows or task not in ev.flows[flow].tasks or (flow, task, attempt) in known:
            continue
        engine.journal.kill_orphan(rid)
        engine.stage(ev.key, flow, task, attempt, "invoked",
                     "found by recovery: started just before the engine died",
                     run_id=rid, actor="recovery")
        found.append((flow, task, attempt, "invoked", None))
    return found


def _recover_type_pauses(engine, con) -> None:
    rows = con.execute(
        """SELECT target, arg_max(action, stage_id), arg_max(detail, stage_id) FROM stages
           WHERE event_key IS NULL AND target LIKE 'type:%' AND action IN ('paused', 'resumed')
           GROUP BY target""").fetchall()
    for target, action, detail in rows:
        if action == "paused":
            engine.paused_types[target.split(":", 1)[1]] = detail


def _fold(engine, ev: EventState, etype: EventType, rows: list[tuple]):
    last_run: dict[tuple[str, str], tuple[int, str]] = {}
    cancelling: dict[tuple[str, str, int], object] = {}   # runs a control action was ending
    for flow, task, run, action, detail in rows:
        if flow is None:
            if action == CANCELLING:
                request = _cancel_request(ev.key, detail)
                if request is not None:
                    cancelling[request[0]] = request[1]
            elif action == "paused":
                ev.paused = True
            elif action in ("resumed", "retried"):
                ev.paused = False
                ev.skipped = ev.skipped and action == "resumed"
            elif action == "skipped":
                ev.skipped = True
            continue
        fs = ev.flows.get(flow)
        if fs is None:
            continue
        if task is None:
            if action == "invoked":
                fs.started = True
                fs.active = True
            elif action == "final":
                fs.done = True
            elif action == "retried":
                fs.done = False
            elif action == "paused":
                fs.paused = True
            elif action == "resumed":
                fs.paused = False
            continue
        ts = fs.tasks.get(task)
        if ts is None:
            continue
        if action == "paused":
            ts.paused = True
        elif action == "resumed":
            ts.paused = False
        elif run is not None:
            last_run[(flow, task)] = (run, action)
    dispatch = []
    for (flow, task), (run, action) in last_run.items():
        fs, ts = ev.flows[flow], ev.flows[flow].tasks[task]
        if action in _TERMINAL:
            ts.status, ts.attempt = action, run
        elif action == "invoked" and (flow, task, run) in cancelling:
            _end_cancelled(engine, ev, fs, ts, run, cancelling[(flow, task, run)])
        elif action == "invoked":
            ts.attempt = run
            rid = make_run_id(ev.key, flow, task, run)
            engine.journal.kill_orphan(rid)
            engine.stage(ev.key, flow, task, run, "failure", "lost", run_id=rid, actor="recovery")
            if run <= ts.task.retries:
                engine.stage(ev.key, flow, task, run + 1, "retried",
                             f"attempt {run + 1} of {ts.task.retries + 1} (after a lost run)",
                             run_id=make_run_id(ev.key, flow, task, run + 1), actor="recovery")
                ts.status = "ready"
                dispatch.append((ev, fs, ts))
            else:
                ts.status = "failure"
        elif action == "retried":
            # Queued again: it starts (below) once its dependencies passed, so the downstream
            # of a ``retry --tree`` waits for its upstream to run again.
            ts.attempt = run - 1
            ts.status = "waiting"
    # Tasks never started whose dependencies have all passed are ready too.
    for fs in ev.flows.values():
        if fs.active and not fs.done:
            for ts in fs.newly_ready():
                dispatch.append((ev, fs, ts))
    return dispatch


def _cancel_request(key: str, detail: str | None):
    """``((flow, task, run), request)`` of a ``cancelling`` row of event ``key``, or None."""
    from ..control.intents import CancelRequest

    request = CancelRequest.read(detail)
    if request is None:
        return None
    try:
        run_key, flow, task, attempt = parse_run_id(request.run_id)
    except ValueError:
        return None
    return ((flow, task, attempt), request) if run_key == key else None


def _end_cancelled(engine, ev: EventState, fs: FlowState, ts: TaskState, run: int, request) -> None:
    """End a run whose cancel request was committed but whose end was not, as the live path
    (``control/ending.py``) would have: ``cancelled``, then ``skipped`` on the next run number
    or queued again (``retried``, held by the pause); no ``lost``, no retry."""
    from ..control.intents import REQUEUED

    flow, task, rid = fs.flow.name, ts.name, request.run_id
    engine.journal.kill_orphan(rid)
    who = {"actor": request.actor, "target": request.target}
    engine.stage(ev.key, flow, task, run, "cancelled", request.ended_detail(), run_id=rid, **who)
    ts.attempt, ts.status = run, "cancelled"
    if request.then == "skipped":
        ts.attempt, ts.status = run + 1, "skipped"
        engine.stage(ev.key, flow, task, run + 1, "skipped", request.reason,
                     run_id=make_run_id(ev.key, flow, task, run + 1), **who)
    elif request.then == "requeued":
        engine.stage(ev.key, flow, task, run + 1, "retried", REQUEUED,
                     run_id=make_run_id(ev.key, flow, task, run + 1), **who)
        ts.status = "waiting"    # started below once its dependencies passed, held by the pause


def load_event(engine, key: str) -> EventState | None:
    """The state of event ``key`` rebuilt from history (a finished one, to retry or skip in it).

    ``None`` when history has no such event; ``UnknownNameError`` when its type left the
    config.  Reads committed rows only: callers await ``engine.writer.durable()`` first.
    """
    row = engine.query("SELECT event_type, vals, epoch_us(created_at) FROM event_log "
                       "WHERE event_key = ?", [key]).fetchone()
    if row is None:
        return None
    etype = engine.config.event_type(row[0])
    values = etype.validate(json.loads(row[1])) if etype.vars else {}
    ev = EventState.new(key, etype, values, int(row[2]))
    rows = engine.query("SELECT flow, task, run, action, detail FROM stages WHERE event_key = ? "
                        "ORDER BY stage_id", [key]).fetchall()
    _fold(engine, ev, etype, rows)
    return ev
