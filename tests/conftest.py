"""Shared fixtures: a workspace in a temp dir, the CLI in a real subprocess, leak checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def nbflow_cli(*args: str, env: dict | None = None, timeout: float = 120, cwd: str | Path | None = None,
               check: bool = False) -> subprocess.CompletedProcess:
    """Run ``python -m nbflow ARGS`` in a subprocess; its completed process (text output)."""
    full_env = dict(os.environ)
    full_env.pop("NBFLOW_HOME", None)
    full_env.pop("NBFLOW_RUN_ID", None)
    if env:
        full_env.update(env)
    proc = subprocess.run([sys.executable, "-m", "nbflow", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"nbflow {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def write_config(tmp_path: Path, text: str, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _stat(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state, ppid, pgrp, ...), or
    None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _live_stats():
    """``(pid, stat fields)`` of every live process, zombies excluded."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(entry)
            if fields is not None and fields[0] != "Z":
                yield int(entry), fields


def alive(pid: int) -> bool:
    """Whether process ``pid`` lives (a zombie does not)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def group_alive(pgid: int) -> bool:
    """Whether a live process (zombies aside) of process group ``pgid`` remains."""
    return any(int(fields[2]) == pgid for _, fields in _live_stats())


def children_of(pid: int) -> list[int]:
    """Live descendants of ``pid`` (from /proc), zombies excluded."""
    parents = {p: int(fields[1]) for p, fields in _live_stats()}
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found.extend(kids)
        frontier.extend(kids)
    return found


def processes_with_marker(marker: str) -> list[int]:
    """Pids of live processes whose command line or environment contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and marker.encode() in cmdline:
            found.append(int(entry))
    return found


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh workspace folder."""
    return tmp_path / "home"


@pytest.fixture
def no_leaked_children():
    """Fail the test if it leaves child processes of the test process behind."""
    yield
    leftover = wait_for_none(lambda: children_of(os.getpid()), timeout=10)
    assert not leftover, f"the test left child processes behind: {leftover}"


def wait_for_none(fn, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if not value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def live_sql(home: Path, query: str) -> list[dict]:
    """Rows of ``query`` through ``nbflow sql --format json`` (works while an engine runs);
    ``[]`` when the command fails (no history yet, the engine just died)."""
    out = nbflow_cli("sql", "--home", str(home), "--format", "json", query)
    return json.loads(out.stdout) if out.returncode == 0 else []


def history_rows(home: Path, query: str, params=()) -> list[tuple]:
    """Rows of ``query`` on a workspace's history, read-only (no engine may be running)."""
    import duckdb

    con = duckdb.connect(str(home / "history.duckdb"), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()
