"""Sleeping until wall-clock instants, without drift and without polling.

Fire times are absolute instants (OnExp gives them on the wall clock); trio sleeps on its
own monotonic clock.  ``WallTimers`` keeps one heap of ``(instant, item)``, converts the
earliest instant to a trio deadline each time it goes to sleep, and on every wake-up reads
the wall clock again: an early wake (monotonic and wall clocks disagree) sleeps the
remainder, and no error accumulates over hours because nothing is ever added to a previous
deadline.  A single sleep is capped (``MAX_SLEEP``) so a wall-clock step (NTP, a suspended
laptop) is noticed within that time.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from typing import Any

import trio

#: Longest single sleep, in seconds: how soon a step of the wall clock is noticed.
MAX_SLEEP = 30.0


class WallTimers:
    """A heap of wall-clock instants (epoch seconds); ``run(on_due)`` calls ``on_due(when, item)``."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Any]] = []
        self._seq = itertools.count()
        self._changed = trio.Event()

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, when: float, item: Any) -> None:
        """Schedule ``item`` at the epoch instant ``when``; wakes the sleeper if it is earlier."""
        earliest = self._heap[0][0] if self._heap else None
        heapq.heappush(self._heap, (when, next(self._seq), item))
        if earliest is None or when < earliest:
            self._changed.set()

    def due(self, now: float) -> list[tuple[float, Any]]:
        """Pop every item whose instant is at or before ``now``, in time order."""
        out = []
        while self._heap and self._heap[0][0] <= now:
            when, _, item = heapq.heappop(self._heap)
            out.append((when, item))
        return out

    async def run(self, on_due: Callable[[float, Any], None]) -> None:
        """For ever: sleep until the earliest instant, then hand each due item to ``on_due``."""
        while True:
            for when, item in self.due(time.time()):
                on_due(when, item)
            if self._changed.is_set():
                self._changed = trio.Event()
            delay = min(self._heap[0][0] - time.time(), MAX_SLEEP) if self._heap else MAX_SLEEP
            if delay <= 0:
                await trio.lowlevel.checkpoint()
                continue
            # trio.sleep_until on the monotonic clock; the loop re-reads the wall clock after.
            with trio.move_on_at(trio.current_time() + delay):
                await self._changed.wait()
