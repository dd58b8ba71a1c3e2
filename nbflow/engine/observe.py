"""What the engine answers about itself: SQL over its history, live status, idleness.

A mixin of ``Engine``; queries run on fresh DuckDB cursors (thread-safe), status and idleness
read the live state on the loop.  *Idle* here means no active event at all (what
``wait_idle`` waits for); *settled*, nothing can move on without someone acting, is in
``settled.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import trio


class Observing:
    def query(self, sql: str, params: list | None = None):
        """Run ``sql`` on a fresh cursor (thread-safe); returns the DuckDB relation result."""
        cursor = self.con.cursor()
        return cursor.execute(sql, params or [])

    async def sql(self, sql: str, params: list | None = None) -> tuple[list[str], list[tuple]]:
        """Columns and rows of ``sql``, computed in a worker thread."""
        def run():
            cur = self.query(sql, params)
            cols = [d[0] for d in cur.description] if cur.description else []
            return cols, cur.fetchall()

        return await trio.to_thread.run_sync(run)

    def status(self) -> dict[str, Any]:
        """What runs now: active events, their flows and tasks, with elapsed times."""
        now = time.time()
        events = []
        for ev in self.events.values():
            flows = []
            for fs in ev.flows.values():
                if not fs.active:
                    continue
                tasks = [{"task": ts.name, "status": ts.status, "attempt": ts.attempt,
                          "paused": ts.paused, "pause": self.pauses.info(ev, fs, ts),
                          "elapsed": round(now - ts.started_at, 3) if ts.started_at and ts.status == "running"
                          else None}
                         for ts in fs.tasks.values()]
                flows.append({"flow": fs.flow.name, "paused": fs.paused, "done": fs.done, "tasks": tasks,
                              "pause": self.pauses.info(ev, fs)})
            events.append({"event_key": ev.key, "label": ev.label, "paused": ev.paused,
                           "pause": self.pauses.info(ev),
                           "elapsed": round(now - ev.created_us / 1e6, 3), "flows": flows})
        return {"home": str(self.ws.home), "pid": os.getpid(), "max_parallel": self.max_parallel,
                "running": sum(1 for ev in self.events.values() for fs in ev.flows.values()
                               for ts in fs.tasks.values() if ts.status == "running"),
                "paused_types": dict(self.paused_types), "pauses": self.pauses.listing(),
                "events": events,
                "counts": dict(self.counts)}

    def is_idle(self) -> bool:
        """No active event, nothing in the inbox, nothing unwritten, no service busy."""
        from ..inbox import pending

        if self.events or self._inbox_busy or self.writer.pending:
            return False
        if any(not getattr(s, "idle", lambda: True)() for s in self.services):
            return False
        return next(iter(pending(self.ws)), None) is None

    async def wait_idle(self, settle: float = 0.05) -> None:
        """Return once the engine has been idle for two checks ``settle`` seconds apart."""
        await self.wait_until(self.is_idle, settle)

    async def wait_until(self, done: Callable[[], bool], settle: float = 0.05) -> None:
        """Return once ``done()`` held at two checks ``settle`` seconds apart, checking again
        whenever the engine signals a change (``_idle_check``) or ``settle`` passed."""
        while True:
            if done():
                await trio.sleep(settle)
                if done():
                    return
            with trio.move_on_after(settle):
                await self._idle_check.wait()
            self._idle_check = trio.Event()
