"""The dashboard of a workspace whose engine runs in another process (``nbflow run``), or not
at all: a real engine subprocess, and in this process ``nbflow.dashboard(home=...)`` driven as
a user would (``Button.click()`` runs the callbacks a browser click runs).

What a user relies on: the history and an event's page read through the engine's socket with
their types (aware times, NULLs, integers); the running view follows the engine; an action
reaches it; when it stops the dashboard keeps showing history read-only, queues actions in
the inbox (the next engine applies them), notices engines start and stop within seconds, and
never keeps an engine from starting.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nbflow
from nbflow import client
from nbflow.dashboard.app import Dashboard
from nbflow.dashboard.workspace_source import WorkspaceSource
from nbflow.errors import NbflowError, WorkspaceError
from nbflow.workspace import Workspace

from conftest import nbflow_cli, wait_for, write_config

pytestmark = pytest.mark.usefixtures("no_leaked_children")

CONFIG = """
    events:
      - name: job
        vars:
          - {name: name, type: str}
          - {name: code, type: int, default: 0}
        flows:
          - name: main
            tasks:
              - {name: say, cmd: ["python", "-c", "import sys; print('hello from', sys.argv[1]); sys.exit(int(sys.argv[2]))", "{name}", "{code}"]}
      - name: slow
        vars: [{name: seconds, type: float, default: 60}]
        flows:
          - name: wait
            tasks:
              - {name: sleep, cmd: ["python", "-c", "import sys, time; time.sleep(float(sys.argv[1]))", "{seconds}"]}
"""
JOBS = [("a", 0), ("b", 3), ("c", 0)]       # b fails with exit code 3


def make_history(root: Path) -> tuple[Path, Path, list[str]]:
    """A config and a workspace whose engine ran three jobs to the end (no engine left)."""
    cfg = write_config(root, CONFIG)
    home = root / "home"
    keys = [nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", f"name={n}", f"code={c}",
                       check=True).stdout.strip() for n, c in JOBS]
    run = nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle", timeout=120)
    assert run.returncode == 1 and "FAILURE  job:b,3" in run.stdout, run.stdout + run.stderr   # b failed
    return cfg, home, keys


def start_engine(cfg: Path, home: Path, *extra: str) -> subprocess.Popen:
    """``nbflow run`` in the background, as a service runs it; returns once its socket answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBFLOW_")}
    with open(home.parent / f"engine-{time.monotonic_ns()}.log", "w") as log:   # the child keeps its copy
        proc = subprocess.Popen([sys.executable, "-m", "nbflow", "run", str(cfg), "--home", str(home), *extra],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for(lambda: proc.poll() is not None or _answers(home), timeout=60, what="the engine's socket")
    except BaseException:
        stop_engine(proc)
        raise
    assert proc.poll() is None, f"the engine exited {proc.returncode}"
    return proc


def _answers(home: Path) -> bool:
    try:
        client.request(Workspace(home.resolve()), {"op": "ping"}, timeout=2)
        return True
    except (NbflowError, OSError):
        return False


def stop_engine(proc: subprocess.Popen) -> int:
    """SIGTERM, as systemd stops a service; its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        raise


def cli_rows(home: Path, query: str) -> list[dict]:
    """``nbflow sql --format json`` in a subprocess: what another terminal would see."""
    return json.loads(nbflow_cli("sql", "--home", str(home), "--format", "json", query, check=True).stdout)


def said(board) -> str:
    return html.unescape(board.message.value)


def visible(board) -> list[tuple[str, str]]:
    """(label, event line) of each row the events tab shows."""
    return [(b.description, line.value) for b, line, box in board.history.rows if box.layout.display != "none"]


def history_fds() -> list[str]:
    """Files of this process that are the workspace's DuckDB file (an open connection)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.endswith("history.duckdb") or target.endswith("history.duckdb.wal"):
            found.append(target)
    return found


@pytest.fixture(scope="module")
def hist(tmp_path_factory):
    return make_history(tmp_path_factory.mktemp("remote"))


# -- through a running engine ---------------------------------------------------------------------
def test_history_and_an_event_page_through_a_running_engine(hist):
    cfg, home, keys = hist
    proc = start_engine(cfg, home)
    board = None
    try:
        board = nbflow.dashboard(home=home, interval=0)
        assert isinstance(board.source, WorkspaceSource)
        header = html.unescape(board.header.value)
        assert "nbflow-engine-running" in header and f"pid {proc.pid}" in header   # the other process
        # The events tab: newest first, each with its status.
        rows = visible(board)
        assert [label for label, _ in rows] == ["job:c,0", "job:b,3", "job:a,0"]
        assert ["nbflow-status-failure" in line for _, line in rows] == [False, True, False]
        assert all("nbflow-status-success" in line for label, line in rows if label != "job:b,3")
        assert board.history.where.value == "1-3 of 3 events"
        # Typed over the socket: aware datetimes (the same instants another terminal sees), NULLs.
        typed = {r["event_key"]: r for r in board.source.sql(
            "SELECT event_key, created_at, finished_at, generator, status FROM events WHERE event_type = ?",
            ["job"])}
        truth = {r["event_key"]: r for r in cli_rows(
            home, "SELECT event_key, epoch_us(created_at) AS us, status FROM events")}
        assert set(typed) == set(keys)
        for key, row in typed.items():
            assert isinstance(row["created_at"], dt.datetime) and row["created_at"].utcoffset() is not None
            us = round(row["created_at"].timestamp() * 1e6)
            assert us == truth[key]["us"] and row["status"] == truth[key]["status"]
            assert row["generator"] is None and row["finished_at"] >= row["created_at"]
        when = dt.datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=dt.UTC)
        (echo,) = board.source.sql("SELECT ? AS t, ? AS d, ? AS n", [when, when.date(), None])
        assert echo == {"t": when, "d": when.date(), "n": None}      # parameters keep their type too
        runs = board.source.sql("SELECT exit_code, attempt FROM task_runs WHERE event_key = ?", [keys[1]])
        assert runs == [{"exit_code": 3, "attempt": 1}]            # integers, not floats or text
        # The failed job's page: its run and its stdout, previewed.
        board.history.rows[1][0].click()
        ev = board.event
        assert "job:b,3" in ev.header.value and "nbflow-status-failure" in ev.header.value
        assert ev.runs.value.count("<tr>") == 2 and "nbflow-status-failure" in ev.runs.value
        stdout = next(v for label, v in ev.pick.options if label.startswith("stdout"))
        ev.pick.value = stdout
        assert "hello from b" in html.unescape(ev.preview.children[1].value)
        # The Arrow answer is what the socket sends; an unknown format is refused by name.
        with pytest.raises(NbflowError, match="unknown format 'xml'; formats: json, arrow"):
            client.request(board.source.ws, {"op": "sql", "format": "xml", "query": "SELECT 1"})
    finally:
        if board is not None:
            board.close()
        stop_engine(proc)


