"""One attempt of one task: wait for a slot, record ``invoked``, run it under its timeout,
record how it ended, and retry under its policy.

Rows are committed in batches, one transaction per tick: a run does not wait for its
``invoked`` row to be durable.  Instead every run is written ahead to the run journal
(``journal.py``: processes by ``runners.process``, ``python`` tasks by their runner) before it
starts, and recovery reconciles the journal with the history after a crash: a run that left
no row is recorded ``invoked`` and ``failure`` (``lost``) and retried under its task's policy,
so nothing runs twice without a record.  An in-process ``python`` task dies with the engine.
"""

from __future__ import annotations

import math
import os
import time
import traceback

import trio

from .. import runners
from ..durations import format_duration
from ..keys import run_id as make_run_id
from ..runners.base import EventFolders, RunContext, RunResult
from ..spec.model import Event
from .state import EventState, FlowState, TaskState

#: Runners whose task runs in another process: what it emitted or published travels through
#: the inbox, which is drained before the run's end is recorded.
_OUT_OF_PROCESS = frozenset({"cmd", "notebook"})


async def run_task(engine, ev: EventState, fs: FlowState, ts: TaskState) -> None:
    ts.ticket = ticket = object()
    async with engine._limiter:
        # skipped or cancelled while it waited for a slot, or dispatched again since (a retry)
        if ts.status != "queued" or ts.ticket is not ticket:
            return
        if engine.is_paused(ev, fs, ts):   # paused while it waited: back to ready, parked
            ts.status = "ready"
            return
        await _attempt(engine, ev, fs, ts)


async def _attempt(engine, ev: EventState, fs: FlowState, ts: TaskState) -> None:
    task, flow = ts.task, fs.flow.name
    ts.attempt += 1
    ts.status = "running"
    ts.cancel_reason = ts.after_cancel = None
    rid = make_run_id(ev.key, flow, task.name, ts.attempt)
    engine.stage(ev.key, flow, task.name, ts.attempt, "invoked", run_id=rid)
    ts.started_at = time.time()
    engine.counts["runs"] += 1
    if ev.folders is None:
        ev.folders = EventFolders(engine.ws.workdir(ev.key), engine.ws.log_dir(ev.key))
        ev.event_obj = Event(ev.etype, ev.key, ev.values)
    ctx = RunContext(
        run_id=rid, event=ev.event_obj, flow=flow, task=task, attempt=ts.attempt,
        home=engine.ws.home, folders=ev.folders,
        kill_grace=engine.config.engine.kill_grace, base_envb=engine.base_envb, journal=engine.journal,
        _emit=engine.emit_from_thread, _publish=engine.publish_from_run)
    try:
        result = await _execute(engine, ctx, ts)
    except trio.Cancelled:
        if engine.stopping and ts.status == "running" and ts.after_cancel is not None:
            # a control action was cancelling it: it ends as that asked, not queued again
            _record_outputs(engine, ctx, ())
            _record_end(engine, ev, fs, ts, rid, RunResult(False, detail=f"cancelled: {ts.cancel_reason}"))
        elif engine.stopping and ts.status == "running":
            engine.stage(ev.key, flow, task.name, ts.attempt, "failure", "interrupted: the engine stopped",
                         run_id=rid)
            engine.stage(ev.key, flow, task.name, ts.attempt + 1, "retried",
                         "queued again: the engine stopped while it ran",
                         run_id=make_run_id(ev.key, flow, task.name, ts.attempt + 1))
            ts.status = "interrupted"
            _record_outputs(engine, ctx, ())
        raise
    if task.runner in _OUT_OF_PROCESS or task.process:   # process: a python task in a child
        await engine.drain_inbox()
    _record_outputs(engine, ctx, result.artifacts)
    _record_end(engine, ev, fs, ts, rid, result)


def _record_outputs(engine, ctx: RunContext, artifacts) -> None:
    """Artifact rows for the files a run produced, however it ended."""
    seen = set()
    for name, kind, path in (*artifacts, *ctx.outputs):
        if path in seen:
            continue
        seen.add(path)
        size = ctx.output_sizes.get(path)
        if size is None:
            try:
                size = os.stat(path).st_size
            except FileNotFoundError:
                continue
        engine.add_artifact(ctx.run_id, ctx.event_key, name, kind, str(path), size)


async def _execute(engine, ctx: RunContext, ts: TaskState) -> RunResult:
    runner = runners.get(ctx.task.runner)
    timeout = ctx.task.timeout
    # One scope for both a timeout (its deadline) and a control action's cancel.
    with trio.CancelScope(deadline=trio.current_time() + timeout if timeout else math.inf) as scope:
        ts.scope = scope
        if ts.cancel_reason is not None:   # cancelled before its process could start
            scope.cancel()
        try:
            return await runner(ctx)
        except Exception:
            return RunResult(False, detail=traceback.format_exc(limit=-10))
        finally:
            ts.scope = None
    if ts.cancel_reason is None:
        return RunResult(False, detail=f"timeout after {format_duration(timeout)}")
    return RunResult(False, detail=f"cancelled: {ts.cancel_reason}")


def _record_end(engine, ev: EventState, fs: FlowState, ts: TaskState, rid: str, result: RunResult) -> None:
    task, flow = ts.task, fs.flow.name
    if ts.cancel_reason is not None and not result.ok and ts.after_cancel is not None:
        after, ts.after_cancel = ts.after_cancel, None
        after(rid, result)                 # a control action (nbflow.control) ends the run
        return
    if ts.cancel_reason is not None and not result.ok:
        ts.status = "cancelled"
        engine.stage(ev.key, flow, task.name, ts.attempt, "cancelled", result.detail,
                     run_id=rid, exit_code=result.exit_code)
    elif result.ok:
        ts.status = "success"
        engine.stage(ev.key, flow, task.name, ts.attempt, "success", result.detail,
                     run_id=rid, exit_code=result.exit_code)
    else:
        engine.stage(ev.key, flow, task.name, ts.attempt, "failure", result.detail,
                     run_id=rid, exit_code=result.exit_code)
        if ts.attempt <= task.retries and not engine.stopping:
            schedule_retry(engine, ev, fs, ts, task.retry_delay,
                           f"attempt {ts.attempt + 1} of {task.retries + 1}"
                           + (f" in {format_duration(task.retry_delay)}" if task.retry_delay else ""))
            return
        ts.status = "failure"
    engine.task_done(ev, fs, ts)


def schedule_retry(engine, ev: EventState, fs: FlowState, ts: TaskState, delay: float, detail: str,
                   actor: str | None = None) -> None:
    """Queue the next attempt of ``ts`` after ``delay`` seconds (a ``retried`` stage now)."""
    nxt = ts.attempt + 1
    engine.stage(ev.key, fs.flow.name, ts.name, nxt, "retried", detail,
                 run_id=make_run_id(ev.key, fs.flow.name, ts.name, nxt), actor=actor)
    ts.status = "retry_wait"

    async def later() -> None:
        if delay:
            await trio.sleep(delay)
        if ts.status == "retry_wait":
            engine._dispatch(ev, fs, ts)

    engine._nursery.start_soon(later)
