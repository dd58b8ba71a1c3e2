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