def test_the_dashboard_notices_an_engine_start_and_stop_within_seconds(tmp_path):
    cfg, home, _ = make_history(tmp_path)
    board = nbflow.dashboard(home=home, interval=0.5)
    proc = None
    try:
        assert "no engine running" in board.header.value and "history as of" in board.header.value
        assert "no engine runs on this workspace" in board.running.summary.value
        assert visible(board)[0][0] == "job:c,0"           # history, read from the file
        as_of = board.header.value
        ticks = board._refresher.ticks
        wait_for(lambda: board._refresher.ticks >= ticks + 4, timeout=10, what="a few idle ticks")
        assert board.header.value == as_of      # two seconds of ticks, no read: nothing changed
        assert history_fds() == []        # never held open: an engine can start right now
        assert "event type extra" not in _structure_text(board)
        # the service is restarted with a config that has one more type
        cfg.write_text(cfg.read_text() + EXTRA)
        proc = start_engine(cfg, home)
        started = time.monotonic()
        wait_for(lambda: f"pid {proc.pid}" in board.header.value, timeout=10, interval=0.05,
                 what="the header to show the engine")
        assert time.monotonic() - started < 5
        wait_for(lambda: "follows it live" in said(board), timeout=10, what="the dashboard to say so")
        assert "event type extra" in _structure_text(board)          # its config, not the old one
        assert "extra" in board.history.type.options
        assert board.tabs.children[0] is board.structure
        stop_engine(proc)
        stopped = time.monotonic()
        wait_for(lambda: "no engine running" in board.header.value, timeout=10, interval=0.05,
                 what="the header to show no engine")
        assert time.monotonic() - stopped < 5
        assert board.live
    finally:
        board.close()
        if proc is not None:
            stop_engine(proc)
    assert not board.live


