"""How an event's flows move on: dispatching ready tasks, finishing flows and events.

A mixin of ``Engine`` (state in ``engine.events``; every transition recorded with
``engine.stage``), kept apart from the engine's lifecycle so the DAG rules read in one place.
"""

from __future__ import annotations

from .state import EventState, FlowState, TaskState


class Scheduling:
    def is_paused(self, ev: EventState, fs: FlowState, ts: TaskState) -> bool:
        return ev.paused or fs.paused or ts.paused or ev.etype.name in self.paused_types

    def _dispatch(self, ev: EventState, fs: FlowState, ts: TaskState) -> None:
        """Start ``ts`` unless something above it is paused (then it waits, ready)."""
        if self.is_paused(ev, fs, ts) or self._nursery is None or self.stopping:
            ts.status = "ready"
            return
        if not fs.started:
            fs.started = True
            self.stage(ev.key, fs.flow.name, None, None, "invoked")
        ts.status = "queued"
        from .taskrun import run_task

        self._nursery.start_soon(run_task, self, ev, fs, ts)

    def _advance_flow(self, ev: EventState, fs: FlowState) -> None:
        for ts in fs.newly_ready():
            self._dispatch(ev, fs, ts)
        if fs.is_finished() and not fs.done:
            self._finish_flow(ev, fs)

    def _finish_flow(self, ev: EventState, fs: FlowState) -> None:
        fs.done = True
        if not fs.started:
            # A flow with no tasks, or whose tasks were all skipped before starting.
            fs.started = True
            self.stage(ev.key, fs.flow.name, None, None, "invoked")
        outcome = fs.outcome()
        self.stage(ev.key, fs.flow.name, None, None, outcome)
        self.stage(ev.key, fs.flow.name, None, None, "final", outcome)

    def _maybe_finish_event(self, ev: EventState) -> None:
        if ev.key in self.events and ev.is_finished():
            outcome = ev.outcome()
            if outcome in ("success", "failure"):
                self.stage(ev.key, None, None, None, outcome)
            self.stage(ev.key, None, None, None, "final", outcome)
            del self.events[ev.key]
            self.counts["failure" if outcome == "failure" else "success"] += 1
            self._idle_check.set()

    def task_done(self, ev: EventState, fs: FlowState, ts: TaskState) -> None:
        """Called by a run when its task reached a final status: move the DAG on."""
        self._advance_flow(ev, fs)
        self._maybe_finish_event(ev)

    def activate_flow(self, ev: EventState, flow: str) -> None:
        """Start an inactive flow of an active event (a deadline flow once the event is late)."""
        fs = ev.flows[flow]
        if fs.active:
            return
        fs.active = True
        self._advance_flow(ev, fs)
        self._maybe_finish_event(ev)

    def reactivate(self, ev: EventState, detail: str = "event active again", *,
                   actor: str | None = None, target: str | None = None) -> None:
        """Put a finished event back among the active ones (retry of a finished event)."""
        if ev.key not in self.events:
            self.events[ev.key] = ev
            self.stage(ev.key, None, None, None, "retried", detail, actor=actor, target=target)

    def resume_ready(self) -> None:
        """Dispatch every ready task that nothing pauses any more."""
        for ev in list(self.events.values()):
            for fs in ev.flows.values():
                if not fs.active or fs.done:
                    continue
                for ts in fs.tasks.values():
                    if ts.status == "ready":
                        self._dispatch(ev, fs, ts)
