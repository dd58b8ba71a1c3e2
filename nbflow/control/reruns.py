"""Retry, skip and cancel: run tasks again, or end what has not ended.

* retry - a new run of a task that ended (``--tree``: and of everything downstream).  For a
  flow or an event: the tasks that failed, were cancelled or were blocked by those; when
  nothing of the kind is left and it has finished, the tasks that were skipped, else every
  task.  A finished event becomes
  active again (an event-level ``retried`` row), a finished flow is un-done.
* skip - every task not yet ended is marked ``skipped`` (a running one is cancelled first);
  dependants proceed as after a success.  A failed or cancelled task can be skipped too: its
  dependants then run, reopening the event if it had ended.
* cancel - running processes are ended (SIGTERM to the group, SIGKILL after the grace
  period) and marked ``cancelled``; for a flow or event, what has not started is cancelled
  too, so it ends (as a failure).  Dependants of a cancelled task are blocked.
"""

from __future__ import annotations

from typing import Any

from ..engine.state import BLOCKING, DONE, PASSED, FlowState
from ..errors import ControlError
from ..keys import run_id as make_run_id
from .checks import Change, check_open, check_started, events_only, planner
from .command import Request
from .ending import Actor, end_task, reopen
from .scope import Scope

_LIVE = ("queued", "running", "retry_wait")
_AS_DEP = {"failure": "failed", "cancelled": "was cancelled", "waiting": "has not run again yet",
           "ready": "has not run again yet"}


def _failed(fs: FlowState) -> set[str]:
    """Tasks of ``fs`` that failed, were cancelled, or wait on one that did."""
    return {ts.name for ts in fs.tasks.values()
            if ts.status in BLOCKING or (ts.status == "waiting" and fs.blocked(ts))}


@planner("retry")
def _retry(engine, req: Request, scope: Scope) -> Change:
    events_only(req)
    check_started(scope)
    plan: dict[FlowState, set[str]] = {}
    if scope.ts is not None:
        fs, ts = scope.fs, scope.ts
        if ts.status in ("queued", "running"):
            raise ControlError(f"{scope.describe()} is running: cancel it first, or wait for its end")
        if ts.status == "retry_wait" or (ts.status in ("waiting", "ready") and ts.attempt > 0):
            raise ControlError(f"{scope.describe()} is already queued for a retry "
                               f"(attempt {ts.attempt + 1})")
        if ts.status in ("waiting", "ready"):
            waits = [d for d in ts.task.depends_on if fs.tasks[d].status not in PASSED]
            raise ControlError(f"{scope.describe()} has not run yet"
                               + (f": it waits for {', '.join(waits)}" if waits else ""))
        plan[fs] = {ts.name}
    else:
        for fs in scope.flows():
            if _failed(fs):
                plan[fs] = _failed(fs)
        if not plan:
            done = not scope.live if scope.fs is None else scope.fs.done
            if not done:
                raise ControlError(f"nothing to retry: no task of {scope.describe()} failed or was "
                                   f"cancelled, and it is still running")
            # a finished flow or event: what was skipped, else everything, runs again
            plan = {fs: {t.name for t in fs.tasks.values() if t.status == "skipped"}
                    for fs in scope.flows()}
            if not any(plan.values()):
                plan = {fs: set(fs.tasks) for fs in scope.flows()}
            plan = {fs: names for fs, names in plan.items() if names}
    if req.tree:
        for fs, names in plan.items():
            names |= {d for n in list(names) for d in fs.flow.downstream(n)}
    for fs, names in plan.items():       # validate the whole plan before changing anything
        for name in names:
            ts = fs.tasks[name]
            if ts.status in _LIVE:
                raise ControlError(f"task {fs.flow.name}.{name} of event {scope.ev.key} is "
                                   f"{ts.status.replace('_', ' ')}: cancel it first, or retry "
                                   f"without --tree")
            for dep in ts.task.depends_on:
                if dep not in names and fs.tasks[dep].status not in PASSED:
                    raise ControlError(
                        f"task {fs.flow.name}.{name} cannot run again: its dependency {dep} "
                        f"{_AS_DEP.get(fs.tasks[dep].status, 'has not passed')}; retry {dep} with "
                        f"--tree (or the whole flow)")

    def change(who: Actor, interrupted: list) -> dict[str, Any]:
        ev = scope.ev
        reopen(who, scope, list(plan))
        runs = []
        for fs, names in plan.items():
            for ts in fs.tasks.values():
                if ts.name not in names:
                    continue
                if ts.status in DONE:      # blocked tasks that never ran just wait again
                    rid = make_run_id(ev.key, fs.flow.name, ts.name, ts.attempt + 1)
                    who.stage(ev, fs, ts, ts.attempt + 1, "retried",
                              who.reason or f"retry of {req.target}", run_id=rid)
                    runs.append(rid)
                ts.status = "waiting"
            engine._advance_flow(ev, fs)
        engine._maybe_finish_event(ev)
        return {"summary": f"retried {scope.describe()}: {len(runs)} run(s) queued", "runs": runs}

    return change


@planner("skip")
def _skip(engine, req: Request, scope: Scope) -> Change:
    return _end(engine, req, scope, "skipped")


@planner("cancel")
def _cancel(engine, req: Request, scope: Scope) -> Change:
    return _end(engine, req, scope, "cancelled")


def _end(engine, req: Request, scope: Scope, status: str) -> Change:
    """Skip or cancel what has not ended inside the target."""
    events_only(req)
    ev, fs, ts = scope.ev, scope.fs, scope.ts
    if ts is not None:
        check_started(scope)
        if status == "skipped" and ts.status in ("success", "skipped"):
            raise ControlError(f"{scope.describe()} "
                               + ("has already succeeded" if ts.status == "success" else "is already skipped"))
        if status == "cancelled" and ts.status in DONE:
            raise ControlError(f"{scope.describe()} has finished ({ts.status}): nothing to cancel")
        remaining = [(fs, ts)]
    else:
        check_open(scope, "nothing to cancel" if status == "cancelled" else "nothing left to skip; "
                   "retry it, or skip one of its failed tasks")
        if fs is None and ev.skipped:
            raise ControlError(f"{scope.describe()} is already being skipped")
        remaining = scope.remaining()
        if not remaining:
            raise ControlError(f"{scope.describe()} has nothing left to "
                               + ("cancel" if status == "cancelled" else "skip"))

    def change(who: Actor, interrupted: list) -> dict[str, Any]:
        if ts is not None and ts.status in BLOCKING:      # skip of a failed task: reopen
            reopen(who, scope, [fs])
        elif ts is None:
            who.stage(ev, fs, None, None, status, who.reason)
            if fs is None and status == "skipped":
                ev.skipped = True
        runs = [end_task(who, ev, f, t, status, interrupted) for f, t in remaining]
        for f in {id(f): f for f, _ in remaining}.values():
            engine._advance_flow(ev, f)
        engine._maybe_finish_event(ev)
        verb = "skipped" if status == "skipped" else "cancelled"
        return {"summary": f"{verb} {scope.describe()}: {len(runs)} task(s)"
                           + (f", {len(interrupted)} running one(s) stopped" if interrupted else ""),
                "runs": runs}

    return change
