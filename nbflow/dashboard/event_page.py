"""One event's page: its values, flows and tasks (status, attempts), runs, stages and artifacts.

Everything is read with a handful of point queries on the event's key (its stages, its
artifacts), and folded here in Python: the public ``task_runs`` view folds every run of the
history, which one event's page must not pay for.  A test checks both folds agree.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import UnknownNameError
from .history import EventRow, fold_statuses

#: Stage rows shown on a page at most (a task retried thousands of times stays readable).
MAX_STAGES = 2000
_RUN_ACTIONS = ("invoked", "retried", "success", "failure", "skipped", "cancelled")
_TERMINAL = ("success", "failure", "skipped", "cancelled")


@dataclass(frozen=True)
class Stage:
    """One row of the event's stage log."""

    stage_id: int
    at: dt.datetime
    flow: str | None
    task: str | None
    run: int | None
    action: str
    detail: str | None
    run_id: str | None
    exit_code: int | None
    actor: str | None
    target: str | None


@dataclass(frozen=True)
class Run:
    """One attempt of one task (as the ``task_runs`` view folds it)."""

    run_id: str
    flow: str
    task: str
    attempt: int
    status: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    exit_code: int | None
    detail: str | None

    def duration(self, now: dt.datetime | None = None) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or (now or dt.datetime.now(dt.UTC))
        return (end - self.started_at).total_seconds()


@dataclass(frozen=True)
class Artifact:
    """A file attached to a run."""

    artifact_id: int
    run_id: str | None
    name: str
    kind: str
    path: str
    size_bytes: int | None
    created_at: dt.datetime


@dataclass(frozen=True)
class TaskStatus:
    """A task of one of the event's flows, as it stands."""

    flow: str
    task: str
    runner: str | None
    depends_on: tuple[str, ...]
    status: str          # none (never ran) waiting running queued success failure skipped cancelled
    attempts: int
    paused: bool = False


@dataclass(frozen=True)
class FlowStatus:
    """One of the event's flows, its status and its tasks in flow order."""

    name: str
    status: str
    paused: bool
    tasks: list[TaskStatus]
    on: str = "event"


@dataclass(frozen=True)
class EventPage:
    """Everything the event page shows, provenance aside (see ``provenance.py``)."""

    event: EventRow
    values: dict[str, Any]
    flows: list[FlowStatus]
    runs: list[Run]
    stages: list[Stage]
    artifacts: list[Artifact]
    stages_truncated: bool = False
    paused: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def task(self, flow: str, task: str) -> TaskStatus:
        for fs in self.flows:
            for ts in fs.tasks:
                if fs.name == flow and ts.task == task:
                    return ts
        raise UnknownNameError(f"event {self.event.label} has no task {flow}.{task}")


def fold_runs(stages: list[Stage]) -> list[Run]:
    """Task runs from stage rows, as the ``task_runs`` view folds them, by start time."""
    acc: dict[str, dict[str, Any]] = {}
    for s in sorted(stages, key=lambda s: s.stage_id):
        if s.run_id is None or s.action not in _RUN_ACTIONS:
            continue
        r = acc.setdefault(s.run_id, {"flow": s.flow, "task": s.task, "attempt": s.run,
                                      "started": None, "finished": None, "exit": None, "detail": None})
        r["action"] = s.action
        if s.action == "invoked" and r["started"] is None:
            r["started"] = s.at
        if s.action in _TERMINAL:
            r["finished"] = s.at if r["finished"] is None else max(r["finished"], s.at)
        if s.exit_code is not None:
            r["exit"] = s.exit_code
        if s.detail is not None:
            r["detail"] = s.detail
    status = {"invoked": "running", "retried": "queued"}
    runs = [Run(rid, r["flow"], r["task"], r["attempt"], status.get(r["action"], r["action"]),
                r["started"], r["finished"], r["exit"], r["detail"]) for rid, r in acc.items()]
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(runs, key=lambda r: (r.started_at or far, r.flow, r.task, r.attempt))


