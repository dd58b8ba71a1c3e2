"""Live state of active events: which tasks wait, run, succeeded or failed (the DAG logic).

Pure bookkeeping, no I/O: the engine changes it and records each change as a stage row, so
recovery can rebuild it by folding the ``stages`` log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..spec.model import EventType, Flow, Task

#: Task statuses in which a task is done for good (until a retry or a reset).
DONE = frozenset({"success", "failure", "skipped", "cancelled"})
#: Statuses that let dependants go on.
PASSED = frozenset({"success", "skipped"})
#: Statuses that stop dependants.
BLOCKING = frozenset({"failure", "cancelled"})


@dataclass(eq=False)
class TaskState:
    """One task of one event's flow."""

    task: Task
    status: str = "waiting"      # waiting ready running retry_wait success failure skipped cancelled
    attempt: int = 0             # the attempt running or last run; 0 before the first
    paused: bool = False
    scope: Any = None            # the trio.CancelScope of the running attempt
    started_at: float | None = None
    cancel_reason: str | None = None
    # A control action that cancels the running attempt ends it its own way (records the
    # ``cancelled`` row with its actor, then skips or re-queues the task): ``fn(run_id, result)``.
    after_cancel: Any = None
    ticket: Any = None           # the dispatch that may run this task (a newer one wins)

    @property
    def name(self) -> str:
        return self.task.name


@dataclass(eq=False)
class FlowState:
    """One flow of one event: its tasks and whether it is done."""

    flow: Flow
    tasks: dict[str, TaskState]
    paused: bool = False
    started: bool = False
    done: bool = False
    active: bool = True          # deadline flows are inactive until the deadline passes

    @classmethod
    def new(cls, flow: Flow) -> FlowState:
        return cls(flow, {t.name: TaskState(t) for t in flow.tasks}, active=flow.on == "event")

    def deps_passed(self, ts: TaskState) -> bool:
        return all(self.tasks[d].status in PASSED for d in ts.task.depends_on)

    def blocked(self, ts: TaskState) -> bool:
        """True when a dependency (direct or not) failed or was cancelled."""
        for dep in ts.task.depends_on:
            dep_state = self.tasks[dep]
            if dep_state.status in BLOCKING or (dep_state.status == "waiting" and self.blocked(dep_state)):
                return True
        return False

    def newly_ready(self) -> list[TaskState]:
        """Waiting tasks whose dependencies all passed, in flow order; marks them ready."""
        out = []
        for ts in self.tasks.values():
            if ts.status == "waiting" and self.deps_passed(ts):
                ts.status = "ready"
                out.append(ts)
        return out

    def is_finished(self) -> bool:
        """Nothing runs, waits for a slot or a retry, and nothing waiting can ever start."""
        for ts in self.tasks.values():
            if ts.status in ("ready", "queued", "running", "retry_wait", "interrupted"):
                return False
            if ts.status == "waiting" and not self.blocked(ts):
                return False
        return True

    def outcome(self) -> str:
        statuses = {ts.status for ts in self.tasks.values()}
        if statuses & BLOCKING or "waiting" in statuses:
            return "failure"
        return "success"


@dataclass(eq=False)
class EventState:
    """An active event: its values and the state of each of its flows."""

    key: str
    etype: EventType
    values: dict[str, Any]
    flows: dict[str, FlowState] = field(default_factory=dict)
    paused: bool = False
    created_us: int = 0
    skipped: bool = False
    event_obj: Any = None        # the spec Event handed to tasks (built once)
    folders: Any = None          # its runs' EventFolders (built once, made on first need)

    @classmethod
    def new(cls, key: str, etype: EventType, values: dict[str, Any], created_us: int) -> EventState:
        flows = {f.name: FlowState.new(f) for f in etype.flows}
        return cls(key, etype, values, flows, created_us=created_us)

    @property
    def label(self) -> str:
        return self.etype.label(self.values)

    def is_finished(self) -> bool:
        return all(fs.done or not fs.active for fs in self.flows.values())

    def outcome(self) -> str:
        if self.skipped:
            return "skipped"
        outcomes = {fs.flow.name: fs.outcome() for fs in self.flows.values() if fs.started}
        return "failure" if "failure" in outcomes.values() else "success"
