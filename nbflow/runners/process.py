"""Running a child process the nbflow way: its own process group, output straight to files,
and a cancel that ends the whole group (SIGTERM, then SIGKILL after a grace period)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

import trio


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


PIDFILE = ".pid"
STARTED = ".started"


def mark_started(run_dir: Path, run_id: str) -> None:
    """Leave the write-ahead marker of a process run in its folder (before it starts)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / STARTED).write_text(run_id)


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (tells a live process from a reused pid)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def kill_stale(run_dir: Path) -> bool:
    """End the process group a dead engine left running for ``run_dir``; True if one was killed.

    The engine writes the child's pid and start time into the run's folder; after a crash,
    recovery uses them to end the orphaned group before the run is retried, so a lost run
    never goes on beside its retry.
    """
    try:
        pid_text, started = (run_dir / PIDFILE).read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return False
    if _start_time(pid) != started:
        return False
    _kill_group(pid, signal.SIGKILL)
    return True


async def run_logged(argv: Sequence[str], *, stdout: Path, stderr: Path, cwd: str,
                     env: dict[str, str], grace: float) -> int:
    """Run ``argv`` with stdout/stderr streamed by the OS into files; returns the exit code.

    The engine never reads the output: memory stays flat for any amount of it and undecodable
    bytes are kept as they are.  Cancelling the caller ends the process group: SIGTERM, then
    SIGKILL after ``grace`` seconds.
    """
    stdout.parent.mkdir(parents=True, exist_ok=True)
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        proc = await trio.lowlevel.open_process(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd, env=env,
            start_new_session=True)
    (stdout.parent / PIDFILE).write_text(f"{proc.pid} {_start_time(proc.pid)}")
    try:
        return await proc.wait()
    except BaseException:
        with trio.CancelScope(shield=True):
            _kill_group(proc.pid, signal.SIGTERM)
            with trio.move_on_after(grace):
                await proc.wait()
            if proc.returncode is None:
                _kill_group(proc.pid, signal.SIGKILL)
                await proc.wait()
        raise
    finally:
        # Children the command left in its group would outlive the run: no task leaves
        # processes behind, whether it ended, failed or was cancelled.
        _kill_group(proc.pid, signal.SIGKILL)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
