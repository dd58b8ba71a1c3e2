"""Generators: timers, subscriptions, persistent state, hold, catch-up, deadlines."""

from __future__ import annotations

from typing import Any


def services_for(engine) -> list[Any]:
    """The background services an engine needs for its config's generators and deadlines."""
    return []
