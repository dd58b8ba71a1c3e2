"""Fires: one evaluation request of a generator (a timer instant, a stage, a replay), and the
time arithmetic of timers (idempotency keys, missed fires after downtime).

A fire is plain data so it can wait in the generator's persistent state (held while the
previous event has not reached the hold stage) and survive a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

#: Kinds of fire: what made the generator evaluate.
KINDS = ("timer", "catchup", "replay", "subscription", "start")


def iso_utc(dt: datetime) -> str:
    """``2026-12-04T16:00:00+00:00``: one spelling per instant, whatever the timer's zone."""
    return dt.astimezone(UTC).isoformat()


def parse_instant(text: str, now: datetime | None = None) -> datetime:
    """An aware datetime from ISO text (naive means UTC) or a duration ago (``10m``, ``2h``)."""
    from ..durations import parse_duration
    from ..errors import ConfigError, ControlError

    raw = text.strip()
    try:
        ago = parse_duration(raw)
    except ConfigError:
        ago = None
    if ago is not None and not raw.replace(".", "").isdigit():
        return (now or datetime.now(UTC)) - timedelta(seconds=ago)
    try:
        dt = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith("Z") else raw)
    except ValueError:
        raise ControlError(
            f"cannot read the time {text!r}: give an ISO time such as 2026-01-31T09:00:00 "
            "(UTC unless it has an offset, e.g. +01:00) or a duration ago such as 10m or 2h") from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(dt: datetime) -> int:
    """Microseconds since the epoch of the aware ``dt``, exactly (no float rounding)."""
    return (dt - _EPOCH) // timedelta(microseconds=1)


def from_epoch_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


@dataclass
class Fire:
    """One reason to evaluate a generator, with what its ``vals`` may read.

    ``fire_time`` is set for timer fires (also catch-up and replay); ``trigger`` holds the
    triggering stage for subscriptions: ``event_type``, ``event_key``, ``flow``, ``task``,
    ``action``, ``stage_id``, ``values`` (typed while live, JSON once stored).
    """

    kind: str
    generator: str                      # qualified name
    fire_time: datetime | None = None
    trigger: dict[str, Any] | None = None

    # Cached: a fire's key and text are read several times (tick, state, cause); 1,000
    # generators firing each second make these a measurable share of the loop's time.
    @cached_property
    def fire_iso(self) -> str | None:
        return None if self.fire_time is None else iso_utc(self.fire_time)

    @cached_property
    def idempotency_key(self) -> str | None:
        """``<type>.<gen>@<fire time>`` for timer instants, ``<type>.<gen>@stage:<id>`` for stages."""
        if self.fire_time is not None:
            return f"{self.generator}@{self.fire_iso}"
        if self.trigger is not None and self.trigger.get("stage_id") is not None:
            return f"{self.generator}@stage:{self.trigger['stage_id']}"
        return None

    @cached_property
    def fire_us(self) -> int | None:
        return None if self.fire_time is None else epoch_us(self.fire_time)

    @cached_property
    def text(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """What made it fire, as the tick log's ``trigger`` column and the event's ``cause``."""
        if self.trigger is not None:
            t = self.trigger
            where = t["event_type"] + (f"/{t['flow']}" if t.get("flow") else "") + \
                (f".{t['task']}" if t.get("task") else "")
            return f"stage:{t['stage_id']} {where}:{t['action']} of {t['event_key']}"
        if self.fire_time is not None:
            return f"{self.kind}:{self.fire_iso}"
        return self.kind

    def to_json(self) -> dict[str, Any]:
        from ..spec.values import to_json_value

        trigger = None
        if self.trigger is not None:
            trigger = dict(self.trigger)
            trigger["values"] = {k: to_json_value(v) for k, v in trigger.get("values", {}).items()}
        return {"kind": self.kind, "fire_time": None if self.fire_time is None else self.fire_time.isoformat(),
                "trigger": trigger}

    @classmethod
    def from_json(cls, generator: str, data: dict[str, Any], config=None) -> Fire:
        """A stored fire; trigger values are typed again with the trigger type's vars."""
        fire_time = data.get("fire_time")
        trigger = data.get("trigger")
        if trigger is not None and config is not None:
            try:
                etype = config.event_type(trigger["event_type"])
                trigger = {**trigger, "values": etype.validate(trigger.get("values") or {})}
            except Exception:   # the type changed since: keep the stored JSON values
                pass
        return cls(data.get("kind", "timer"), generator,
                   datetime.fromisoformat(fire_time) if fire_time else None, trigger)


def missed_fires(schedule, after: datetime, until: datetime,
                 keep: int) -> tuple[list[datetime], int, bool]:
    """Fires of ``schedule`` in ``(after, until]``: the latest ``keep`` of them, how many were
    counted, and whether that count is all of them (else it is a lower bound).

    The latest ones are found by widening a window back from ``until``, so a per-second timer
    missed for a month is never enumerated from its start.
    """
    # In UTC: arithmetic and comparisons between datetimes of one zone go by wall clock and
    # ignore ``fold``, which is wrong inside a fall-back overlap.
    after, until = after.astimezone(UTC), until.astimezone(UTC)
    if keep <= 0 or until <= after:
        return [], 0, True
    span = timedelta(seconds=60)
    while True:
        start = max(after, until - span)
        found: list[datetime] = []
        count = 0
        for t in schedule.iter(start):
            if t > until:
                break
            count += 1
            found.append(t)
            if len(found) > 2 * keep + 1000:
                del found[:-keep]
        if start == after:
            return found[-keep:], count, True
        if count >= keep:
            return found[-keep:], count, False
        span *= 4


def fires_from(schedule, start: datetime, until: datetime, limit: int) -> tuple[list[datetime], bool]:
    """Fires of ``schedule`` in ``[start, until]``, the first ``limit``; True when more remain."""
    out: list[datetime] = []
    start, until = start.astimezone(UTC), until.astimezone(UTC)   # see missed_fires
    for t in schedule.iter(start - timedelta(microseconds=1)):
        if t > until:
            return out, False
        if len(out) == limit:
            return out, True
        out.append(t)
    return out, False
