"""A ``python`` task cut short by a crash (kill -9) leaves a record: its run ends ``lost`` and is
retried under its task's policy; nothing runs twice without a record."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from conftest import history_rows, nbflow_cli, wait_for, write_config

pytestmark = pytest.mark.usefixtures("no_leaked_children")

# Each call appends its run id to marks.txt (the side effect that must not happen unrecorded),
# then, until the test has crashed the engine, blocks:
# - ``in_tick`` is an ``async def``: it runs on the engine's loop, so blocking it pins the engine
#   inside the tick that started the run - its ``invoked`` row cannot commit (the deterministic
#   form of a crash within the 50 ms before a commit). Only the run journal knows it ran.
# - ``after_tick`` runs in a worker thread: the loop goes on and commits ``invoked``, then the
#   engine dies under the running task.
TASKS = '''
import time
from pathlib import Path

HERE = Path(__file__).parent


def _mark(ctx):
    with open(HERE / "marks.txt", "a") as f:
        f.write(ctx.run_id + "\\n")


def _block():
    for _ in range(1200):   # bounded: 60 s
        if (HERE / "crashed").exists():
            return
        time.sleep(0.05)


async def in_tick(event, ctx):
    _mark(ctx)
    _block()


def after_tick(event, ctx):
    _mark(ctx)
    _block()
'''

FOUND = "found by recovery: started just before the engine died"


def _live_invoked(home) -> bool:
    out = nbflow_cli("sql", "--home", str(home), "--format", "json",
                     "SELECT count(*) AS n FROM stages WHERE task = 't' AND action = 'invoked'")
    return out.returncode == 0 and json.loads(out.stdout) == [{"n": 1}]


@pytest.mark.parametrize("retries", [1, 0])
@pytest.mark.parametrize("when", ["in_tick", "after_tick"])
def test_a_python_run_cut_short_by_kill_9_is_recorded_lost_and_retried_per_policy(tmp_path, home, when,
                                                                                   retries):
    (tmp_path / "ptasks.py").write_text(TASKS)
    cfg = write_config(tmp_path, f"""
        events:
          - name: job
            flows:
              - name: f
                tasks:
                  - {{name: t, python: "ptasks:{when}", retries: {retries}}}
    """)
    marks = tmp_path / "marks.txt"
    key = nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", check=True).stdout.strip()
    engine = subprocess.Popen([sys.executable, "-m", "nbflow", "run", str(cfg), "--home", str(home)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: marks.exists() and marks.read_text(), timeout=60, what="the task's side effect")
        if when == "after_tick":
            wait_for(lambda: _live_invoked(home), what="its invoked row committed")
    finally:
        engine.send_signal(signal.SIGKILL)
        engine.wait(timeout=10)
        (tmp_path / "crashed").touch()
    first = f"{key}/f.t#1"
    assert marks.read_text().split() == [first]      # it ran, and the engine died under it

    proc = nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle", timeout=120)
    assert proc.returncode == (0 if retries else 1), proc.stdout + proc.stderr   # 1: an event failed

    rows = history_rows(home, "SELECT run, action, detail FROM stages WHERE task = 't' ORDER BY stage_id")
    lost = [(1, "invoked", FOUND if when == "in_tick" else None), (1, "failure", "lost")]
    if retries:
        assert rows == [*lost, (2, "retried", "attempt 2 of 2 (after a lost run)"),
                        (2, "invoked", None), (2, "success", None)]
        assert history_rows(home, "SELECT status FROM events") == [("success",)]
    else:
        assert rows == lost
        assert history_rows(home, "SELECT status FROM events") == [("failure",)]
    # every run that happened has its invoked row, and nothing else ran
    invoked = [r[0] for r in history_rows(home, "SELECT run_id FROM stages WHERE task = 't' "
                                                "AND action = 'invoked' ORDER BY stage_id")]
    assert marks.read_text().split() == invoked == [first, f"{key}/f.t#2"][:retries + 1]
    assert history_rows(home, "SELECT count(*) FROM event_log") == [(1,)]
