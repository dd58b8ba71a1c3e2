"""Generators: timers, subscriptions, persistent state, hold, catch-up, deadlines.

The engine calls ``services_for(engine)`` in its constructor and starts each service with
its other jobs.  The generator service is reachable as ``engine.generators`` (``pause``,
``resume``, ``find``); deadlines as ``engine.deadlines``.  Importing ``ops`` registers the
``generator`` command (inbox) and socket op.  Python users drive generator state through
``nbflow.generators.api`` with a ``Handle``.
"""

from __future__ import annotations

from typing import Any


def services_for(engine) -> list[Any]:
    """The background services an engine needs for its config's generators and deadlines."""
    from . import ops  # noqa: F401  (registers the ``generator`` command and socket op)
    from .deadlines import DeadlineService
    from .service import GeneratorService

    return [GeneratorService(engine), DeadlineService(engine)]
