"""Deadlines: flows ``on: deadline`` start when an event is still not final at its deadline.

An event type's ``deadline`` is a duration after the event was emitted, or an OnExp (the
first fire after it was emitted).  Deadlines are computed from the event's ``created_at``,
so they survive a restart: recovered events are watched again, and one whose deadline
passed while no engine ran is late at once.  An event that reached ``final`` in time is
dropped from the engine's active events, and its deadline flows never run.

When a deadline passes, each inactive deadline flow gets a flow-level ``invoked`` stage
whose detail says why (``deadline passed: ...``, actor ``deadline``), then its tasks start.
"""

from __future__ import annotations

import trio

from ..durations import format_duration
from .fires import from_epoch_us
from .timers import WallTimers


class DeadlineService:
    """Watches active events of types with deadline flows; started by the engine."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.types = {et.name: et for et in engine.config.event_types
                      if et.deadline is not None and any(f.on == "deadline" for f in et.flows)}
        self._schedules = {name: et.deadline.on_time.schedule() for name, et in self.types.items()
                           if et.deadline.on_time is not None}
        self.timers = WallTimers()
        engine.deadlines = self
        if self.types:
            engine.listeners.append(self._on_stage)

    def idle(self) -> bool:
        return True   # a pending deadline belongs to an active event, which keeps the engine busy

    def due_at(self, type_name: str, created_us: int) -> float | None:
        """The epoch second at which an event of ``type_name`` created then is late."""
        deadline = self.types[type_name].deadline
        if deadline.after is not None:
            return created_us / 1e6 + deadline.after
        nxt = self._schedules[type_name].next(from_epoch_us(created_us))
        return None if nxt is None else nxt.timestamp()

    def describe(self, type_name: str) -> str:
        deadline = self.types[type_name].deadline
        if deadline.after is not None:
            return f"{format_duration(deadline.after)} after it was emitted"
        return f"the next fire of {deadline.on_time.onexp} ({deadline.on_time.timezone}) after it was emitted"

    def _on_stage(self, row) -> None:
        if row.action != "emitted" or row.flow is not None or row.event_key is None:
            return
        ev = self.engine.events.get(row.event_key)
        if ev is not None and ev.etype.name in self.types:
            self._watch(ev)

    def _watch(self, ev) -> None:
        when = self.due_at(ev.etype.name, ev.created_us)
        if when is not None:
            self.timers.add(when, ev.key)

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        for ev in list(self.engine.events.values()):   # recovered events: from their created_at
            if ev.etype.name in self.types:
                self._watch(ev)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.timers.run, self._on_due, name="nbflow-deadlines")
            task_status.started()

    def _on_due(self, when: float, event_key: str) -> None:
        ev = self.engine.events.get(event_key)
        if ev is None:
            return   # final in time (or gone): the deadline flows do not run
        detail = f"deadline passed: {self.describe(ev.etype.name)}, and the event is not final"
        for fs in list(ev.flows.values()):
            if fs.flow.on != "deadline" or fs.active:
                continue
            fs.started = True   # the invoked stage below says why; _dispatch must not add another
            self.engine.stage(event_key, fs.flow.name, None, None, "invoked", detail, actor="deadline")
            self.engine.activate_flow(ev, fs.flow.name)
