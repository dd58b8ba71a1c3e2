"""The engine: one ``trio.run`` that turns commands into events and events into task runs.

Everything that happens is appended to the history writer as a stage row; the in-memory
state (``state.py``) is a cache of the fold of those rows that recovery can rebuild.  Every
background job belongs to a nursery of the engine; other threads reach it only through
``trio.from_thread`` with its token (see ``nbflow.handle``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import trio

from ..keys import new_event_key
from ..spec.model import Config, EventType
from ..spec.values import to_json_value
from ..store.writer import HistoryWriter, now_us
from ..workspace import Workspace
from .observe import Observing
from .scheduling import Scheduling
from .state import EventState


class StageRow(NamedTuple):
    """A stage as listeners see it; the same fields, in the same order, as the ``stages`` table
    (a plain tuple: it goes to the history writer as it is)."""

    stage_id: int
    event_key: str | None
    flow: str | None
    task: str | None
    run: int | None
    action: str
    at_us: int
    detail: str | None = None
    run_id: str | None = None
    exit_code: int | None = None
    actor: str | None = None
    target: str | None = None


class Engine(Scheduling, Observing):
    """Runs a ``Config`` on a ``Workspace``; start it with ``await nursery.start(engine.run)``."""

    def __init__(self, config: Config, workspace: Workspace, *, max_parallel: int | None = None,
                 actor: str = "engine") -> None:
        self.config = config
        self.ws = workspace
        self.actor = actor
        self.max_parallel = max_parallel or config.engine.max_parallel or os.cpu_count() or 2
        self.events: dict[str, EventState] = {}          # active events by key
        self.base_envb = dict(os.environb)   # what task processes start from, encoded once
        from .journal import RunJournal

        self.journal = RunJournal(workspace.home / "runs.journal")
        self.paused_types: dict[str, str | None] = {}     # type -> reason
        self.listeners: list[Callable[[StageRow], None]] = []
        self.writer: HistoryWriter | None = None
        self.con = None
        self.token: trio.lowlevel.TrioToken | None = None
        self.started_us = 0
        self.counts = {"events": 0, "success": 0, "failure": 0, "runs": 0}
        self._next_stage_id = 1
        self._next_artifact_id = 1
        self._stop = trio.Event()
        self._inbox_wakeup = trio.Event()
        self._idle_check = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._limiter = trio.CapacityLimiter(self.max_parallel)
        self._known_keys: set[str] = set()
        self._inbox_busy = False
        # Wake-ups received, and how many had been received when the inbox was last listed:
        # producers (``nbflow emit`` in a task) wake the engine before they return, so a task's
        # end needs a listing of the inbox only when a wake-up came in since the last one.
        self._wakes = 0
        self._wakes_listed = 0
        # Background services started with the engine (generators, deadlines): objects with
        # ``async run(*, task_status)`` and ``idle() -> bool``.
        from ..generators import services_for

        self.services: list[Any] = services_for(self)
        # Control actions (pause, retry, ...): their commands, why each target is paused, and
        # the service that ends ``pause --until`` on time.
        from ..control import attach

        self.pauses = attach(self)
        self.services.append(self.pauses)

    # -- lifecycle ------------------------------------------------------------------------------
    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Run until ``stop()``; ``task_status.started(self)`` once the engine accepts work."""
        from . import recovery, server
        from .lock import EngineLock
        from .store_open import open_history

        self.ws.ensure()
        lock = EngineLock(self.ws)
        lock.acquire()
        try:
            self.con = await trio.to_thread.run_sync(open_history, self.ws, self.config)
            self.writer = HistoryWriter(self.con)
            self._next_stage_id = self._max_id("stages", "stage_id") + 1
            self._next_artifact_id = self._max_id("artifacts", "artifact_id") + 1
            self.token = trio.lowlevel.current_trio_token()
            self.started_us = now_us()
            self.journal.load()
            pending_runs = recovery.recover(self)
            self.writer.flush_sync()
            self.journal.open()   # what it held is reconciled and committed now
            async with trio.open_nursery() as outer:
                await outer.start(self.writer.run)
                try:
                    async with trio.open_nursery() as nursery:
                        self._nursery = nursery
                        await nursery.start(server.serve, self)
                        for service in self.services:
                            await nursery.start(service.run)
                        for ev, fs, ts in pending_runs:
                            self._dispatch(ev, fs, ts)
                        for ev in list(self.events.values()):
                            self._start_flows(ev)   # ends what the crash left finished but open
                        nursery.start_soon(self._watch_inbox, name="nbflow-inbox")
                        task_status.started(self)
                        await self._stop.wait()
                        nursery.cancel_scope.cancel()
                finally:
                    self._nursery = None
                    outer.cancel_scope.cancel()   # the writer flushes what is left, shielded
        finally:
            self.journal.close()
            if self.con is not None:
                self.con.close()
                self.con = None
            lock.release()

    def stop(self) -> None:
        """Ask the engine to stop: running tasks are interrupted (and re-run after a restart)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _max_id(self, table: str, column: str) -> int:
        return int(self.con.execute(f"SELECT coalesce(max({column}), 0) FROM {table}").fetchone()[0])

    # -- recording ------------------------------------------------------------------------------
    def stage(self, event_key: str | None, flow: str | None, task: str | None, run: int | None,
              action: str, detail: str | None = None, *, run_id: str | None = None,
              exit_code: int | None = None, actor: str | None = None, target: str | None = None) -> int:
        """Append a stage row and tell the listeners; returns the writer's sequence number."""
        row = StageRow(self._next_stage_id, event_key, flow, task, run, action, now_us(), detail,
                       run_id, exit_code, actor or self.actor, target)
        self._next_stage_id += 1
        seq = self.writer.append("stages", row)
        for listener in self.listeners:
            listener(row)
        return seq

    def add_artifact(self, run_id_: str | None, event_key: str | None, name: str, kind: str,
                     path: str, size_bytes: int | None) -> int:
        seq = self.writer.append("artifacts", (
            self._next_artifact_id, run_id_, event_key, name, kind, path, size_bytes, now_us()))
        self._next_artifact_id += 1
        return seq

    # -- events ---------------------------------------------------------------------------------
    def event_type(self, name: str) -> EventType:
        return self.config.event_type(name)

    def create_event(self, etype: EventType, values: dict[str, Any], *, source: str = "user",
                     event_key: str | None = None, generator: str | None = None,
                     parent_run_id: str | None = None, cause: str | None = None,
                     command_id: str | None = None, validated: bool = False) -> tuple[str, int]:
        """Record a new event and start its flows; returns (key, writer sequence number).

        ``values`` are validated here unless the caller already did.
        """
        typed = values if validated else etype.validate(values)
        key = event_key or new_event_key()
        created = now_us()
        label = etype.label(typed)
        self.writer.append("event_log", (
            key, etype.name, label, json.dumps({k: to_json_value(v) for k, v in typed.items()}),
            source, generator, parent_run_id, cause, created, command_id))
        self._known_keys.add(key)
        ev = EventState.new(key, etype, typed, created)
        if etype.name in self.paused_types:
            ev.paused = True
        self.events[key] = ev
        self.counts["events"] += 1
        seq = self.stage(key, None, None, None, "emitted", label,
                         actor=generator or (parent_run_id and "task") or source)
        if ev.paused:
            seq = self.stage(key, None, None, None, "paused",
                             f"type {etype.name} is paused", target=f"type:{etype.name}")
        if event_key is not None and any(r.startswith(key + "/") for r in self.journal.found):
            # An inbox command replayed after a crash that lost the event's first rows: its
            # runs may have started already; record them as lost before anything starts again.
            from .recovery import _fold, unrecorded_runs

            for run in _fold(self, ev, etype, unrecorded_runs(self, ev, [])):
                self._dispatch(*run)
        self._start_flows(ev)
        return key, seq

    async def emit(self, event_type: str, values: dict[str, Any], *, source: str = "user",
                   parent_run_id: str | None = None, generator: str | None = None,
                   cause: str | None = None, event_key: str | None = None) -> str:
        """Create an event and return its key once its row is committed."""
        key, seq = self.create_event(self.event_type(event_type), values, source=source,
                                     parent_run_id=parent_run_id, generator=generator, cause=cause,
                                     event_key=event_key)
        await self.writer.durable(seq)
        return key

    def _start_flows(self, ev: EventState) -> None:
        for fs in ev.flows.values():
            if fs.active:
                self._advance_flow(ev, fs)
        self._maybe_finish_event(ev)

    # -- run contexts -----------------------------------------------------------------------------
    def emit_from_thread(self, event_type: str, values: dict[str, Any], *,
                         parent_run_id: str | None = None, source: str | None = None) -> str:
        """``emit`` for code running in another thread (Python tasks, the kernel's handle).

        On the engine's own thread (an ``async`` Python task) the event is created at once
        and committed with the next batch.
        """
        try:
            trio.lowlevel.current_task()
        except RuntimeError:
            return trio.from_thread.run(
                lambda: self.emit(event_type, values, parent_run_id=parent_run_id,
                                  source=source or ("task" if parent_run_id else "user")),
                trio_token=self.token)
        key, _ = self.create_event(self.event_type(event_type), values, parent_run_id=parent_run_id,
                                   source=source or ("task" if parent_run_id else "user"))
        return key

    def publish_from_run(self, ctx, obj: Any, kind: str, name: str | None) -> Path:
        """``ctx.publish`` of a Python task: store the file, record the artifact row."""
        from ..taskapi import store_artifact

        name, target = store_artifact(ctx.run_dir, obj, kind, name)
        size = target.stat().st_size

        def record() -> None:
            self.add_artifact(ctx.run_id, ctx.event_key, name, kind, str(target.resolve()), size)

        try:
            trio.lowlevel.current_task()
        except RuntimeError:
            trio.from_thread.run_sync(record, trio_token=self.token)
        else:
            record()
        return target

    # -- the inbox ------------------------------------------------------------------------------
    def wake_inbox(self) -> None:
        self._wakes += 1
        self._inbox_wakeup.set()

    async def _watch_inbox(self) -> None:
        from .commands import apply_inbox

        while True:
            await apply_inbox(self)
            with trio.move_on_after(self.config.engine.poll_interval):
                await self._inbox_wakeup.wait()
            self._inbox_wakeup = trio.Event()

    async def drain_inbox(self) -> None:
        """Apply whatever the inbox holds now (before recording a task's end, so what the task
        emitted or published lands before its success)."""
        from .commands import apply_inbox

        if self._wakes != self._wakes_listed:
            await apply_inbox(self)
