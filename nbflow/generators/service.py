"""The generator service: every generator of the config, run by one background job of the engine.

At start it loads each generator's state (``generator_state``), the latest emitted fire time
per generator (``generator_ticks``: a restart never fires the same instant twice), applies
generator commands waiting in the inbox (a queued ``skip-to-now`` must act before the
catch-up), restores holds, releases pending fires, evaluates the subscription fires of stages
a crash cut off (``missed.py``) and catches up missed timer fires.  Then two jobs run: the
timers (``WallTimers``) and the queue of stages seen by the listener.

The engine finds it as ``engine.generators``; control code calls ``pause``/``resume`` on it.
"""

from __future__ import annotations

import json
import logging
import math
import traceback
from datetime import UTC, datetime

import trio

from ..store.writer import now_us
from . import missed, startup
from .fires import Fire
from .runtime import GeneratorRuntime
from .subscriptions import SubscriptionIndex
from .timers import WallTimers

log = logging.getLogger("nbflow.generators")
_RECENT_KEYS = 1000
_MISSING = object()


class GeneratorService:
    """Runs the generators of ``engine.config``; started by the engine like every service."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.gens: dict[str, GeneratorRuntime] = {
            spec.qualified_name: GeneratorRuntime(spec, engine.config.event_type(spec.event_type), self)
            for spec in engine.config.generators()}
        self.index = SubscriptionIndex(self.gens.values())
        self.timers = WallTimers()
        self._send, self._recv = trio.open_memory_channel(math.inf)
        self._queued = 0
        self._held: dict[str, set[GeneratorRuntime]] = {}
        self._next_tick_id = 1
        self._next_cache: dict[tuple, datetime | None] = {}
        self._first_live: int | None = None   # the first stage id of this engine run
        #: (through_stage, next_tick): the highest ``subscribed`` record of any stored state.
        self.stage_mark = (0, 1)
        self.started = False
        engine.generators = self
        if self.gens:
            engine.listeners.append(self._on_stage)

    def idle(self) -> bool:
        """Nothing queued: stages seen but not yet evaluated keep the engine busy."""
        return self._queued == 0

    def find(self, name: str) -> GeneratorRuntime:
        """A generator by ``[TYPE.]NAME``; ``UnknownNameError`` listing the generators."""
        return self.gens[self.engine.config.find_generator(name).qualified_name]

    # -- start-up -------------------------------------------------------------------------------
    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        from . import actions

        startup.load(self)
        startup.restore_holds(self)
        actions.apply_queued(self)
        now = datetime.now(UTC)
        for gen in self.gens.values():
            gen.release("released at engine start")
        if missed.recover(self):
            # A new subscription's record must be durable before its stages are: a crash now
            # would otherwise start it again from a later stage, losing this run's first fires.
            await self.engine.writer.durable()
        for gen in self.gens.values():
            if gen.class_only:
                self._start_class_only(gen)
        for gen in self.gens.values():
            if gen.schedule is not None:
                if not gen.class_only:   # a class's clock has no catch-up (catchup needs on_time)
                    startup.catch_up_missed(self, gen, now)
                self._schedule(gen, now)
        self.started = True
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._consume, name="nbflow-generator-queue")
            nursery.start_soon(self.timers.run, self._on_due, name="nbflow-timers")
            task_status.started()

    def _start_class_only(self, gen: GeneratorRuntime) -> None:
        """A class without on_time/subscribe: timed by its ``next_fire``, else called once now."""
        from .custom import ClassSchedule, CustomFailure

        try:
            obj = gen.custom_object()
        except CustomFailure as exc:
            self.tick(gen, Fire("start", gen.qname), "failed", str(exc))
            return
        if callable(getattr(obj, "next_fire", None)):
            gen.schedule = ClassSchedule(obj, gen.spec.class_)
        else:
            gen.submit(Fire("start", gen.qname))

    def _next(self, gen: GeneratorRuntime, after: datetime) -> datetime | None:
        """``gen.schedule.next(after)``, shared by generators with the same OnExp: a thousand
        generators on ``0 * * * *`` cost one computation per instant, not a thousand."""
        schedule = gen.schedule
        key = (getattr(schedule, "expr", None), getattr(schedule, "tz", None), after)
        if key[0] is None:   # a custom class's own clock: user code, which may fail
            from .custom import CustomFailure

            try:
                return schedule.next(after)
            except CustomFailure as exc:
                self.tick(gen, None, "failed", f"{exc} (its timer stops until the engine restarts)")
                return None
        found = self._next_cache.get(key, _MISSING)
        if found is _MISSING:
            if len(self._next_cache) > 4096:
                self._next_cache.clear()
            found = self._next_cache[key] = schedule.next(after)
        return found

    def _schedule(self, gen: GeneratorRuntime, after: datetime) -> None:
        gen.next_fire = self._next(gen, after)
        if gen.next_fire is not None:
            self.timers.add(gen.next_fire.timestamp(), gen)

    def _on_due(self, when: float, gen: GeneratorRuntime) -> None:
        fire_time, now = gen.next_fire, datetime.now(UTC)
        late = []
        nxt = self._next(gen, fire_time)
        while nxt is not None and nxt <= now and len(late) < 10_000:
            late.append(fire_time)
            fire_time, nxt = nxt, self._next(gen, nxt)
        if late:   # the loop was blocked, or the wall clock jumped: only `all` fires them
            startup.catch_up(self, gen, late, len(late), True,
                             "while the engine's loop was busy or the clock jumped",
                             "all" if gen.spec.catchup == "all" else "none")
        gen.submit(Fire("timer", gen.qname, fire_time))
        gen.next_fire = nxt
        if nxt is not None:
            self.timers.add(nxt.timestamp(), gen)

    # -- stages ---------------------------------------------------------------------------------
    def _on_stage(self, row) -> None:
        """The engine's stage listener: queue releases and subscription fires (never act here)."""
        if self._first_live is None:
            self._first_live = row.stage_id
        key = row.event_key
        if key is None:
            return
        held = self._held.get(key)
        if held:
            for gen in list(held):
                if gen.hold_reached(row):
                    self._queue(("release", gen, (key, row.action)))
        if not self.index:
            return
        ev = self.engine.events.get(key)
        if ev is None or ev.etype.name not in self.index.types:
            return
        for gen, fire, miss in self.index.matches(row, ev.etype.name, ev.values):
            self._queue(("fire", gen, fire) if miss is None else ("filtered", gen, (fire, miss)))

    def _queue(self, item) -> None:
        self._queued += 1
        self._send.send_nowait(item)

    async def _consume(self) -> None:
        async for kind, gen, payload in self._recv:
            try:
                if kind == "fire":
                    self.evaluate(gen, payload, None)
                elif kind == "filtered":
                    self.evaluate(gen, *payload)
                else:
                    gen.on_hold_reached(*payload)
            except Exception:   # a bug here must not stop the engine: it goes to the tick log
                log.exception("generator %s failed", gen.qname)
                fire = payload if isinstance(payload, Fire) else payload[0] if kind == "filtered" else None
                self.tick(gen, fire, "failed",
                          traceback.format_exc(limit=-8))
            finally:
                self._queued -= 1

    def evaluate(self, gen: GeneratorRuntime, fire: Fire, miss: str | None, note: str | None = None) -> None:
        """One subscription fire: submitted, or a ``skipped`` tick when ``where`` filtered it
        out (``miss`` says why); ``note`` is added to the tick's reason."""
        if miss is None:
            gen.submit(fire, note=note)
            return
        self.tick(gen, fire, "skipped", f"{miss}; {note}" if note else miss)
        if note is None:   # a late fire leaves the mark alone (see GeneratorRuntime.submit)
            # Not saved (a state row per filtered stage would double the writes): the next save
            # carries it, and a restart before that finds this tick by its key (missed.py).
            gen.doc.note_stage(fire.trigger["stage_id"], self._next_tick_id)

    def first_live_stage(self) -> int:
        """The id of this engine run's first stage: stages below it were recorded by earlier runs."""
        if self._first_live is not None:
            return self._first_live
        return self.engine._next_stage_id   # nothing recorded yet in this run: the next one

    # -- holds ----------------------------------------------------------------------------------
    def hold(self, gen: GeneratorRuntime, event_key: str) -> None:
        self._held.setdefault(event_key, set()).add(gen)

    def unhold(self, gen: GeneratorRuntime) -> None:
        key = gen.doc.held_on
        if key is not None and key in self._held:
            self._held[key].discard(gen)
            if not self._held[key]:
                del self._held[key]

    # -- records --------------------------------------------------------------------------------
    def tick(self, gen: GeneratorRuntime, fire: Fire | None, outcome: str, reason: str | None,
             event_key: str | None = None, idempotency: bool = True) -> None:
        """Append one row to the tick log."""
        self.engine.writer.append("generator_ticks", (
            self._next_tick_id, gen.etype.name, gen.spec.name, now_us(),
            fire.fire_us if fire is not None else None, fire.text if fire is not None else None,
            outcome, reason, event_key,
            fire.idempotency_key if fire is not None and idempotency else None))
        self._next_tick_id += 1

    @property
    def next_tick_id(self) -> int:
        return self._next_tick_id

    def save(self, gen: GeneratorRuntime, actor: str | None = None, reason: str | None = None) -> None:
        """Append the generator's state document to ``generator_state`` (the latest row wins)."""
        stamp = max(now_us(), gen.updated_us + 1)   # strictly increasing: arg_max never ties
        gen.updated_us = stamp
        self.engine.writer.append("generator_state", (
            gen.etype.name, gen.spec.name, json.dumps(gen.doc.to_json(), default=str), gen.doc.status,
            stamp, actor or self.engine.actor, reason))

    # -- idempotency ----------------------------------------------------------------------------
    def remember_emitted(self, gen: GeneratorRuntime, fire: Fire) -> None:
        gen.recent[fire.idempotency_key] = fire.fire_us
        if len(gen.recent) > _RECENT_KEYS:
            del gen.recent[next(iter(gen.recent))]
        gen.high_water_us = max(gen.high_water_us, fire.fire_us)

    def already_emitted(self, gen: GeneratorRuntime, fire: Fire) -> bool:
        """Whether ``fire``'s instant was emitted before (and not cleared by a replay)."""
        key = fire.idempotency_key
        if key in gen.recent:
            return True
        if fire.fire_us > gen.high_water_us:
            return False    # later than every emitted fire: the common case, no query
        return key in self.emitted_keys(gen, [key])

    def emitted_keys(self, gen: GeneratorRuntime, keys: list[str]) -> set[str]:
        """Which of ``keys`` have an emitted tick that no replay cleared (one query)."""
        if not keys:
            return set()
        placeholders = ", ".join("?" for _ in keys)
        rows = self.engine.query(
            f"""SELECT idempotency_key, tick_id, epoch_us(fire_time) FROM generator_ticks
                WHERE event_type = ? AND generator = ? AND outcome = 'emitted'
                  AND idempotency_key IN ({placeholders})""",
            [gen.etype.name, gen.spec.name, *keys]).fetchall()
        found = {k for k, tick_id, fire_us in rows if not _cleared(gen.doc.cleared, tick_id, fire_us)}
        return found | {k for k in keys if k in gen.recent}

    # -- control (also reached through the ``generator`` command) -------------------------------
    def pause(self, name: str, reason: str | None = None, actor: str | None = None) -> dict:
        """Pause a generator: its fires are held per its ``on_hold`` policy until ``resume``."""
        from .actions import apply_command

        return apply_command(self, {"action": "pause", "name": name, "reason": reason, "actor": actor})

    def resume(self, name: str, reason: str | None = None, actor: str | None = None) -> dict:
        """Resume a paused generator; fires it held are released per its policy."""
        from .actions import apply_command

        return apply_command(self, {"action": "resume", "name": name, "reason": reason, "actor": actor})


def _cleared(clearings: list[dict], tick_id: int, fire_us: int | None) -> bool:
    return any(tick_id < c["before_tick"] and fire_us is not None and fire_us >= c["from_us"]
               for c in clearings)