def _flow_status(stages: list[Stage], flow: str, event_active: bool) -> tuple[str, bool]:
    status, paused = ("waiting" if event_active else "none"), False
    for s in stages:
        if s.flow != flow or s.task is not None:
            continue
        if s.action == "invoked":
            status = "running"
        elif s.action in ("success", "failure", "skipped", "cancelled"):
            status = s.action
        elif s.action == "final":
            status = s.detail or status
        elif s.action in ("paused", "resumed"):
            paused = s.action == "paused"
    return status, paused


def _task_status(stages: list[Stage], runs: list[Run], flow: str, task: str,
                 event_active: bool) -> tuple[str, int, bool]:
    status, attempts, paused = ("waiting" if event_active else "none"), 0, False
    mapping = {"invoked": "running", "retried": "queued"}
    for s in stages:
        if s.flow != flow or s.task != task:
            continue
        if s.action in ("paused", "resumed"):
            paused = s.action == "paused"
        elif s.action in mapping or s.action in _TERMINAL:
            status = mapping.get(s.action, s.action)
    attempts = max((r.attempt for r in runs if r.flow == flow and r.task == task
                    and r.started_at is not None), default=0)
    return status, attempts, paused


def build_flows(etype, stages: list[Stage], runs: list[Run], event_active: bool) -> list[FlowStatus]:
    """Flows and tasks of the event: the config's DAG, with what its stages say of each task."""
    declared: list[tuple[str, str, list[tuple[str, str | None, tuple[str, ...]]]]] = []
    if etype is not None:
        for flow in etype.flows:
            declared.append((flow.name, flow.on, [(t.name, t.runner, tuple(t.depends_on))
                                                  for t in flow.tasks]))
    known = {(f, t) for f, _, tasks in declared for t, _, _ in tasks}
    for s in stages:      # flows/tasks the history has but the config no longer declares
        if s.flow and s.task and (s.flow, s.task) not in known:
            known.add((s.flow, s.task))
            for name, _, tasks in declared:
                if name == s.flow:
                    tasks.append((s.task, None, ()))
                    break
            else:
                declared.append((s.flow, "event", [(s.task, None, ())]))
    out = []
    for name, on, tasks in declared:
        status, paused = _flow_status(stages, name, event_active and on == "event")
        rows = []
        for task, runner, deps in tasks:
            t_status, attempts, t_paused = _task_status(stages, runs, name, task,
                                                         event_active and on == "event")
            rows.append(TaskStatus(name, task, runner, deps, t_status, attempts, t_paused))
        out.append(FlowStatus(name, status, paused, rows, on))
    return out


def load_event(source, event_key: str) -> EventPage:
    """The page of ``event_key``; ``UnknownNameError`` when the history has no such event."""
    rows = source.sql("SELECT * FROM event_log WHERE event_key = ?", [event_key])
    if not rows:
        raise UnknownNameError(f"the history has no event {event_key!r}")
    record = rows[0]
    status, finished = fold_statuses(source, [event_key]).get(event_key, ("active", None))
    event = EventRow.from_record({**record, "status": status, "finished_at": finished})
    stage_rows = source.sql(
        'SELECT stage_id, "at", flow, task, run, action, detail, run_id, exit_code, actor, target '
        "FROM stages WHERE event_key = ? ORDER BY stage_id LIMIT ?", [event_key, MAX_STAGES + 1])
    stages = [Stage(**r) for r in stage_rows[:MAX_STAGES]]
    runs = fold_runs(stages)
    artifacts = [Artifact(**r) for r in source.sql(
        "SELECT artifact_id, run_id, name, kind, path, size_bytes, created_at FROM artifacts "
        "WHERE event_key = ? ORDER BY artifact_id", [event_key])]
    try:
        etype = source.config.event_type(event.event_type)
    except UnknownNameError:
        etype = None
    values = json.loads(record["vals"]) if isinstance(record["vals"], str) else dict(record["vals"])
    active = status in ("active", "paused")
    return EventPage(event, values, build_flows(etype, stages, runs, active), runs, stages, artifacts,
                     stages_truncated=len(stage_rows) > MAX_STAGES, paused=status == "paused")
