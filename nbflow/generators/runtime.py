"""One generator at run time: what a fire becomes (emitted, held, coalesced, skipped, failed).

``submit`` is the single entry for every fire (timer, catch-up, replay, subscription): it
checks the idempotency key, then the pause and the hold, and either emits or applies the
``on_hold`` policy.  Each outcome is one row of the tick log; every change of the state
document is one row of ``generator_state``.  Runs on the engine's loop, never re-entered
from a stage listener (the service queues stages and handles them in its own task).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..keys import new_event_key
from ..spec.templates import parse_template
from . import custom
from .cancelling import cancel_unfinished
from .document import GeneratorDoc
from .fires import Fire

#: Hold actions recorded per flow, not per event: any flow reaching them releases the hold.
_FLOW_LEVEL_HOLDS = frozenset({"invoked"})


class GeneratorRuntime:
    """The live side of one ``GeneratorSpec``: its state document, pending fires and hold."""

    def __init__(self, spec, etype, service) -> None:
        self.spec = spec
        self.etype = etype
        self.svc = service
        self.qname = spec.qualified_name
        self.schedule = spec.on_time.schedule() if spec.on_time is not None else None
        self.class_only = spec.class_ is not None and spec.on_time is None and not spec.subscribe
        self.doc = GeneratorDoc.initial(dict(spec.state))
        self.high_water_us = 0          # latest fire time ever emitted (ticks): below it, check keys
        self.recent: dict[str, int] = {}  # keys emitted by this run -> fire time (µs)
        self.next_fire: datetime | None = None
        self.updated_us = 0
        self._custom: Any = None
        self._custom_error: str | None = None

    # -- the hold -------------------------------------------------------------------------------
    def hold_reached(self, row) -> bool:
        """Whether the stage ``row`` of the held event releases the hold.

        The event's ``final`` always does: an event that ended without reaching the hold
        action (a failure, with ``hold: success``) never will.
        """
        if row.flow is None and row.task is None and row.action == "final":
            return True
        if row.action != self.spec.hold or row.task is not None:
            return False
        return row.flow is None or self.spec.hold in _FLOW_LEVEL_HOLDS

    def on_hold_reached(self, event_key: str, action: str) -> None:
        """The held event reached ``action`` (the hold's, or ``final``): emit what waits."""
        if self.doc.held_on != event_key:
            return   # a stale release: the hold moved on (cancel-running, reset)
        self.svc.unhold(self)
        self.doc.held_on = None
        why = f"released: event {event_key} reached {action}"
        self.release(why, save=False)
        self.svc.save(self, reason=why)

    def release(self, why: str, save: bool = True) -> None:
        """Emit pending fires while nothing holds the generator (one at a time under a hold)."""
        changed = False
        if self.doc.pending and not self.doc.paused and self.doc.held_on is not None \
                and self.spec.on_hold == "cancel-running":
            # Fires kept during a pause, released under cancel-running: they do not wait either.
            first = Fire.from_json(self.qname, self.doc.pending[0])
            cancelled = cancel_unfinished(self.svc.engine, self, self.doc.held_on, first)
            why = f"{why}; on_hold cancel-running: cancelled {cancelled} unfinished task(s) of {self.doc.held_on}"
            self.svc.unhold(self)
            self.doc.held_on = None
        while self.doc.pending and not self.doc.paused and self.doc.held_on is None:
            fire = Fire.from_json(self.qname, self.doc.pending.pop(0), self.svc.engine.config)
            self._emit(fire, why)
            changed = True
        if changed and save:
            self.svc.save(self, reason=why)

    # -- fires ----------------------------------------------------------------------------------
    def submit(self, fire: Fire, save: bool = True, note: str | None = None) -> None:
        """Evaluate one fire under the idempotency key, the pause and the hold; ``note`` goes
        into its tick's reason (a fire evaluated late, at engine start: ``missed.py``)."""
        if fire.fire_time is not None and self.svc.already_emitted(self, fire):
            self.svc.tick(self, fire, "skipped",
                          f"already fired: idempotency key {fire.idempotency_key} has an emitted tick "
                          "(replay --from clears it)")
        elif self.doc.paused:
            self._hold(fire, _joined(f"paused: {self.doc.paused_reason or 'no reason given'}", note), paused=True)
        elif self.doc.pending and self.doc.held_on is None:
            # Older fires wait (a resume or a release in the same tick): they go first.
            self.release("released: a newer fire came and nothing holds the generator")
            self.submit(fire, save=save, note=note)
            return
        elif self.doc.held_on is not None:
            why = _joined(f"held: event {self.doc.held_on} has not reached {self.spec.hold}", note)
            if self.spec.on_hold == "cancel-running":
                cancelled = cancel_unfinished(self.svc.engine, self, self.doc.held_on, fire)
                self.svc.unhold(self)
                self.doc.held_on = None
                self._emit(fire, f"on_hold cancel-running: {why}; cancelled {cancelled} unfinished task(s)")
            else:
                self._hold(fire, why)
        else:
            self._emit(fire, note)
        if fire.kind == "subscription" and note is None:
            # Saved with its tick: where a restart's stage scan starts.  A fire evaluated late
            # (at start) leaves the mark alone: later stages may have been evaluated before it.
            self.doc.note_stage(fire.trigger["stage_id"], self.svc.next_tick_id)
        # After the evaluation: `{state.last_fire}` in vals reads the previous fire.
        self.doc.last_trigger = fire.text
        if fire.fire_time is not None and (self.doc.last_fire is None or fire.fire_iso > self.doc.last_fire):
            self.doc.last_fire = fire.fire_iso
        if save:
            self.svc.save(self, reason=fire.text)

    def _hold(self, fire: Fire, why: str, paused: bool = False) -> None:
        policy = self.spec.on_hold
        if policy == "cancel-running" and paused:
            policy = "coalesce"   # a paused generator has nothing of its own to cancel
        if policy == "skip":
            self.svc.tick(self, fire, "skipped", f"{why} (on_hold: skip)")
        elif policy == "queue":
            if len(self.doc.pending) >= self.spec.queue_limit:
                self.svc.tick(self, fire, "skipped",
                              f"{why}; the queue is full ({self.spec.queue_limit} pending, queue_limit)")
            else:
                self.doc.pending.append(fire.to_json())
                self.svc.tick(self, fire, "held", f"{why} (on_hold: queue, {len(self.doc.pending)} pending)")
        else:
            for old in self.doc.pending:
                stale = Fire.from_json(self.qname, old)
                self.svc.tick(self, stale, "coalesced", f"replaced by the newer fire {fire.text}")
            self.doc.pending = [fire.to_json()]
            self.svc.tick(self, fire, "held", f"{why} (on_hold: coalesce, the newest fire waits)")

    def _emit(self, fire: Fire, why: str | None = None) -> None:
        """Evaluate ``fire`` and create its event(s); one tick per event, or one ``failed``."""
        try:
            batch, note = self.evaluate(fire)
        except custom.CustomFailure as exc:
            self.svc.tick(self, fire, "failed", str(exc))
            return
        reason = "; ".join(p for p in (why, note) if p) or None
        if not batch:
            self.svc.tick(self, fire, "skipped", "; ".join(p for p in ("emit() returned no events", reason) if p))
            return
        for values in batch:
            try:
                typed = self.etype.validate(values)
            except Exception as exc:   # a ValidationError, or a bad value from a custom class
                self.svc.tick(self, fire, "failed", f"{type(exc).__name__}: {exc}")
                continue
            key = new_event_key()
            if self.spec.hold is not None:
                # Held before the event exists: a flow-less event is final inside create_event.
                self.svc.unhold(self)
                self.doc.held_on = key
                self.svc.hold(self, key)
            self.svc.engine.create_event(self.etype, typed, source="generator", event_key=key,
                                         generator=self.qname, cause=fire.text, validated=True)
            if self.doc.held_on == key and key not in self.svc.engine.events:
                self.svc.unhold(self)      # final already (no flow to run): nothing to wait for
                self.doc.held_on = None
            self.doc.last_event_key = key
            self.doc.emitted += 1
            if fire.fire_time is not None:
                self.svc.remember_emitted(self, fire)
            self.svc.tick(self, fire, "emitted", reason, event_key=key)

    def evaluate(self, fire: Fire) -> tuple[list[dict[str, Any]], str | None]:
        """The values of the events ``fire`` makes (config ``vals``, then the custom class)."""
        ctx = self.context(fire)
        try:
            base = self.render_vals(ctx)
        except Exception as exc:   # a template naming a missing state field, a bad format spec
            raise custom.CustomFailure(f"vals: {type(exc).__name__}: {exc}") from None
        if self.spec.class_ is None:
            return [base], None
        obj = self.custom_object()
        trigger = {"kind": fire.kind, "generator": self.qname, "fire_time": fire.fire_time,
                   "now": ctx["now"]}
        if fire.trigger is not None:
            trigger.update(fire.trigger)
        batch, state, elapsed = custom.call(obj, self.spec.class_, trigger, self.doc.user)
        self.doc.user = state
        return [{**base, **values} for values in batch], custom.slow_note(self.spec.class_, elapsed)

    def context(self, fire: Fire) -> dict[str, Any]:
        zone = self.schedule.zone if self.schedule is not None else UTC
        ctx: dict[str, Any] = {"now": datetime.now(zone), "generator": self.qname,
                               "state": self.doc.template_view()}
        if fire.fire_time is not None:
            ctx["fire_time"] = fire.fire_time.astimezone(zone)
        if fire.trigger is not None:
            t = fire.trigger
            ctx["trigger"] = {**t.get("values", {}), "event_key": t["event_key"], "flow": t.get("flow"),
                              "task": t.get("task"), "action": t["action"]}
        return ctx

    def render_vals(self, ctx: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, val in self.spec.vals.items():
            if isinstance(val, str):
                template = parse_template(val)
                out[name] = template.render(ctx) if self.etype.var(name).type == "str" \
                    else template.render_value(ctx)
            else:
                out[name] = val
        return out

    def custom_object(self) -> Any:
        """The custom class's instance (loaded once); ``CustomFailure`` if it cannot be."""
        if self._custom is None and self._custom_error is None:
            try:
                self._custom = custom.load(self.spec.class_,
                                           custom.base_dir_of(self.spec, self.svc.engine.config))
            except custom.CustomFailure as exc:
                self._custom_error = str(exc)
        if self._custom_error is not None:
            raise custom.CustomFailure(self._custom_error)
        return self._custom


def _joined(*parts: str | None) -> str:
    return "; ".join(p for p in parts if p)
