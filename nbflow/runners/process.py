"""Running a child process the nbflow way: its own process group, output straight to files,
and a cancel that ends the whole group (SIGTERM, then SIGKILL after a grace period)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import trio

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@lru_cache(maxsize=512)
def _which(program: str, path: bytes | str | None, cwd: str) -> str:
    """``program`` as an absolute path along ``path`` (cached: ``Popen`` would search PATH on
    every start); unchanged when not found, so ``Popen`` raises its own clear error."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    found = shutil.which(program, path=path)
    return os.path.join(cwd, found) if found and not os.path.isabs(found) else (found or program)


def _spawn(argv: Sequence[str], stdout: Path, stderr: Path, cwd: str, env,
           dirs: Sequence[Path], journal, run_id: str | None) -> subprocess.Popen:
    """Everything a process run needs from the file system, then the process itself."""
    argv = list(argv)
    executable = argv[0] if argv else None
    if executable and os.sep not in executable:   # argv[0] stays as written: only the lookup is cached
        path = env.get(b"PATH") if isinstance(next(iter(env), ""), bytes) else env.get("PATH")
        executable = _which(executable, path, cwd)
    for folder in dirs:
        folder.mkdir(parents=True, exist_ok=True)
    if journal is not None:
        # Written ahead: a crash at any later point leaves a line that recovery reconciles
        # with the history (the run is recorded as lost, its process group ended).
        journal.starting(run_id)
    # os.open, not open(): a file object costs two more system calls (fstat, isatty), and each
    # system call on the loop can hand the GIL to another thread (see engine/journal.py).
    out = os.open(stdout, _CREATE, 0o644)
    try:
        err = os.open(stderr, _CREATE, 0o644)
    except BaseException:
        os.close(out)
        raise
    try:
        popen = subprocess.Popen(argv, executable=executable, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=err, cwd=cwd, env=env, start_new_session=True)
    except BaseException:
        os.close(out)
        os.close(err)
        raise
    if journal is not None:
        journal.started(run_id, popen.pid)
    # The parent keeps its ends open until the child exits: their sizes then come from fstat.
    popen.nbflow_outputs = (out, err)
    return popen


async def _wait(popen: subprocess.Popen) -> int:
    """The exit code of ``popen``, waiting on a pidfd (no thread, no polling) where there is one."""
    try:
        pidfd = os.pidfd_open(popen.pid)
    except (AttributeError, OSError):
        return await trio.to_thread.run_sync(popen.wait, abandon_on_cancel=True)
    try:
        await trio.lowlevel.wait_readable(pidfd)
    finally:
        os.close(pidfd)
    return popen.wait()


async def run_logged(argv: Sequence[str], *, stdout: Path, stderr: Path, cwd: str,
                     env, grace: float, dirs: Sequence[Path] = (),
                     sizes: dict[Path, int] | None = None, journal=None, run_id: str | None = None) -> int:
    """Run ``argv`` with stdout/stderr streamed by the OS into files; returns the exit code.

    The engine never reads the output: memory stays flat for any amount of it and undecodable
    bytes are kept as they are.  Cancelling the caller ends the process group: SIGTERM, then
    SIGKILL after ``grace`` seconds.  ``dirs`` are created first (the event's work directory);
    ``sizes``, when given, receives the sizes of stdout and stderr once the process ended;
    ``journal`` (the engine's ``RunJournal``) records the run ahead of its start.
    """
    # On the loop, on purpose: a start blocks it for ~0.3 ms (folders, two output files, the
    # journal line, a vfork), while handing it to a worker thread cost 2.5x the CPU in GIL
    # hand-offs and 40% of the throughput (benchmarks/bench_cmd.py, see benchmarks/README.md).
    popen = _spawn(argv, stdout, stderr, cwd, env, dirs, journal, run_id)
    try:
        code = await _wait(popen)
        if sizes is not None:
            for path, fd in zip((stdout, stderr), popen.nbflow_outputs):
                sizes[path] = os.fstat(fd).st_size
        return code
    except BaseException:
        with trio.CancelScope(shield=True):
            _kill_group(popen.pid, signal.SIGTERM)
            with trio.move_on_after(grace):
                await _wait(popen)
            if popen.returncode is None:
                _kill_group(popen.pid, signal.SIGKILL)
                await _wait(popen)
        raise
    finally:
        # Children the command left in its group would outlive the run: no task leaves
        # processes behind, whether it ended, failed or was cancelled.
        _kill_group(popen.pid, signal.SIGKILL)
        for fd in popen.nbflow_outputs:
            os.close(fd)
        if journal is not None:
            journal.ended(run_id)


async def run_task_process(ctx, argv: Sequence[str], env=None) -> int:
    """``run_logged`` for a task run: its log files, ``cwd``, environment (``env``, else
    ``ctx.environb()``), grace period, folders and journal line; the exit code."""
    out, err = ctx.log_paths()
    return await run_logged(argv, stdout=out, stderr=err, cwd=ctx.cwd(),
                            env=ctx.environb() if env is None else env, grace=ctx.kill_grace,
                            dirs=ctx.pending_dirs(), journal=ctx.journal, run_id=ctx.run_id,
                            sizes=ctx.output_sizes)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
