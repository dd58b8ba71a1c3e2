"""``%load_ext nbflow``: the magics in an in-process IPython shell, and a real kernel whose
shutdown stops the engine it runs."""

from __future__ import annotations

import os
import sys
import uuid

import duckdb
import pytest
from IPython.core.error import UsageError
from IPython.testing import globalipapp

from nbflow.engine.lock import engine_running
from nbflow.handle import current_handle
from nbflow.workspace import Workspace

from conftest import processes_with_marker, wait_for, wait_for_none, write_config

pytestmark = pytest.mark.usefixtures("no_leaked_children")

CONFIG = """
    events:
      - name: job
        vars:
          - {name: region, type: str, choices: [us, eu]}
          - {name: n, type: int, default: 1}
        flows:
          - name: main
            tasks:
              - {name: hello, cmd: "echo hello {region}"}
              - {name: count, cmd: "echo {n}", depends_on: [hello]}
"""


@pytest.fixture
def shell():
    """An IPython shell with the extension loaded; any engine it started is stopped after."""
    ip = globalipapp.get_ipython()
    ip.run_line_magic("load_ext", "nbflow")
    yield ip
    handle = current_handle()
    if handle is not None:
        handle.stop()
    ip.run_line_magic("unload_ext", "nbflow")


@pytest.fixture
def cfg(tmp_path):
    return write_config(tmp_path, CONFIG)


def test_start_emit_watch_query_and_stop(shell, cfg, home, capsys):
    handle = shell.run_line_magic("nbflow", f"start {cfg} --home {home}")
    assert capsys.readouterr().out == f"nbflow engine running on {home}\n"
    assert handle.running and handle is current_handle()
    # Starting again gives the same engine, and says so.
    assert shell.run_line_magic("nbflow", f"start {cfg} --home {home}") is handle
    assert "already running" in capsys.readouterr().out
    result = shell.run_cell("key = %nbflow emit job region=eu n=3")
    assert result.success
    key = shell.user_ns["key"]
    handle.wait_idle(timeout=60)
    shell.run_line_magic("nbflow", "status")
    status = capsys.readouterr().out
    assert f"on {home.resolve()}: 0 active event(s)" in status and "history: 1 success" in status
    frame = shell.run_line_magic("nbflow", "sql SELECT event_key, label, status FROM events")
    assert frame.to_dict("records") == [{"event_key": key, "label": "job:eu,3", "status": "success"}]
    shell.run_cell_magic("nbflow_sql", "runs", "SELECT task, status FROM task_runs ORDER BY task")
    assert shell.user_ns["runs"].to_dict("records") == [{"task": "count", "status": "success"},
                                                        {"task": "hello", "status": "success"}]
    shell.run_line_magic("nbflow", "stop")
    assert capsys.readouterr().out == f"nbflow engine on {home.resolve()} stopped\n"
    assert current_handle() is None and not engine_running(Workspace(home.resolve()))
    # With the engine stopped, the history is read from the file (the last workspace used).
    again = shell.run_line_magic("nbflow", "sql SELECT count(*) AS n FROM events")
    assert again["n"][0] == 1
    assert shell.run_line_magic("nbflow", f"sql --home {home} SELECT label FROM events")["label"][0] == "job:eu,3"


def _sleeping_config(tmp_path, marker: str):
    """A type whose one task sleeps for minutes; ``marker`` finds its process."""
    return write_config(tmp_path, f"""
        events:
          - name: nap
            flows:
              - name: main
                tasks:
                  - {{name: sleep, cmd: [{sys.executable}, -c, "import time; time.sleep(300)", {marker}]}}
    """)


def test_stop_commits_the_runs_it_interrupts(shell, tmp_path):
    """`%nbflow stop` while a task runs: the run is recorded as interrupted and queued again.
    (Three rounds: a stop landing between two history batches once lost the last one.)"""
    marker = uuid.uuid4().hex
    cfg = _sleeping_config(tmp_path, marker)
    for round_ in range(3):
        home = tmp_path / f"home{round_}"
        handle = shell.run_line_magic("nbflow", f"start {cfg} --home {home}")
        shell.run_line_magic("nbflow", "emit nap")
        wait_for(lambda: processes_with_marker(marker), timeout=30, what="the task process to start")
        shell.run_line_magic("nbflow", "stop")
        assert not handle.running and not processes_with_marker(marker)
        con = duckdb.connect(str(home / "history.duckdb"), read_only=True)
        try:
            runs = con.execute("SELECT attempt, status, detail FROM task_runs ORDER BY attempt").fetchall()
        finally:
            con.close()
        assert runs == [(1, "failure", "interrupted: the engine stopped"),
                        (2, "queued", "queued again: the engine stopped while it ran")], f"round {round_}"


