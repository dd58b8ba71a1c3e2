"""The run journal: task runs written ahead of the history, in one append-only file.

The engine does not wait for a run's ``invoked`` row to commit before it starts the run, and
rows commit once per tick: a crash within that tick would lose every trace of a run that did
happen.  So every run is written ahead to ``runs.journal``, one line appended before it starts
(a copy into a memory-mapped file: no system call, no file per run): a process (``cmd``, ``notebook``)
before its spawn, and again with the child's pid once it runs; an in-process ``python`` task
before its function is called.  After a crash, recovery reads the journal to find runs whose
rows never reached the history, ends the process groups still running, and records the runs
as lost.  The journal is emptied once recovery has committed, and compacted to the runs still
going when it grows.
"""

from __future__ import annotations

import mmap
import os
import signal
import threading
import time
from pathlib import Path

_COMPACT_AT = 1 << 20   # bytes: the journal's size; full, it is rewritten with the runs still going


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
    """Append-only record of the task runs started; thread-safe.

    The file is memory-mapped (``MAP_SHARED``): appending a line is a copy into the page
    cache, with no system call.  That matters on the engine's loop: a ``write`` releases the
    GIL, and taking it back from the history writer's thread cost ~20 us per python task
    (``benchmarks/bench_engine.py``), against ~1 us here.  Pages of a shared mapping outlive a
    killed process like written data does, so a crash loses no line that was appended; only
    the unused, zeroed end of the file follows the lines.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._map: mmap.mmap | None = None
        self._pos = 0
        self._running: dict[str, str] = {}
        #: what the last engine left: run id -> (pid, start wall time), or (None, None) when
        #: it crashed between the two lines
        self.found: dict[str, tuple[int | None, float | None]] = {}

    def load(self) -> None:
        """Read what a previous engine left (call before ``open``)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        text = data.split(b"\0", 1)[0].decode("utf-8", errors="replace")
        for line in text.split("\n")[:-1]:   # the last piece is empty, or a line a crash cut
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
        with self._lock:
            self._map_file(self.path, b"")

    def _map_file(self, path: Path, data: bytes) -> None:
        """Make ``path`` a journal holding ``data``, with room for many more lines, and map it."""
        size = max(_COMPACT_AT, 2 * len(data))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, size)
            if data:
                os.pwrite(fd, data, 0)
            new_map = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except BaseException:
            os.close(fd)
            raise
        self._unmap()
        self._fd, self._map, self._pos = fd, new_map, len(data)

    def _unmap(self, keep: int | None = None) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._fd is not None:
            if keep is not None:   # a clean stop leaves a plain text file
                os.ftruncate(self._fd, keep)
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        with self._lock:
            self._unmap(keep=self._pos)

    def _write(self, line: str) -> None:
        data = line.encode()
        with self._lock:
            if self._map is None:
                return
            end = self._pos + len(data)
            if end > len(self._map):
                self._compact()
                end = self._pos + len(data)
            self._map[self._pos:end] = data
            self._pos = end

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
        """Forget a finished run (the next compaction drops its lines)."""
        self._running.pop(run_id, None)

    def _compact(self) -> None:
        """Replace the full file by one holding the runs still going (lock held)."""
        tmp = self.path.with_suffix(".tmp")
        data = "".join(self._running.values()).encode()
        old_fd, old_map = self._fd, self._map
        self._fd = self._map = None
        try:
            self._map_file(tmp, data)
            os.replace(tmp, self.path)
        except BaseException:
            self._fd, self._map = old_fd, old_map
            raise
        old_map.close()
        os.close(old_fd)

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
