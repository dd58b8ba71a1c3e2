"""How control actions end, reopen and re-queue tasks (the mechanics under skip, cancel,
retry and ``pause --cancel-running``).

A running attempt is never marked from outside while its process lives: the action sets the
task's ``cancel_reason`` and ``after_cancel`` and writes the request ahead (a ``cancelling``
row, ``intents.py``); once that row is committed it cancels the run's scope (the cmd runner
sends SIGTERM to the process group, then SIGKILL after the grace period), and the run itself
calls ``after_cancel`` once the process is gone, which records the ``cancelled`` row and goes
on.  If the engine dies in between, recovery ends the run as the request said.
A task that has not started - waiting for its dependencies, for a slot (``queued``: dispatched
while ``max_parallel`` runs are busy) or for a retry - is marked at once; its dispatch finds
it ended when it gets a slot, and it never starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from ..keys import run_id as make_run_id
from .command import Request
from .intents import ACTION, REQUEUED, CancelRequest


@dataclass
class Actor:
    """Who does an action, why, and on what target: the columns of every row it writes."""

    engine: object
    req: Request

    def stage(self, ev, fs, ts, run: int | None, action: str, detail: str | None = None,
              run_id: str | None = None, exit_code: int | None = None) -> None:
        self.engine.stage(ev.key if ev else None, fs.flow.name if fs else None,
                          ts.name if ts else None, run, action, detail, run_id=run_id,
                          exit_code=exit_code, actor=self.req.actor, target=str(self.req.target))

    @property
    def reason(self) -> str | None:
        return self.req.reason


def end_unstarted(engine, ev, fs, ts, status: str, detail: str | None, *, actor: str | None = None,
                  target: str | None = None) -> str:
    """Give a task that is not running the final ``status`` (skipped, cancelled) on its next
    run number, so each run keeps one fate; returns that run's id.  A dispatch still waiting
    for a slot sees the status and never starts; the caller moves the flow on."""
    ts.attempt += 1
    rid = make_run_id(ev.key, fs.flow.name, ts.name, ts.attempt)
    ts.status = status
    engine.stage(ev.key, fs.flow.name, ts.name, ts.attempt, status, detail, run_id=rid, actor=actor,
                 target=target)
    return rid


def mark(who: Actor, ev, fs, ts, status: str) -> str:
    """``end_unstarted`` by a control action (its actor, reason and target on the row)."""
    return end_unstarted(who.engine, ev, fs, ts, status, who.reason, actor=who.req.actor,
                         target=str(who.req.target))


def interrupt(who: Actor, ev, fs, ts, then: str, reason: str, after) -> None:
    """Cancel the running attempt of ``ts``; ``after(run_id, result)`` runs once it ended.

    The request is written ahead (``then``: what becomes of the task, see ``intents``) and
    the process is signalled only once that row is committed: a crash in between leaves
    either no request and an untouched run, or a request that recovery honours.
    """
    engine = who.engine
    ts.cancel_reason = reason
    ts.after_cancel = after
    rid = make_run_id(ev.key, fs.flow.name, ts.name, ts.attempt)
    request = CancelRequest(rid, then, who.reason, who.req.actor, str(who.req.target))
    seq = engine.stage(ev.key, None, None, None, ACTION, request.detail(), run_id=rid,
                       actor=who.req.actor)

    def signal() -> None:
        if ts.after_cancel is after and ts.scope is not None:
            ts.scope.cancel()
        # else: it ended meanwhile, or has not entered its cancel scope yet and cancels
        # itself when it does (``cancel_reason`` is set)

    async def when_durable() -> None:
        await engine.writer.durable(seq)
        signal()

    if engine._nursery is None:     # the engine is stopping: nothing to wait for
        signal()
    else:
        engine._nursery.start_soon(when_durable)


def end_task(who: Actor, ev, fs, ts, status: str, interrupted: list) -> str:
    """End a task that has not ended with ``status`` (``skipped`` or ``cancelled``).

    A running attempt is cancelled first (its ``cancelled`` row comes when the process is
    gone; a skip then adds a ``skipped`` row on the next run number).  Returns a run id.
    """
    engine = who.engine
    if ts.status != "running":
        return mark(who, ev, fs, ts, status)

    def after(rid: str, result) -> None:
        who.stage(ev, fs, ts, ts.attempt, "cancelled", who.reason or result.detail, run_id=rid,
                  exit_code=result.exit_code)
        ts.status = "cancelled"
        if status == "skipped":
            mark(who, ev, fs, ts, "skipped")
        engine.task_done(ev, fs, ts)

    interrupt(who, ev, fs, ts, status, f"{status} by {who.req.actor}", after)
    interrupted.append(ts)
    return make_run_id(ev.key, fs.flow.name, ts.name, ts.attempt)


def requeue_running(who: Actor, ev, fs, ts, interrupted: list) -> None:
    """``pause --cancel-running``: cancel the running attempt and queue the task again (it
    starts anew on resume)."""
    engine = who.engine

    def after(rid: str, result) -> None:
        who.stage(ev, fs, ts, ts.attempt, "cancelled", who.reason or "paused", run_id=rid,
                  exit_code=result.exit_code)
        nxt = ts.attempt + 1
        who.stage(ev, fs, ts, nxt, "retried", REQUEUED,
                  run_id=make_run_id(ev.key, fs.flow.name, ts.name, nxt))
        ts.status = "waiting"
        engine.task_done(ev, fs, ts)    # ready again, held by the pause

    interrupt(who, ev, fs, ts, "requeued", f"paused by {who.req.actor}", after)
    interrupted.append(ts)


def reopen(who: Actor, scope, flows) -> None:
    """Make a finished event active again and un-finish ``flows`` (before re-running tasks)."""
    engine, ev = who.engine, scope.ev
    if ev.key not in engine.events:
        ev.paused = ev.skipped = False    # as the fold of the ``retried`` row has it
        engine.reactivate(ev, who.reason or f"{who.req.op} {who.req.target}",
                          actor=who.req.actor, target=str(who.req.target))
        scope.live = True
        if ev.etype.name in engine.paused_types:   # held like a new event of a paused type
            ev.paused = True
            engine.stage(ev.key, None, None, None, "paused", f"type {ev.etype.name} is paused",
                         target=f"type:{ev.etype.name}")
    for fs in flows:
        if fs.done:
            fs.done = False
            who.stage(ev, fs, None, None, "retried", who.reason or f"{who.req.op} {who.req.target}")


async def settle(engine, interrupted: list, timeout: float) -> list:
    """Wait until the interrupted runs ended (their processes are gone); those that did not."""
    with trio.move_on_after(timeout):
        while any(ts.after_cancel is not None and ts.status == "running" for ts in interrupted):
            await trio.sleep(0.02)
    return [ts for ts in interrupted if ts.after_cancel is not None and ts.status == "running"]