def test_status_of_an_engine_in_another_process_and_without_any(shell, home, capsys):
    shell.run_line_magic("nbflow", "status")
    assert "no nbflow engine runs in this kernel" in capsys.readouterr().out
    shell.run_line_magic("nbflow", f"status --home {home}")
    assert f"no engine is running on workspace {home.resolve()}" in capsys.readouterr().out


def test_mistakes_get_usage_errors_that_say_what_to_do(shell, cfg, home, tmp_path):
    with pytest.raises(UsageError, match=r"`%nbflow start CONFIG` before emitting"):
        shell.run_line_magic("nbflow", "emit job region=eu")
    with pytest.raises(UsageError, match=r"unknown %nbflow command 'stats' \(did you mean 'status'\?\)"):
        shell.run_line_magic("nbflow", "stats")
    with pytest.raises(UsageError, match=r"%nbflow start: the following arguments are required: CONFIG"):
        shell.run_line_magic("nbflow", "start")
    with pytest.raises(UsageError, match=r"missing\.yaml: no such file"):
        shell.run_line_magic("nbflow", f"start {tmp_path / 'missing.yaml'} --home {home}")
    shell.run_line_magic("nbflow", f"start {cfg} --home {home}")
    with pytest.raises(UsageError, match=r"var 'region': 'mars' is not one of the choices"):
        shell.run_line_magic("nbflow", "emit job region=mars")
    with pytest.raises(UsageError, match=r"expected VAR=VALUE, got 'region'"):
        shell.run_line_magic("nbflow", "emit job region")
    with pytest.raises(UsageError, match=r"query failed: .*no_such_table"):
        shell.run_line_magic("nbflow", "sql SELECT * FROM no_such_table")
    with pytest.raises(UsageError, match=r"an engine already runs in this process on .*; stop it first"):
        shell.run_line_magic("nbflow", f"start {cfg} --home {tmp_path / 'other'}")
    with pytest.raises(UsageError, match=r"'2x' is not a variable name"):
        shell.run_cell_magic("nbflow_sql", "2x", "SELECT 1")


def test_dashboard_shows_or_says_it_is_not_there(shell, cfg, home, capsys):
    shell.run_line_magic("nbflow", f"start {cfg} --home {home}")
    capsys.readouterr()
    shown = shell.run_line_magic("nbflow", "dashboard")
    import importlib

    out = capsys.readouterr().out
    assert shown is None    # displayed, not returned: returning it too would show it twice
    if getattr(importlib.import_module("nbflow.dashboard"), "show", None) is None:
        assert "dashboard is not available" in out
    else:
        assert "dashboard is not available" not in out and "Error" not in out


def test_unloading_the_extension_stops_the_engine(cfg, home):
    ip = globalipapp.get_ipython()
    ip.run_line_magic("load_ext", "nbflow")
    handle = ip.run_line_magic("nbflow", f"start {cfg} --home {home}")
    ip.run_line_magic("unload_ext", "nbflow")
    assert not handle.running and not engine_running(Workspace(home.resolve()))
    assert "nbflow" not in ip.magics_manager.magics["line"]


@pytest.mark.slow
def test_shutting_the_kernel_down_stops_its_engine(tmp_path, home):
    """A real kernel: the engine runs in its thread; a shutdown commits history and ends tasks."""
    from jupyter_client.manager import KernelManager

    marker = uuid.uuid4().hex
    cfg = _sleeping_config(tmp_path, marker)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBFLOW_")}
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path), env=env)
    kc = km.client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(
            f"%load_ext nbflow\n%nbflow start {cfg} --home {home}\nkey = %nbflow emit nap",
            timeout=60, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok", reply["content"]
        wait_for(lambda: processes_with_marker(marker), timeout=30, what="the task process to start")
        assert engine_running(Workspace(home.resolve()))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    assert not km.is_alive()
    assert not engine_running(Workspace(home.resolve()))          # the lock is free
    assert not wait_for_none(lambda: processes_with_marker(marker), timeout=10)
    con = duckdb.connect(str(home / "history.duckdb"), read_only=True)
    try:
        events = con.execute("SELECT label FROM events").fetchall()
        runs = con.execute("SELECT attempt, status, detail FROM task_runs ORDER BY attempt").fetchall()
    finally:
        con.close()
    assert events == [("nap:",)]
    # The run was interrupted, committed as such, and queued again for the next engine.
    assert runs == [(1, "failure", "interrupted: the engine stopped"),
                    (2, "queued", "queued again: the engine stopped while it ran")]
