"""Acting from the dashboard: control commands, their targets, and a confirmation step for
the destructive ones (cancel, skip, reset), testable without a browser.

Commands are the control API's dicts (``docs/cli.md``); they go to the engine through the
source (the handle, or the socket of an engine in another process) and come back only once
committed; with no engine running they are queued in the inbox, and the outcome says so.  Errors (an op the engine does not know yet, a
target in the wrong state) become a message for the dashboard's message area.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import NbflowError, ValidationError

EVENT_OPS = ("pause", "resume", "retry", "skip", "cancel", "clone")
GENERATOR_OPS = ("pause", "resume", "init", "reset")
#: Ops that lose work or state: they ask for a confirmation first.
DESTRUCTIVE = frozenset({"cancel", "skip", "reset"})
ACTOR = "dashboard"


def event_target(event_key: str, flow: str | None = None, task: str | None = None) -> str:
    """``event:KEY``, ``event:KEY/FLOW`` or ``event:KEY/FLOW.TASK``."""
    if task and not flow:
        raise ValidationError(f"task {task!r} needs its flow to make a target", rule="target")
    return f"event:{event_key}" + (f"/{flow}" if flow else "") + (f".{task}" if task else "")


@dataclass(frozen=True)
class Action:
    """One control command, described for a human and for the engine."""

    op: str
    target: str                           # event:KEY[/FLOW[.TASK]] or generator:TYPE.NAME
    reason: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_generator(self) -> bool:
        return self.target.startswith("generator:")

    @property
    def destructive(self) -> bool:
        return self.op in DESTRUCTIVE

    def command(self) -> dict[str, Any]:
        """The control API's dict for this action."""
        if self.is_generator:
            cmd = {"op": "generator", "action": self.op, "name": self.target.split(":", 1)[1]}
        else:
            cmd = {"op": self.op, "target": self.target}
        cmd.update(reason=self.reason or None, actor=ACTOR)
        cmd.update(self.options)
        return cmd

    def describe(self) -> str:
        """``cancel event:KEY/main.fetch`` (what the confirmation asks about)."""
        return f"{self.op} {self.target}"


def event_action(op: str, event_key: str, flow: str | None = None, task: str | None = None,
                 reason: str | None = None, **options: Any) -> Action:
    """An action on an event, one of its flows, or one task of a flow."""
    if op not in EVENT_OPS:
        raise ValidationError(f"{op!r} is not an event action; actions: {', '.join(EVENT_OPS)}",
                              rule="choices")
    return Action(op, event_target(event_key, flow, task), reason, dict(options))


def generator_action(op: str, name: str, reason: str | None = None,
                     state: dict[str, Any] | None = None) -> Action:
    """pause/resume/init/reset of generator ``TYPE.NAME`` (``state`` for init)."""
    if op not in GENERATOR_OPS:
        raise ValidationError(f"{op!r} is not a generator action; actions: {', '.join(GENERATOR_OPS)}",
                              rule="choices")
    options = {"state": state} if op == "init" and state is not None else {}
    return Action(op, f"generator:{name}", reason, options)


@dataclass(frozen=True)
class Outcome:
    """What the message area says after an action."""

    ok: bool
    message: str
    pending: Action | None = None   # set while a destructive action waits for confirmation
    event_key: str | None = None    # a new event the action made (clone)
    queued: bool = False            # no engine ran: the command waits in the inbox


def perform(source, action: Action) -> Outcome:
    """Send ``action`` to the engine; the outcome in words (never raises for a refused command)."""
    try:
        result = source.command(action.command())
    except (NbflowError, LookupError, ValueError, TypeError) as exc:
        return Outcome(False, f"{action.describe()} failed: {exc}")
    info = result if isinstance(result, dict) else {}
    return Outcome(True, f"{action.describe()}: {info.get('summary') or 'done'}",
                   event_key=info.get("event_key"), queued=bool(info.get("queued")))


class Confirmer:
    """Runs safe actions at once and holds destructive ones until ``confirm()``."""

    def __init__(self, source) -> None:
        self.source = source
        self.pending: Action | None = None

    def request(self, action: Action) -> Outcome:
        if action.destructive:
            self.pending = action
            return Outcome(True, f"confirm: {action.describe()}?", pending=action)
        self.pending = None
        return perform(self.source, action)

    def confirm(self) -> Outcome:
        action, self.pending = self.pending, None
        if action is None:
            return Outcome(False, "nothing to confirm")
        return perform(self.source, action)

    def abort(self) -> Outcome:
        action, self.pending = self.pending, None
        return Outcome(True, f"{action.describe()}: not done" if action else "nothing to abort")