EXTRA = """\
  - name: extra
    vars: [{name: n, type: int}]
"""


def _structure_text(board) -> str:
    return " ".join(c.value for c in board.structure.children if hasattr(c, "value"))


# -- steering, then the engine stops --------------------------------------------------------------
def test_pause_through_the_engine_then_queue_while_it_is_down(tmp_path):
    cfg, home, _ = make_history(tmp_path)
    proc = start_engine(cfg, home)
    board = nbflow.dashboard(home=home, interval=0.5)
    try:
        key = nbflow_cli("emit", "--home", str(home), "slow", "seconds=120", check=True).stdout.strip()
        row = wait_for(lambda: board.running._rows.get(key), timeout=30, what="the slow event's row")
        wait_for(lambda: "nbflow-status-running" in row.text.value, timeout=30,
                 what="the sleeping task in the running view")
        assert "sleep" in row.text.value and "slow:120.0" in row.text.value
        # pause, from the dashboard, reaches the engine: another process sees the stage
        row.actions.buttons["pause"].click()
        assert "nbflow-msg-ok" in board.message.value and f"pause event:{key}" in said(board)
        paused = cli_rows(home, f"SELECT actor FROM stages WHERE event_key = '{key}' AND action = 'paused' "
                                "AND flow IS NULL AND task IS NULL")
        assert paused == [{"actor": "dashboard"}]

        # The service stops: the dashboard says so within seconds and keeps reading history.
        assert stop_engine(proc) >= 0           # it wound down by itself, not killed
        wait_for(lambda: "no engine running" in board.header.value, timeout=10, what="the engine gone")
        with board.lock:        # the refresh that noticed it has finished
            assert not board.running._rows
            assert "no engine runs on this workspace" in board.running.summary.value
        labels = [label for label, _ in visible(board)]
        assert labels[0] == "slow:120.0" and len(labels) == 4
        board.open_event(key)
        assert "slow:120.0" in board.event.header.value
        runs = [(r.task, r.attempt, r.status) for r in board.event.page.runs]
        assert runs == [("sleep", 1, "failure"), ("sleep", 2, "queued")]    # to run again at a restart
        created = board.source.sql("SELECT created_at FROM event_log WHERE event_key = ?", [key])[0]
        assert created["created_at"].tzinfo is not None
        assert history_fds() == []

        # An action now is queued in the inbox, and the dashboard says so.
        bar = board.event.actions
        bar.buttons["cancel"].click()
        assert bar.confirm_box.layout.display == "flex"
        bar.yes.click()
        assert "queued in the inbox" in said(board) and "nbflow-msg-ok" in board.message.value
        (queued,) = (home / "inbox").glob("*.json")
        command = json.loads(queued.read_text())
        assert (command["op"], command["target"], command["actor"]) == ("cancel", f"event:{key}", "dashboard")
        assert "1 command queued in the inbox" in board.header.value
        with pytest.raises(NbflowError, match="no event 'nope'"):
            board.source.command({"op": "pause", "target": "event:nope", "actor": "dashboard"})

        # A new engine starts while the dashboard is open (its refresh thread ticking) and
        # applies the queued cancel; --until-idle then ends.
        assert history_fds() == []
        run = nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle", timeout=120)
        assert run.returncode == 1 and f"cancelled {key}" in run.stdout, run.stdout + run.stderr
        assert not list((home / "inbox").glob("*.json"))
        cancelled = cli_rows(home, f"SELECT actor FROM stages WHERE event_key = '{key}' AND action = 'cancelled' "
                                   "AND flow IS NULL AND task IS NULL")
        assert cancelled == [{"actor": "dashboard"}]
        # the dashboard saw the history file change and re-read it, without being asked
        wait_for(lambda: "nbflow-status-failure" in visible(board)[0][1], timeout=10,
                 what="the cancelled event in the list")
        assert "queued in the inbox" not in board.header.value
        assert board.live
    finally:
        board.close()
        stop_engine(proc)


