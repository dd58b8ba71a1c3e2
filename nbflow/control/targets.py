"""Targets of control actions, one syntax on every surface (CLI, Python handle, dashboard).

``type:NAME``, ``event:KEY``, ``event:KEY/FLOW``, ``event:KEY/FLOW.TASK`` and
``generator:[TYPE.]NAME``.  Parsing only checks the shape; whether the names exist is checked
against the engine's config and history when the action is applied.  Light on purpose: the CLI
imports it before talking to the engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ControlError

_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_KEY = r"[^/\s]+"
_FORMS = {
    "type": re.compile(rf"({_NAME})"),
    "event": re.compile(rf"({_KEY})(?:/({_NAME})(?:\.({_NAME}))?)?"),
    "generator": re.compile(rf"(?:({_NAME})\.)?({_NAME})"),
}
SYNTAX = "type:NAME, event:KEY, event:KEY/FLOW, event:KEY/FLOW.TASK or generator:[TYPE.]NAME"


@dataclass(frozen=True)
class Target:
    """What a control action applies to.

    ``kind`` is ``type``, ``event`` or ``generator``; ``name`` is the type name, the event
    key or the generator name; ``flow`` and ``task`` narrow an event target; ``event_type``
    qualifies a generator name (``None`` for a bare name).
    """

    kind: str
    name: str
    flow: str | None = None
    task: str | None = None
    event_type: str | None = None

    @property
    def level(self) -> str:
        """``type``, ``event``, ``flow``, ``task`` or ``generator``."""
        if self.kind != "event":
            return self.kind
        return "task" if self.task else "flow" if self.flow else "event"

    @property
    def key(self) -> str | None:
        """The event key of an event, flow or task target."""
        return self.name if self.kind == "event" else None

    def event_target(self) -> Target:
        """The event this flow or task target belongs to."""
        return Target("event", self.name)

    def flow_target(self) -> Target:
        """The flow this task target belongs to."""
        return Target("event", self.name, self.flow)

    def __str__(self) -> str:
        if self.kind == "event":
            text = f"event:{self.name}"
            if self.flow:
                text += f"/{self.flow}"
                if self.task:
                    text += f".{self.task}"
            return text
        if self.kind == "generator" and self.event_type:
            return f"generator:{self.event_type}.{self.name}"
        return f"{self.kind}:{self.name}"


def parse_target(text: str | Target) -> Target:
    """The ``Target`` that ``text`` names; ``ControlError`` saying what is wrong otherwise."""
    if isinstance(text, Target):
        return text
    if not isinstance(text, str) or not text.strip():
        raise ControlError(f"a control action needs a target: {SYNTAX}")
    raw = text.strip()
    kind, sep, rest = raw.partition(":")
    if not sep:
        raise ControlError(f"target {raw!r} has no kind: write {SYNTAX}")
    kind = kind.strip().lower()
    pattern = _FORMS.get(kind)
    if pattern is None:
        raise ControlError(f"target {raw!r}: unknown kind {kind!r}; write {SYNTAX}")
    match = pattern.fullmatch(rest.strip())
    if match is None:
        raise ControlError(f"target {raw!r} is not of the form {_form_of(kind)}")
    if kind == "type":
        return Target("type", match.group(1))
    if kind == "generator":
        return Target("generator", match.group(2), event_type=match.group(1))
    key, flow, task = match.groups()
    return Target("event", key, flow, task)


def _form_of(kind: str) -> str:
    return {"type": "type:NAME (an event type's name)",
            "event": "event:KEY, event:KEY/FLOW or event:KEY/FLOW.TASK",
            "generator": "generator:NAME or generator:TYPE.NAME"}[kind]
