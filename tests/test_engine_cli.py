"""The engine through the CLI, as users run it: real processes, a real DuckDB file."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import REPO, nbflow_cli, wait_for, write_config

pytestmark = pytest.mark.usefixtures("no_leaked_children")


def test_demo_runs_end_to_end_and_prints_what_happened(tmp_path):
    configs = tmp_path / "configs"
    shutil.copytree(REPO / "configs", configs, ignore=shutil.ignore_patterns(".nbflow"))
    emit = nbflow_cli("emit", "--config", str(configs / "demo.yaml"), "prices", "region=eu", "days=60",
                      check=True)
    key = emit.stdout.strip()
    run = nbflow_cli("run", str(configs / "demo.yaml"), "--until-idle", check=True)
    out = run.stdout
    assert f"SUCCESS  prices:eu,60   [{key}] from user" in out
    assert "report_ready:eu,60" in out and f"emitted by task run {key}/main.announce#1" in out
    for task in ("fetch", "stats", "report", "announce"):
        assert f"main.{task} #1: success" in out
    assert "artifact returns.parquet (dataset" in out and "artifact report.html (report" in out
    # The default workspace sits beside the config, and its history answers SQL afterwards.
    home = configs / ".nbflow"
    con = duckdb.connect(str(home / "history.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT event_type, status, parent_run_id FROM events ORDER BY created_at").fetchall()
        assert rows == [("prices", "success", None), ("report_ready", "success", f"{key}/main.announce#1")]
        # fan-out then join: announce started only after both stats and report succeeded
        times = dict(con.execute(
            "SELECT task, started_at FROM task_runs WHERE event_key = ?", [key]).fetchall())
        ends = dict(con.execute(
            "SELECT task, finished_at FROM task_runs WHERE event_key = ?", [key]).fetchall())
        assert times["announce"] >= max(ends["stats"], ends["report"])
        assert times["stats"] >= ends["fetch"] and times["report"] >= ends["fetch"]
        n = con.execute("SELECT count(*) FROM read_parquet(?)", [str(home / "artifacts" / key / "main.stats.1" /
                                                                     "returns.parquet")]).fetchone()[0]
        assert n == 60
    finally:
        con.close()


def test_emit_rejects_bad_values_and_queues_nothing(tmp_path, home):
    cfg = write_config(tmp_path, """
        events:
          - name: price
            vars:
              - {name: region, type: str, choices: [us, eu]}
              - {name: horizon, type: int, min: 1, max: 30, default: 5}
    """)
    cases = [
        (["price", "region=mars"], "var 'region': 'mars' is not one of the choices [us, eu]"),
        (["price", "region=us", "horizon=99"], "var 'horizon': 99 is above the max 30"),
        (["price", "region=us", "horizon=soon"], "var 'horizon': expected an integer, got 'soon'"),
        (["price"], "var 'region' (str) is required"),
        (["price", "region=us", "colour=red"], "has no var 'colour'"),
        (["prize", "region=us"], "no event type 'prize' (did you mean 'price'?)"),
        (["price", "region"], "expected VAR=VALUE, got 'region'"),
    ]
    for argv, message in cases:
        proc = nbflow_cli("emit", "--home", str(home), "--config", str(cfg), *argv)
        assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
        assert message in proc.stderr, (argv, proc.stderr)
    assert not list((home / "inbox").glob("*.json")) if (home / "inbox").exists() else True
    ok = nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "price", "region=eu", check=True)
    assert len(list((home / "inbox").glob("*.json"))) == 1
    assert ok.stdout.strip()


def test_emit_without_config_uses_the_config_the_workspace_last_ran(tmp_path, home):
    cfg = write_config(tmp_path, """
        events:
          - name: ping
            vars: [{name: n, type: int, min: 0}]
    """)
    proc = nbflow_cli("emit", "--home", str(home), "ping", "n=1")
    assert proc.returncode == 2
    assert "has not run a config yet; pass --config" in proc.stderr
    nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle", check=True)
    bad = nbflow_cli("emit", "--home", str(home), "ping", "n=-1")
    assert bad.returncode == 2 and "var 'n': -1 is below the min 0" in bad.stderr
    nbflow_cli("emit", "--home", str(home), "ping", "n=3", check=True)
    nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle", check=True)
    out = nbflow_cli("sql", "--home", str(home), "--format", "json", "SELECT label, status FROM events", check=True)
    assert json.loads(out.stdout) == [{"label": "ping:3", "status": "success"}]


def test_sql_formats_without_engine(tmp_path, home):
    cfg = write_config(tmp_path, """
        events:
          - name: ping
            vars: [{name: who, type: str}]
            flows:
              - name: f
                tasks:
                  - {name: hello, cmd: "echo hi {who}"}
    """)
    nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "ping", "who=ann", check=True)
    nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle", check=True)
    q = "SELECT task, status, exit_code FROM task_runs"
    table = nbflow_cli("sql", "--home", str(home), q, check=True).stdout
    assert table.splitlines()[0].split() == ["task", "status", "exit_code"]
    assert "hello  success  0" in table and "(1 row)" in table
    csv = nbflow_cli("sql", "--home", str(home), "--format", "csv", q, check=True).stdout
    assert csv.splitlines() == ["task,status,exit_code", "hello,success,0"]
    js = json.loads(nbflow_cli("sql", "--home", str(home), "--format", "json", q, check=True).stdout)
    assert js == [{"task": "hello", "status": "success", "exit_code": 0}]
    bad = nbflow_cli("sql", "--home", str(home), "SELECT nope FROM task_runs")
    assert bad.returncode == 2 and "nope" in bad.stderr
    stdout = nbflow_cli("sql", "--home", str(home), "--format", "csv",
                        "SELECT path FROM artifacts WHERE kind = 'stdout'", check=True).stdout.splitlines()[1]
    assert Path(stdout).read_text() == "hi ann\n"


def _start_engine(cfg, home, *extra) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "nbflow", "run", str(cfg), "--home", str(home), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (home / "engine.addr").exists() or proc.poll() is not None, what="the engine's socket")
    assert proc.poll() is None, proc.communicate()
    return proc


def _stop_engine(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    return out, err


def test_running_engine_answers_sql_and_status_and_refuses_a_second_engine(tmp_path, home):
    cfg = write_config(tmp_path, """
        events:
          - name: job
            vars: [{name: n, type: int}]
            flows:
              - name: f
                tasks:
                  - {name: slow, cmd: "python -c 'import time; time.sleep(60)'"}
    """)
    engine = _start_engine(cfg, home)
    try:
        nbflow_cli("emit", "--home", str(home), "job", "n=7", check=True)
        wait_for(lambda: "running" in nbflow_cli("sql", "--home", str(home), "--format", "csv",
                                                 "SELECT status FROM task_runs").stdout,
                 what="the task to run")
        status = nbflow_cli("status", "--home", str(home), check=True).stdout
        assert "1 active event(s), 1 task(s) running" in status
        assert "job:7" in status and "slow" in status and "running" in status
        js = json.loads(nbflow_cli("status", "--home", str(home), "--json", check=True).stdout)
        assert js["events"][0]["flows"][0]["tasks"][0]["status"] == "running"
        second = nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle")
        assert second.returncode == 2
        assert "another engine (pid" in second.stderr and "is already running on workspace" in second.stderr
    finally:
        _stop_engine(engine)
    assert engine.returncode == 0
    # Stopped mid-run: the run is recorded as interrupted and queued again for the next start.
    rows = nbflow_cli("sql", "--home", str(home), "--format", "csv",
                      "SELECT run, action, detail FROM stages WHERE task = 'slow' ORDER BY stage_id",
                      check=True).stdout.splitlines()[1:]
    assert rows == ["1,invoked,", "1,failure,interrupted: the engine stopped",
                    "2,retried,queued again: the engine stopped while it ran"]
    not_running = nbflow_cli("status", "--home", str(home))
    assert not_running.returncode == 1 and "no engine is running" in not_running.stdout


def test_history_from_a_newer_nbflow_is_refused(tmp_path, home):
    cfg = write_config(tmp_path, "events: [{name: a}]\n")
    nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle", check=True)
    con = duckdb.connect(str(home / "history.duckdb"))
    con.execute("INSERT INTO schema_version (version) VALUES (99)")
    con.close()
    proc = nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle")
    assert proc.returncode == 2
    assert "written by a newer nbflow (schema version 99" in proc.stderr


def test_until_idle_exits_nonzero_when_a_task_failed(tmp_path, home):
    cfg = write_config(tmp_path, """
        events:
          - name: job
            flows:
              - name: f
                tasks:
                  - {name: bad, cmd: "python -c 'raise SystemExit(3)'", retries: 2, retry_delay: 100ms}
                  - {name: after, cmd: "true", depends_on: [bad]}
    """)
    nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", check=True)
    proc = nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILURE  job:" in proc.stdout
    rows = nbflow_cli("sql", "--home", str(home), "--format", "csv",
                      "SELECT task, attempt, status, exit_code FROM task_runs ORDER BY started_at",
                      check=True).stdout.splitlines()[1:]
    assert rows == ["bad,1,failure,3", "bad,2,failure,3", "bad,3,failure,3"]