# -- entry points and errors ----------------------------------------------------------------------
def test_entry_points_and_clear_errors(hist, tmp_path, monkeypatch):
    _, home, _ = hist
    monkeypatch.setenv("NBFLOW_HOME", str(home))
    board = nbflow.dashboard(interval=0)               # no engine in this process: $NBFLOW_HOME
    try:
        assert isinstance(board, Dashboard) and board.source.home == home.resolve()
    finally:
        board.close()
    with pytest.raises(NbflowError, match=r"pass a handle .* or home= .*, not both"):
        nbflow.dashboard(object(), home=home)
    (tmp_path / "empty").mkdir()
    with pytest.raises(WorkspaceError, match="has no history yet: no engine has run there"):
        nbflow.dashboard(home=tmp_path / "empty", interval=0)
    with pytest.raises(WorkspaceError, match="does not exist"):
        nbflow.dashboard(home=tmp_path / "nowhere", interval=0)
    monkeypatch.delenv("NBFLOW_HOME")
    with pytest.raises(NbflowError, match=r"no engine runs in this process.*nbflow.dashboard\(home='DIR'\)"):
        nbflow.dashboard(interval=0)


def test_the_structure_comes_from_the_config_recorded_in_history(hist, tmp_path):
    cfg, home, _ = hist
    source = WorkspaceSource(home)
    assert [t.name for t in source.config.event_types] == ["job", "slow"]
    assert source.config.sources == (cfg.resolve(),)          # the file itself: it is unchanged
    # Edited since (or gone): the dashboard shows what the engine ran, not the new file.
    original = cfg.read_text()
    try:
        cfg.write_text(original.replace("name: slow", "name: renamed"))
        again = WorkspaceSource(home)
        assert [t.name for t in again.config.event_types] == ["job", "slow"]
        cfg.unlink()
        assert [t.name for t in WorkspaceSource(home).config.event_types] == ["job", "slow"]
    finally:
        cfg.write_text(original)


def test_a_config_of_several_files_is_rebuilt_from_their_recorded_texts(tmp_path):
    """Files gone: each recorded text loads with its own file's name and folder, in load order."""
    from nbflow.dashboard.recorded_config import Recorded, load_recorded

    first, second = str(tmp_path / "a" / "ingest.yaml"), str(tmp_path / "b" / "report.yaml")
    texts = {first: "events:\n  - name: ingest\n    flows: [{name: main, tasks: [{name: t, cmd: 'true'}]}]\n",
             second: "events:\n  - name: report\n    generators: [{name: after, subscribe: ['ingest:final']}]\n"
                     "    flows: [{name: main, tasks: [{name: t, cmd: 'true'}]}]\n"}
    config = load_recorded(Recorded(7, (first, second), texts), tmp_path)
    assert [t.name for t in config.event_types] == ["ingest", "report"]
    assert [t.flows[0].tasks[0].base_dir for t in config.event_types] == [
        str((tmp_path / "a").resolve()), str((tmp_path / "b").resolve())]
    broken = dict(texts, **{second: texts[second].replace("ingest:final", "nowhere:final")})
    # the error names the recorded file and line, not a temporary copy
    with pytest.raises(NbflowError, match=r"\(config 7, from .* no longer loads: \S*/b/report\.yaml:3: "
                                          r"events\[0\]\.generators\[0\]\.subscribe\[0\]"):
        load_recorded(Recorded(7, (first, second), broken), tmp_path)


def test_magic_dashboard_home(hist, monkeypatch):
    from IPython.core.error import UsageError
    from IPython.display import display  # noqa: F401 (patched below, where show() imports it)
    from IPython.testing import globalipapp

    _, home, _ = hist
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    monkeypatch.delenv("NBFLOW_HOME", raising=False)
    ip = globalipapp.get_ipython()
    ip.run_line_magic("load_ext", "nbflow")
    try:
        with pytest.raises(UsageError, match="--home DIR"):     # no engine, no workspace used yet
            ip.run_line_magic("nbflow", "dashboard")
        assert ip.run_line_magic("nbflow", f"dashboard --home {home}") is None
        (board,) = shown
        assert board.source.home == home.resolve() and "no engine running" in board.header.value
        board.close()
        assert ip.run_line_magic("nbflow", "dashboard") is None  # the workspace used last
        assert len(shown) == 2 and shown[1].source.home == home.resolve()
    finally:
        for board in shown:
            board.close()
        ip.run_line_magic("unload_ext", "nbflow")
