"""A generator's ``on_hold: cancel-running``: when it fires again, the previous event's
unfinished tasks are cancelled the way a control ``cancel`` ends them (``control/ending.py``).
"""

from __future__ import annotations

from typing import Any


def cancel_unfinished(engine, gen: Any, event_key: str, fire: Any) -> int:
    """Cancel the running tasks of ``event_key`` (``gen``'s ``on_hold: cancel-running``), and
    those dispatched but not started yet (waiting for a slot or a retry: they never start);
    how many.

    As a control ``cancel`` does, with the generator as the actor (``generator:TYPE.NAME``) and
    the fire in the reason: a running attempt's request is written ahead (a ``cancelling`` row)
    and its process signalled once that is committed, so a crash before the run ends leaves it
    ``cancelled`` by recovery, never ``lost`` and retried.  The new event is emitted by the
    caller without waiting for the processes.
    """
    from ..control.command import Request
    from ..control.ending import Actor, end_task
    from ..control.targets import Target

    ev = engine.events.get(event_key)
    if ev is None:
        return 0
    reason = f"generator {gen.qname} fired again ({fire.text}): on_hold cancel-running"
    who = Actor(engine, Request("cancel", Target("event", event_key), f"cancelled: {reason}",
                                f"generator:{gen.qname}"))
    count = unstarted = 0
    interrupted: list = []
    for fs in ev.flows.values():
        for ts in fs.tasks.values():
            if ts.status == "running" and ts.scope is not None and ts.after_cancel is None:
                # (no scope: its process has ended, the end is being recorded; an
                # ``after_cancel``: a control action is ending it already)
                end_task(who, ev, fs, ts, "cancelled", interrupted)
                count += 1
            elif ts.status in ("queued", "retry_wait"):
                end_task(who, ev, fs, ts, "cancelled", interrupted)
                unstarted += 1
    if unstarted:   # their dependants are blocked now; the event may have ended
        for fs in ev.flows.values():
            engine._advance_flow(ev, fs)
        engine._maybe_finish_event(ev)
    return count + unstarted
