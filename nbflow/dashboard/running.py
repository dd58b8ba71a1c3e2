"""What runs now: active events, their flows and tasks with elapsed times, from the engine's
live status (no SQL on the hot path: a flow's start time is read once, when it appears)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

#: Task statuses shown in the running view (a finished flow's tasks are summarised).
LIVE = ("running", "queued", "ready", "retry_wait", "waiting", "interrupted")


@dataclass(frozen=True)
class RunningTask:
    task: str
    status: str
    attempt: int
    paused: bool
    elapsed: float | None       # seconds, while running


@dataclass(frozen=True)
class RunningFlow:
    flow: str
    paused: bool
    done: bool
    tasks: list[RunningTask]
    elapsed: float | None       # since the flow was invoked, if it was

    @property
    def running(self) -> int:
        return sum(1 for t in self.tasks if t.status == "running")


@dataclass(frozen=True)
class RunningEvent:
    event_key: str
    label: str
    paused: bool
    elapsed: float
    flows: list[RunningFlow]

    @property
    def running(self) -> int:
        return sum(f.running for f in self.flows)


@dataclass(frozen=True)
class Running:
    """One snapshot of the running view."""

    events: list[RunningEvent]
    running_tasks: int
    max_parallel: int
    paused_types: dict[str, Any]
    counts: dict[str, int]
    taken_at: float = field(default_factory=time.time)

    def signature(self) -> tuple:
        """Changes whenever anything but elapsed times changes: history moved on."""
        return (tuple(sorted(self.counts.items())), tuple(sorted(self.paused_types)),
                tuple((e.event_key, e.paused, tuple(
                    (f.flow, f.paused, f.done, tuple((t.task, t.status, t.attempt, t.paused) for t in f.tasks))
                    for f in e.flows)) for e in self.events))

    def event(self, key: str) -> RunningEvent | None:
        return next((e for e in self.events if e.event_key == key), None)


class RunningModel:
    """Turns ``status()`` snapshots into ``Running``; remembers when each flow started."""

    def __init__(self, source) -> None:
        self.source = source
        self._flow_started: dict[tuple[str, str], float] = {}

    def _flow_start_times(self, status: dict[str, Any]) -> None:
        active = {(e["event_key"], f["flow"]) for e in status["events"] for f in e["flows"]}
        for gone in [k for k in self._flow_started if k not in active]:
            del self._flow_started[gone]
        # A flow is invoked once one of its tasks was dispatched: ask only for those.
        wanted = [(e["event_key"], f["flow"]) for e in status["events"] for f in e["flows"]
                  if (e["event_key"], f["flow"]) not in self._flow_started
                  and any(t["status"] not in ("waiting", "ready") for t in f["tasks"])]
        if not wanted:
            return
        keys = sorted({k for k, _ in wanted})
        rows = self.source.sql(
            'SELECT event_key, flow, epoch_us(min("at")) AS us FROM stages '
            f"WHERE event_key IN ({', '.join('?' for _ in keys)}) AND flow IS NOT NULL AND task IS NULL "
            "AND action = 'invoked' GROUP BY event_key, flow", keys)
        for r in rows:
            self._flow_started[(r["event_key"], r["flow"])] = r["us"] / 1e6

    def snapshot(self, status: dict[str, Any] | None = None) -> Running:
        """The running view now (``status`` defaults to asking the engine)."""
        status = status if status is not None else self.source.status()
        self._flow_start_times(status)
        now = time.time()
        events = []
        for e in status["events"]:
            flows = []
            for f in e["flows"]:
                started = self._flow_started.get((e["event_key"], f["flow"]))
                tasks = [RunningTask(t["task"], t["status"], t["attempt"], t["paused"], t.get("elapsed"))
                         for t in f["tasks"]]
                flows.append(RunningFlow(f["flow"], f["paused"], f["done"], tasks,
                                         None if started is None or f["done"] else round(now - started, 3)))
            events.append(RunningEvent(e["event_key"], e["label"], e["paused"], e["elapsed"], flows))
        return Running(events, status.get("running", 0), status.get("max_parallel", 0),
                       dict(status.get("paused_types") or {}), dict(status.get("counts") or {}), now)
