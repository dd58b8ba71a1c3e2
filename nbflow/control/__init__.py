"""Control actions: pause, resume, retry, skip, cancel and clone, at type, event, flow, task and
generator level (see ``docs/control.md``).

``targets`` parses the one target syntax every surface uses and ``command`` builds and reads
the command dicts (both light: the CLI imports them); ``table`` holds which action applies in
which state.  In the engine: ``actions`` applies a command (``scope`` finds the target's state,
``pausing`` and ``reruns`` check and plan each action, ``ending`` ends, reopens and re-queues
tasks; ``intents`` is the cancel request it writes ahead, which recovery honours after a
crash) and ``pauses`` keeps why each target is paused and ends ``--until`` pauses on time.
"""

from __future__ import annotations

from .targets import Target as Target
from .targets import parse_target as parse_target


def attach(engine):
    """Register the control commands with the engine's inbox and return its pause book (a
    service: it resumes ``--until`` pauses on time)."""
    from . import actions  # noqa: F401  (registers the handlers of every control op)
    from .pauses import PauseBook

    return PauseBook(engine)
