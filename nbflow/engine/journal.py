"""The run journal: task runs written ahead of the history, in one append-only file.

The engine does not wait for a run's ``invoked`` row to commit before it starts the run, and
rows commit once per tick: a crash within that tick would lose every trace of a run that did
happen.  So every run is written ahead to ``runs.journal``, one line appended before it starts
(one ``write`` on an open file: no file is created per run): a process (``cmd``, ``notebook``)
before its spawn, and again with the child's pid once it runs; an in-process ``python`` task
before its function is called.  After a crash, recovery reads the journal to find runs whose
rows never reached the history, ends the process groups still running, and records the runs
as lost.  The journal is emptied once recovery has committed, and compacted to the runs still
going when it grows.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

_COMPACT_AT = 1 << 20   # bytes


def _process_start_wall(pid: int) -> float | None:
    """When ``pid`` started, as wall-clock seconds (tells a live child from a reused pid)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


class RunJournal:
    """Append-only record of the task runs started; thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0
        self._running: dict[str, str] = {}
        #: what the last engine left: run id -> (pid, start wall time), or (None, None) when
        #: it crashed between the two lines
        self.found: dict[str, tuple[int | None, float | None]] = {}

    def load(self) -> None:
        """Read what a previous engine left (call before ``open``)."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return
        for line in text.splitlines():
            parts = line.split("\t")
            if parts[0] == "S" and len(parts) == 2:
                self.found.setdefault(parts[1], (None, None))
            elif parts[0] == "P" and len(parts) == 4:
                try:
                    self.found[parts[1]] = (int(parts[2]), float(parts[3]))
                except ValueError:
                    continue

    def open(self) -> None:
        """Start a fresh journal (what it held is in ``found`` and reconciled by now)."""
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        self._size = 0

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _write(self, line: str) -> None:
        with self._lock:
            if self._fd is not None:
                self._size += os.write(self._fd, line.encode())

    def starting(self, run_id: str) -> None:
        """A process run is about to be spawned (``started`` follows with its pid)."""
        self._write(f"S\t{run_id}\n")

    def calling(self, run_id: str) -> None:
        """An in-process run (a ``python`` task) is about to be called: the same line as
        ``starting``, kept through compaction until ``ended`` (no pid will follow)."""
        line = f"S\t{run_id}\n"
        self._running[run_id] = line
        self._write(line)

    def started(self, run_id: str, pid: int) -> None:
        line = f"P\t{run_id}\t{pid}\t{time.time():.3f}\n"
        self._running[run_id] = line
        self._write(line)

    def ended(self, run_id: str) -> None:
        """Forget a finished run; compact the file once it has grown."""
        self._running.pop(run_id, None)
        if self._size > _COMPACT_AT:
            self._compact()

    def _compact(self) -> None:
        with self._lock:
            if self._fd is None:
                return
            tmp = self.path.with_suffix(".tmp")
            data = "".join(self._running.values()).encode()
            tmp.write_bytes(data)
            os.replace(tmp, self.path)
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            self._size = len(data)

    def kill_orphan(self, run_id: str) -> bool:
        """End the process group of a run the last engine left running; True if it did."""
        pid, started = self.found.get(run_id, (None, None))
        if pid is None or started is None:
            return False
        actual = _process_start_wall(pid)
        if actual is None or abs(actual - started) > 2.0:
            return False   # gone, or the pid belongs to another process by now
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return False
        return True
