"""Crashes and bad input lose nothing: kill -9 mid-work, malformed inbox files, racing emitters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import history_rows, live_sql, nbflow_cli, processes_with_marker, wait_for, write_config

pytestmark = pytest.mark.usefixtures("no_leaked_children")


_sql = history_rows




def test_kill_9_mid_work_then_restart_loses_and_duplicates_nothing(tmp_path, home):
    marker = f"nbflow-kill9-{os.getpid()}"
    cfg = write_config(tmp_path, f"""
        events:
          - name: job
            vars: [{{name: i, type: int}}]
            flows:
              - name: f
                tasks:
                  - {{name: first, cmd: "true"}}
                  - name: slow
                    depends_on: [first]
                    # slow until the test has crashed the engine; quick afterwards
                    cmd: [bash, -c, 'if [ ! -e {tmp_path}/crashed ]; then python3 -c "import time; time.sleep(60)" {marker}; fi']
                    retries: 1
                  - {{name: last, cmd: "true", depends_on: [slow]}}
    """)
    keys = [nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", f"i={i}", check=True).stdout.strip()
            for i in range(3)]
    engine = subprocess.Popen([sys.executable, "-m", "nbflow", "run", str(cfg), "--home", str(home)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: live_sql(home, "SELECT count(*) AS n FROM task_runs WHERE task = 'slow' "
                                         "AND status = 'running'") == [{"n": 2}],
                 timeout=60, what="two slow tasks running (max_parallel is the CPU count)")
        wait_for(lambda: len(processes_with_marker(marker)) >= 2, what="their processes")
        # one more emit lands in the inbox while the engine works
        keys.append(nbflow_cli("emit", "--home", str(home), "job", "i=3", check=True).stdout.strip())
    finally:
        engine.send_signal(signal.SIGKILL)
        engine.wait(timeout=10)
        (tmp_path / "crashed").touch()
    # The dead engine's task processes are orphans now; restarting ends them before retrying.
    assert processes_with_marker(marker)
    proc = nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert wait_for(lambda: not processes_with_marker(marker), timeout=10, what="orphans ended") is True

    events = _sql(home, "SELECT event_key, status FROM events ORDER BY event_key")
    assert sorted(k for k, _ in events) == sorted(keys)          # every accepted event, once
    assert {s for _, s in events} == {"success"}
    lost = _sql(home, "SELECT run_id, detail FROM task_runs WHERE status = 'failure'")
    assert len(lost) >= 1 and {d for _, d in lost} == {"lost"}
    # every run that happened has exactly one invoked row, and each attempt ran at most once
    dup = _sql(home, """SELECT run_id, count(*) FROM stages WHERE action = 'invoked' AND run_id IS NOT NULL
                        GROUP BY run_id HAVING count(*) > 1""")
    assert dup == []
    for run_id, _ in lost:
        retry = run_id[:-1] + "2"
        assert _sql(home, "SELECT status FROM task_runs WHERE run_id = ?", [retry]) == [("success",)]
    assert not list((home / "inbox").glob("*.json"))


def test_a_malformed_inbox_file_is_moved_aside_and_the_engine_goes_on(tmp_path, home):
    cfg = write_config(tmp_path, """
        events:
          - name: job
            vars: [{name: n, type: int, max: 10}]
            flows:
              - name: f
                tasks: [{name: t, cmd: "true"}]
    """)
    nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", "n=1", check=True)
    inbox = home / "inbox"
    (inbox / "00000000000000000001-garbage.json").write_bytes(b"{not json")
    (inbox / "00000000000000000002-noop.json").write_text(json.dumps({"hello": 1}))
    (inbox / "00000000000000000003-badval.json").write_text(json.dumps(
        {"op": "emit", "event_type": "job", "values": {"n": 99}}))
    (inbox / "00000000000000000004-unknown.json").write_text(json.dumps({"op": "explode"}))
    nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", "n=2", check=True)
    proc = nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle")
    assert proc.returncode == 0, proc.stderr
    assert sorted(r[0] for r in _sql(home, "SELECT label FROM events WHERE status = 'success'")) == ["job:1", "job:2"]
    rejects = dict(_sql(home, "SELECT file, reason FROM inbox_rejects"))
    assert "not a JSON command" in rejects["00000000000000000001-garbage.json"]
    assert "must be a JSON object with an 'op'" in rejects["00000000000000000002-noop.json"]
    assert "var 'n': 99 is above the max 10" in rejects["00000000000000000003-badval.json"]
    assert "unknown op 'explode'" in rejects["00000000000000000004-unknown.json"]
    moved = sorted(p.name for p in (inbox / "rejected").iterdir())
    assert "00000000000000000001-garbage.json" in moved
    assert "00000000000000000001-garbage.reason.txt" in moved
    assert not list(inbox.glob("*.json"))


def test_an_inbox_file_replayed_after_its_commit_is_not_applied_twice(tmp_path, home):
    cfg = write_config(tmp_path, """
        events:
          - name: job
            flows:
              - name: f
                tasks: [{name: t, cmd: "true"}]
    """)
    nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", check=True)
    (cmd_file,) = list((home / "inbox").glob("*.json"))
    saved = cmd_file.read_bytes()
    nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle", check=True)
    # as if the engine died after committing but before deleting the file
    cmd_file.write_bytes(saved)
    nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle", check=True)
    assert _sql(home, "SELECT count(*) FROM events") == [(1,)]
    assert _sql(home, "SELECT count(*) FROM task_runs") == [(1,)]


@pytest.mark.parametrize("engine_running", [False, True])
def test_twenty_concurrent_emitters_lose_nothing(tmp_path, home, engine_running):
    cfg = write_config(tmp_path, """
        events:
          - name: job
            vars: [{name: i, type: int}]
            flows:
              - name: f
                tasks: [{name: t, cmd: "true"}]
    """)
    engine = None
    if engine_running:
        engine = subprocess.Popen([sys.executable, "-m", "nbflow", "run", str(cfg), "--home", str(home)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: (home / "engine.addr").exists(), what="the engine")
    try:
        with ThreadPoolExecutor(20) as pool:
            procs = list(pool.map(
                lambda i: nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", f"i={i}"),
                range(20)))
        assert [p.returncode for p in procs] == [0] * 20
        keys = {p.stdout.strip() for p in procs}
        assert len(keys) == 20
        if engine_running:
            wait_for(lambda: live_sql(home, "SELECT count(*) AS n FROM events WHERE status = 'success'")
                     == [{"n": 20}], timeout=60, what="20 events done")
    finally:
        if engine is not None:
            engine.send_signal(signal.SIGTERM)
            assert engine.wait(timeout=30) == 0
    if not engine_running:
        nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle", check=True)
    rows = _sql(home, "SELECT event_key, label FROM events WHERE status = 'success'")
    assert {k for k, _ in rows} == keys
    assert sorted(label for _, label in rows) == sorted(f"job:{i}" for i in range(20))


def test_a_run_started_in_the_engines_last_tick_is_found_ended_and_recorded(tmp_path, home):
    """The engine died after starting a process but before its rows were committed: only the
    run journal knows about it. The next start must end that process and
    record the run as lost instead of silently running the task a second time."""
    marker = f"nbflow-lasttick-{os.getpid()}"
    cfg = write_config(tmp_path, """
        events:
          - name: job
            flows:
              - name: f
                tasks:
                  - {name: t, cmd: "true", retries: 1}
    """)
    key = nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", check=True).stdout.strip()
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker],
                              start_new_session=True)
    # what the dead engine's journal says: the run was starting, then ran as this pid
    (home / "runs.journal").write_text(
        f"S\t{key}/f.t#1\nP\t{key}/f.t#1\t{orphan.pid}\t{time.time():.3f}\n")
    proc = nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert orphan.wait(timeout=10) == -signal.SIGKILL
    rows = _sql(home, "SELECT run, action, detail FROM stages WHERE task = 't' ORDER BY stage_id")
    assert rows == [(1, "invoked", "found by recovery: started just before the engine died"),
                    (1, "failure", "lost"),
                    (2, "retried", "attempt 2 of 2 (after a lost run)"),
                    (2, "invoked", None), (2, "success", None)]
