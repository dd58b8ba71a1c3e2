"""Why each target is paused, and the timer that ends ``pause --until TIME`` on time.

The engine's pause flags (``paused_types``, ``EventState.paused`` ...) say *whether* something
is held; this book says *why*: who paused it, when, with what reason, until when.  Both are
folds of the ``paused``/``resumed`` stage rows, so a restart rebuilds them.  An ``--until``
time travels in the ``paused`` row's detail, after the reason: ``"<reason> (until <ISO time>)"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import trio

from ..errors import ControlError
from ..store.writer import now_us
from .targets import parse_target

_UNTIL = re.compile(r"\s*\(until (\S+)\)$")


def iso_us(us: int) -> str:
    """``2026-05-01T12:00:00+00:00`` for epoch microseconds."""
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat(timespec="seconds")


def format_detail(reason: str | None, until_us: int | None) -> str | None:
    """The detail of a ``paused`` row: the reason, then ``(until TIME)`` when it ends by itself."""
    if until_us is None:
        return reason
    suffix = f"(until {iso_us(until_us)})"
    return f"{reason} {suffix}" if reason else suffix


def parse_detail(detail: str | None) -> tuple[str | None, int | None]:
    """``(reason, until_us)`` from a ``paused`` row's detail (the inverse of ``format_detail``)."""
    if not detail:
        return None, None
    match = _UNTIL.search(detail)
    if match is None:
        return detail, None
    try:
        until = int(datetime.fromisoformat(match.group(1)).timestamp() * 1_000_000)
    except ValueError:
        return detail, None
    return detail[: match.start()] or None, until


@dataclass
class Pause:
    """One explicit pause: its target, reason, actor, time and optional end."""

    target: str
    reason: str | None
    actor: str | None
    at_us: int
    until_us: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "reason": self.reason, "actor": self.actor,
                "at": iso_us(self.at_us), "until": iso_us(self.until_us) if self.until_us else None}


class PauseBook:
    """The engine's explicit pauses by target string; a service that resumes them on time."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.entries: dict[str, Pause] = {}
        self._wakeup = trio.Event()

    # -- the book --------------------------------------------------------------------------------
    def add(self, pause: Pause) -> None:
        self.entries[pause.target] = pause
        self._wakeup.set()

    def drop(self, target: str) -> None:
        self.entries.pop(target, None)

    def drop_event(self, key: str) -> None:
        """Forget the pauses inside event ``key`` (it ended, or runs afresh)."""
        prefix = f"event:{key}"
        for target in [t for t in self.entries if t == prefix or t.startswith(prefix + "/")]:
            del self.entries[target]

    def info(self, ev, fs=None, ts=None) -> dict[str, Any] | None:
        """Why the event (or its flow ``fs``, or task ``ts``) is paused; ``None`` if it is not."""
        if ts is not None:
            flag, target = ts.paused, f"event:{ev.key}/{fs.flow.name}.{ts.name}"
        elif fs is not None:
            flag, target = fs.paused, f"event:{ev.key}/{fs.flow.name}"
        else:
            flag, target = ev.paused, f"event:{ev.key}"
        if not flag:
            return None
        entry = self.entries.get(target)
        if entry is not None:
            return entry.as_dict()
        type_name = ev.etype.name
        if ts is None and fs is None and type_name in self.engine.paused_types:
            held = self.entries.get(f"type:{type_name}")
            return held.as_dict() if held else {
                "target": f"type:{type_name}", "reason": self.engine.paused_types[type_name],
                "actor": None, "at": None, "until": None}
        return {"target": target, "reason": None, "actor": None, "at": None, "until": None}

    def listing(self) -> list[dict[str, Any]]:
        """Every explicit pause in force, oldest first."""
        return [p.as_dict() for p in sorted(self.entries.values(), key=lambda p: p.at_us)
                if self._still_paused(p.target)]

    # -- restart ---------------------------------------------------------------------------------
    def restore(self) -> None:
        """Rebuild the book from history, keeping only pauses the engine's flags still hold."""
        rows = self.engine.query(
            """SELECT target, arg_max(action, stage_id), arg_max(detail, stage_id),
                      arg_max(actor, stage_id), arg_max(epoch_us("at"), stage_id)
               FROM stages
               WHERE action IN ('paused', 'resumed') AND target IS NOT NULL
                 AND ((event_key IS NULL AND target LIKE 'type:%') OR target LIKE 'event:%')
               GROUP BY target""").fetchall()
        for target, action, detail, actor, at_us in rows:
            if action != "paused" or not self._still_paused(target):
                continue
            reason, until = parse_detail(detail)
            self.entries[target] = Pause(target, reason, actor, int(at_us), until)
            if target.startswith("type:"):
                self.engine.paused_types[target[5:]] = reason

    def _still_paused(self, text: str) -> bool:
        try:
            target = parse_target(text)
        except ControlError:
            return False
        if target.kind == "type":
            return target.name in self.engine.paused_types
        ev = self.engine.events.get(target.name)
        if ev is None:
            return False
        if target.flow is None:
            return ev.paused
        fs = ev.flows.get(target.flow)
        if fs is None:
            return False
        if target.task is None:
            return fs.paused
        ts = fs.tasks.get(target.task)
        return ts is not None and ts.paused

    # -- the service -----------------------------------------------------------------------------
    def idle(self) -> bool:
        return True     # a pause waiting for its end is not work the engine has to finish

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Resume each ``--until`` pause when its time comes (wall clock, checked every 30 s)."""
        self.restore()
        task_status.started()
        while True:
            self._wakeup = trio.Event()
            due = min((p.until_us for p in self.entries.values() if p.until_us), default=None)
            if due is None:
                await self._wakeup.wait()
                continue
            delay = (due - now_us()) / 1e6
            if delay > 0:
                with trio.move_on_after(min(delay, 30.0)):
                    await self._wakeup.wait()
                continue
            for pause in [p for p in self.entries.values() if p.until_us and p.until_us <= now_us()]:
                await self._expire(pause)

    async def _expire(self, pause: Pause) -> None:
        from .actions import apply

        try:
            await apply(self.engine, {
                "op": "resume", "target": pause.target, "actor": "engine",
                "reason": f"pause ended (until {iso_us(pause.until_us)})"})
        except ControlError:
            pass    # resumed, cancelled or finished meanwhile: nothing left to resume
        self.entries.pop(pause.target, None)
