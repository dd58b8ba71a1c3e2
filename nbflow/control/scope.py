"""What a target names in the engine: the live (or, for a finished event, rebuilt) state.

``resolve`` turns a ``Target`` into a ``Scope``: the event, flow and task states it covers.
An event that already reached ``final`` is no longer among the engine's active events; it is
rebuilt from history (``recovery.load_event``) so that a retry or a skip can reopen it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.state import DONE, EventState, FlowState, TaskState
from ..errors import ControlError, UnknownNameError
from .targets import Target


@dataclass
class Scope:
    """The states a target covers; ``live`` is False for an event rebuilt from history."""

    target: Target
    ev: EventState | None = None
    fs: FlowState | None = None
    ts: TaskState | None = None
    live: bool = True

    def describe(self) -> str:
        """``event KEY (label)``, ``flow main of event KEY``, ``task main.a of event KEY``."""
        t = self.target
        if t.kind != "event":
            return f"{t.kind} {t.name}"
        if self.ts is not None:
            return f"task {self.fs.flow.name}.{self.ts.name} of event {self.ev.key}"
        if self.fs is not None:
            return f"flow {self.fs.flow.name} of event {self.ev.key}"
        return f"event {self.ev.key} ({self.ev.label})"

    def flows(self) -> list[FlowState]:
        """The flows in scope: the one named, or every started flow of the event."""
        if self.fs is not None:
            return [self.fs]
        return [fs for fs in self.ev.flows.values() if fs.active]

    def remaining(self) -> list[tuple[FlowState, TaskState]]:
        """Tasks in scope that have not ended (running, queued, waiting, held)."""
        if self.ts is not None:
            return [] if self.ts.status in DONE else [(self.fs, self.ts)]
        return [(fs, ts) for fs in self.flows() if not fs.done
                for ts in fs.tasks.values() if ts.status not in DONE]

    def outcome(self) -> str:
        """How a finished event ended (for messages)."""
        ev = self.ev
        return "skipped" if ev.skipped else ev.outcome()


async def resolve(engine, target: Target) -> Scope:
    """The ``Scope`` of ``target``; ``ControlError`` naming what does not exist."""
    if target.kind == "type":
        try:
            engine.config.event_type(target.name)
        except UnknownNameError as exc:
            raise ControlError(str(exc)) from None
        return Scope(target)
    ev, live = engine.events.get(target.name), True
    if ev is None:
        ev, live = await _load(engine, target.name)
    scope = Scope(target, ev, live=live)
    if target.flow is not None:
        scope.fs = ev.flows.get(target.flow)
        if scope.fs is None:
            raise ControlError(
                f"event {ev.key} (type {ev.etype.name}) has no flow {target.flow!r}; its flows: "
                f"{', '.join(ev.flows) or '(none)'}")
    if target.task is not None:
        scope.ts = scope.fs.tasks.get(target.task)
        if scope.ts is None:
            raise ControlError(
                f"flow {target.flow!r} of event {ev.key} has no task {target.task!r}; its tasks: "
                f"{', '.join(scope.fs.tasks)}")
    return scope


async def _load(engine, key: str) -> tuple[EventState, bool]:
    from ..engine.recovery import load_event

    # Everything appended before now is committed once this returns: the rows of an event
    # that is no longer active were all appended before it left the active ones.
    await engine.writer.durable()
    if key in engine.events:           # reactivated while we waited
        return engine.events[key], True
    try:
        ev = load_event(engine, key)
    except UnknownNameError as exc:
        raise ControlError(f"event {key}: its type is no longer in the config ({exc})") from None
    if ev is None:
        raise ControlError(f"no event {key!r} in the history of {engine.ws.home}")
    return ev, False
