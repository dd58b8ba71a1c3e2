"""Subscriptions: which generators a stage row triggers.

Patterns are indexed by ``(event type, action)``, so the stage listener does one dict lookup
per stage whatever the number of generators.  A pattern's level is exact: ``ingest:final``
matches the event's own ``final`` (flow and task empty), ``ingest/main:success`` the flow's,
``ingest/main.publish:success`` the task's.  ``where`` filters on the trigger event's values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .fires import Fire


class SubscriptionIndex:
    """``(event_type, action) -> [(Subscription, GeneratorRuntime)]``."""

    def __init__(self, generators: Iterable) -> None:
        self._index: dict[tuple[str, str], list[tuple[Any, Any]]] = {}
        for gen in generators:
            for sub in gen.spec.subscribe:
                self._index.setdefault((sub.event_type, sub.action), []).append((sub, gen))
        self.types = frozenset(t for t, _ in self._index)

    def __bool__(self) -> bool:
        return bool(self._index)

    def matches(self, row, event_type: str, values: dict[str, Any]) -> list[tuple[Any, Fire, str | None]]:
        """The generators whose pattern ``row`` (a stage of an event of ``event_type``) matches,
        each with its fire and, when ``where`` filters it out, the reason (a ``skipped`` tick)."""
        candidates = self._index.get((event_type, row.action))
        if not candidates:
            return []
        out = []
        for sub, gen in candidates:
            if sub.flow != row.flow or sub.task != row.task:
                continue
            trigger = {"event_type": event_type, "event_key": row.event_key, "flow": row.flow,
                       "task": row.task, "action": row.action, "stage_id": row.stage_id,
                       "values": dict(values)}
            out.append((gen, Fire("subscription", gen.qname, trigger=trigger), where_miss(gen.spec.where, values)))
        return out

    def generators(self, event_type: str, row) -> list[Any]:
        """The generators whose pattern ``row`` (a stage of an event of ``event_type``) matches,
        ``where`` aside."""
        return [gen for sub, gen in self._index.get((event_type, row.action), ())
                if sub.flow == row.flow and sub.task == row.task]


def where_miss(where, values: dict[str, Any]) -> str | None:
    """Why ``values`` fail ``where`` (var -> allowed values, all must match), or None if they pass."""
    from ..spec.values import format_value

    for var, allowed in where.items():
        if values.get(var) not in allowed:
            shown = ", ".join(format_value(a) for a in allowed)
            return f"where: {var}={format_value(values.get(var))} is not one of [{shown}]"
    return None
