"""The dashboard's refresh loop: one daemon thread per dashboard, owned by it.

Why a thread: while a notebook cell runs, the kernel's event loop (and with it any asyncio
task or ipywidgets callback) is blocked, yet the dashboard must keep up with the engine; a
thread polls the engine's status (in memory, through the handle: no SQL) every ``interval``
seconds, so what the user sees is never more than a second behind.  Widget updates from a
thread are fine with ipykernel (its IOPub channel is thread-safe); the dashboard serialises
them with the user's clicks under one lock.  ``stop()`` ends and joins it; it also ends by
itself when the engine stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Refresher:
    """Calls ``tick()`` every ``interval`` seconds until ``stop()`` or ``tick()`` returns False."""

    def __init__(self, tick: Callable[[], bool], interval: float = 0.5,
                 on_error: Callable[[BaseException], None] | None = None, name: str = "nbflow-dashboard") -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self.tick = tick
        self.interval = interval
        self.on_error = on_error
        self.ticks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> Refresher:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the loop to end and wait for it (a tick in progress finishes first)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _main(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                keep = self.tick()
            except Exception as exc:      # shown in the dashboard; the loop goes on
                keep = True
                if self.on_error is not None:
                    self.on_error(exc)
            self.ticks += 1
            if keep is False:
                return
            # a fixed rhythm: a slow tick does not push every later one back
            next_at = max(next_at + self.interval, time.monotonic())
            self._stop.wait(max(0.0, next_at - time.monotonic()))
