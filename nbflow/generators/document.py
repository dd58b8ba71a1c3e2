"""A generator's persistent state document: built-in fields nbflow keeps, and user fields.

Stored as JSON in ``generator_state`` (one row per change; the ``generators`` view shows the
latest).  The layout users see (and query with ``state ->> '$.last_fire'``)::

    {"last_fire": "2026-12-04T16:00:00+00:00",   # last timer instant evaluated (catch-up starts after it)
     "last_event_key": "...",                     # the last event it emitted
     "last_trigger": "timer:2026-...",            # what made it evaluate last
     "held_on": "...",                            # the event a hold waits for (null: not held)
     "pending": [{"kind": "timer", "fire_time": ...}],   # fires waiting (held or paused), oldest first
     "paused": false, "paused_reason": null,
     "emitted": 42,                               # events emitted so far
     "cleared": [{"from": ..., "before_tick": 17, "by": ..., "reason": ...}],   # idempotency keys cleared
     "commands": ["<inbox command id>", ...],     # inbox commands applied (a replayed file is a no-op)
     "subscribed": {"patterns": ["ingest:final"], "through_stage": 812, "next_tick": 95},
                                                  # subscriptions: stages up to 812 are evaluated (missed.py)
     "user": {...}}                               # user fields: config `state:`, custom generators
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

#: Built-in fields a ``vals`` template may read as ``{state.<name>}`` (user fields win a clash).
PUBLIC_BUILTINS = ("last_fire", "last_event_key", "emitted")
_KEEP_COMMANDS = 50
_KEEP_CLEARED = 20


@dataclass
class GeneratorDoc:
    """The state document of one generator (see the module docstring for the layout)."""

    user: dict[str, Any]
    last_fire: str | None = None
    last_event_key: str | None = None
    last_trigger: str | None = None
    held_on: str | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    paused: bool = False
    paused_reason: str | None = None
    emitted: int = 0
    cleared: list[dict[str, Any]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    #: ``{"patterns": [...], "through_stage": N, "next_tick": T}``: with these patterns, every
    #: stage up to N has been evaluated, and any later stage's tick has an id >= T (missed.py).
    subscribed: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        """``paused`` or ``active``: the ``status`` column of ``generators``."""
        return "paused" if self.paused else "active"

    def to_json(self) -> dict[str, Any]:
        return {"last_fire": self.last_fire, "last_event_key": self.last_event_key,
                "last_trigger": self.last_trigger, "held_on": self.held_on,
                "pending": list(self.pending), "paused": self.paused,
                "paused_reason": self.paused_reason, "emitted": self.emitted,
                "cleared": list(self.cleared), "commands": list(self.commands),
                "subscribed": self.subscribed, "user": self.user}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GeneratorDoc:
        """A stored document; unknown keys are ignored, missing ones take their defaults."""
        user = data.get("user")
        return cls(user=dict(user) if isinstance(user, dict) else {},
                   last_fire=data.get("last_fire"), last_event_key=data.get("last_event_key"),
                   last_trigger=data.get("last_trigger"), held_on=data.get("held_on"),
                   pending=list(data.get("pending") or []), paused=bool(data.get("paused")),
                   paused_reason=data.get("paused_reason"), emitted=int(data.get("emitted") or 0),
                   cleared=list(data.get("cleared") or []), commands=list(data.get("commands") or []),
                   subscribed=_subscribed(data.get("subscribed")))

    @classmethod
    def initial(cls, user: dict[str, Any]) -> GeneratorDoc:
        return cls(user=copy.deepcopy(dict(user)))

    def template_view(self) -> dict[str, Any]:
        """What ``{state.x}`` reads: the user fields over the public built-ins."""
        view = {name: getattr(self, name) for name in PUBLIC_BUILTINS}
        view.update(self.user)
        return view

    def remember_command(self, command_id: str) -> None:
        self.commands.append(command_id)
        del self.commands[:-_KEEP_COMMANDS]

    def add_clearing(self, clearing: dict[str, Any]) -> None:
        self.cleared.append(clearing)
        del self.cleared[:-_KEEP_CLEARED]

    def note_stage(self, stage_id: int, next_tick: int) -> None:
        """A subscription fire of stage ``stage_id`` was evaluated; ``next_tick`` is the tick id
        the log gives next (what a later stage's evaluation gets at least)."""
        if self.subscribed is not None and stage_id > self.subscribed["through_stage"]:
            self.subscribed["through_stage"], self.subscribed["next_tick"] = stage_id, next_tick


def _subscribed(data: Any) -> dict[str, Any] | None:
    """The stored ``subscribed`` record, or None when absent or not of the expected shape
    (a document written before it existed: its generator then recovers nothing once)."""
    if not isinstance(data, dict):
        return None
    try:
        return {"patterns": [str(p) for p in data["patterns"]], "through_stage": int(data["through_stage"]),
                "next_tick": int(data["next_tick"])}
    except (KeyError, TypeError, ValueError):
        return None
