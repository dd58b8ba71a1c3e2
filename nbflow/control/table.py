"""Which control action applies in which state: the table behind ``docs/control.md``, as data.

One ``Cell`` per (level, state, action).  ``result`` is what the target looks like once the
action took effect (``paused``, ``running``, ``rerun``, ``skipped``, ``cancelled``, ...), or,
for a refused action, a fragment of the refusal message.  ``tests/test_control_table.py``
walks every cell against a real engine, and checks that the docs carry this table verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass

ACTIONS = ("pause", "resume", "retry", "skip", "cancel", "clone")

#: The states of each level that the table distinguishes (what a user sees in ``status``).
STATES: dict[str, tuple[str, ...]] = {
    "type": ("active", "paused"),
    "event": ("running", "paused", "failed", "succeeded"),
    "flow": ("running", "paused", "failed", "succeeded"),
    "task": ("waiting", "running", "paused", "retry_wait", "success", "failure", "cancelled", "skipped"),
}


@dataclass(frozen=True)
class Cell:
    """One action on a target of one level in one state."""

    level: str
    state: str
    action: str
    applies: bool
    result: str          # the target's state afterwards, or a fragment of the refusal message
    effect: str = ""     # what happens, in words (running processes included)

    @property
    def short(self) -> str:
        return f"**{self.result}**" if self.applies else f"refused: {self.result}"


def _refuse(fragment: str) -> tuple[bool, str, str]:
    return False, fragment, ""


_NOT_PAUSED = _refuse("is not paused")
_FINISHED = _refuse("has finished")
_PAUSED_AGAIN = _refuse("is already paused")
_EVENTS_ONLY = _refuse("applies to events, flows and tasks")
_CLONE_EVENTS = _refuse("clone applies to events")

_PAUSE_LIVE = (True, "paused", "nothing new starts inside; running tasks finish "
                               "(with --cancel-running they are cancelled and queued again)")
_SKIP_LIVE = (True, "skipped", "running tasks are cancelled, then every task not yet "
                               "success/failure is skipped; dependants proceed")
_CANCEL_LIVE = (True, "cancelled", "running processes get SIGTERM, then SIGKILL; tasks not "
                                   "started are cancelled; it ends as a failure")
_CLONE = (True, "cloned", "a new event with the same values (cause: clone of KEY)")

_ROWS: dict[tuple[str, str], dict[str, tuple[bool, str, str]]] = {
    ("type", "active"): {
        "pause": (True, "paused", "new events of the type are accepted and wait; nothing new "
                                  "starts in its active events; running tasks finish"),
        "resume": _NOT_PAUSED, "retry": _EVENTS_ONLY, "skip": _EVENTS_ONLY,
        "cancel": _EVENTS_ONLY, "clone": _CLONE_EVENTS},
    ("type", "paused"): {
        "pause": _PAUSED_AGAIN,
        "resume": (True, "active", "held events and tasks start"),
        "retry": _EVENTS_ONLY, "skip": _EVENTS_ONLY, "cancel": _EVENTS_ONLY, "clone": _CLONE_EVENTS},
}
for _level in ("event", "flow"):
    _clone = _CLONE if _level == "event" else _CLONE_EVENTS
    _ROWS[(_level, "running")] = {
        "pause": _PAUSE_LIVE, "resume": _NOT_PAUSED,
        "retry": _refuse("nothing to retry"), "skip": _SKIP_LIVE, "cancel": _CANCEL_LIVE,
        "clone": _clone}
    _ROWS[(_level, "paused")] = {
        "pause": _PAUSED_AGAIN, "resume": (True, "running", "tasks held by the pause start"),
        "retry": _refuse("nothing to retry"), "skip": _SKIP_LIVE, "cancel": _CANCEL_LIVE,
        "clone": _clone}
    _ROWS[(_level, "failed")] = {
        "pause": _FINISHED, "resume": _FINISHED if _level == "event" else _NOT_PAUSED,
        "retry": (True, "rerun", "failed, cancelled and blocked tasks run again (--tree: and "
                                 "everything downstream); the event is active again"),
        "skip": _FINISHED, "cancel": _FINISHED, "clone": _clone}
    _ROWS[(_level, "succeeded")] = {
        "pause": _FINISHED, "resume": _FINISHED if _level == "event" else _NOT_PAUSED,
        "retry": (True, "rerun", "the tasks that were skipped, else every task, run again; the "
                                 "event is active again"),
        "skip": _FINISHED, "cancel": _FINISHED, "clone": _clone}

_TASK_LIVE = {"pause": _PAUSE_LIVE, "resume": _NOT_PAUSED,
              "skip": (True, "skipped", "a running process is cancelled first; dependants "
                                        "proceed as after a success"),
              "cancel": (True, "cancelled", "a running process gets SIGTERM, then SIGKILL; "
                                            "dependants are blocked"),
              "clone": _CLONE_EVENTS}
_RERUN = (True, "rerun", "a new attempt (--tree: and everything downstream); the event is "
                         "active again")
_TASK_DONE = {"pause": _FINISHED, "resume": _NOT_PAUSED, "retry": _RERUN,
              "cancel": _FINISHED, "clone": _CLONE_EVENTS}
_ROWS.update({
    ("task", "waiting"): {**_TASK_LIVE, "retry": _refuse("has not run yet")},
    ("task", "running"): {**_TASK_LIVE, "retry": _refuse("is running")},
    ("task", "paused"): {**_TASK_LIVE, "pause": _PAUSED_AGAIN,
                         "resume": (True, "waiting", "it starts once its dependencies passed"),
                         "retry": _refuse("has not run yet")},
    ("task", "retry_wait"): {**_TASK_LIVE, "retry": _refuse("is already queued for a retry")},
    ("task", "success"): {**_TASK_DONE, "skip": _refuse("has already succeeded")},
    ("task", "failure"): {**_TASK_DONE, "skip": (True, "skipped", "dependants run; the event is "
                                                                  "active again if it had ended")},
    ("task", "cancelled"): {**_TASK_DONE, "skip": (True, "skipped", "dependants run; the event "
                                                                    "is active again if it had ended")},
    ("task", "skipped"): {**_TASK_DONE, "skip": _refuse("is already skipped")},
})

CELLS: tuple[Cell, ...] = tuple(
    Cell(level, state, action, *_ROWS[(level, state)][action])
    for level, states in STATES.items() for state in states for action in ACTIONS)


def cell(level: str, state: str, action: str) -> Cell:
    """The cell for ``action`` on a target of ``level`` in ``state``."""
    for c in CELLS:
        if (c.level, c.state, c.action) == (level, state, action):
            return c
    raise KeyError((level, state, action))


def render_markdown() -> str:
    """The table as Markdown (``docs/control.md`` carries it verbatim)."""
    lines = ["| target | state | " + " | ".join(ACTIONS) + " |",
             "|---|---|" + "---|" * len(ACTIONS)]
    for level, states in STATES.items():
        for state in states:
            cells = [cell(level, state, a).short for a in ACTIONS]
            lines.append(f"| {level} | {state} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
