"""``python`` tasks with ``process: true``: the function runs in a child process of its own,
so a timeout or a cancel kills it, and a crash or ``sys.exit`` fails the run, not the engine."""

from __future__ import annotations

import datetime as dt
import os
import time

import pandas as pd
import pytest

import nbflow
from nbflow.errors import ConfigError

from conftest import alive, nbflow_cli, processes_with_marker, wait_for, wait_for_none, write_config

TASKS = '''
import datetime as dt, os, re, signal, sys, time
import nbflow

def typed(event, ctx):
    v = event.values
    assert isinstance(v["day"], dt.date) and not isinstance(v["day"], dt.datetime), v
    assert isinstance(v["at"], dt.datetime) and v["at"].tzinfo is not None, v
    assert isinstance(v["n"], int) and isinstance(v["x"], float) and v["flag"] is True, v
    assert ctx.run_id == os.environ["NBFLOW_RUN_ID"] and ctx.attempt == 1
    assert (ctx.flow, ctx.task.name, ctx.event_key) == ("main", "typed", event.event_key)
    assert "nbflow.runners.python" not in sys.modules      # not the in-process runner
    heavy = sorted({"duckdb", "pandas", "papermill", "trio"} & set(sys.modules))
    print("to stdout", os.getpid())
    print("to stderr", file=sys.stderr)
    (ctx.workdir / "pid.txt").write_text(str(os.getpid()))
    return {"day": v["day"], "at": v["at"], "n": v["n"], "x": v["x"], "heavy": heavy}

def broken(event, ctx):
    raise ValueError("the data was not there")

def refuses(event):
    return False

def emits(event, ctx):
    return [nbflow.emit("child", total=event.values["n"]), ctx.emit("child", total=-1)]

async def awaits(event, ctx):
    import trio
    await trio.sleep(0)
    return "async ok"

def sleeps(event, ctx):
    print("MARK-" + event.values["mark"], os.getpid(), flush=True)
    time.sleep(600)

def stubborn(event, ctx):
    # SIGTERM is ignored and the loop runs in C (the regex engine) without a bytecode
    # boundary: only SIGKILL, kill_grace later, ends it.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("MARK-" + event.values["mark"], os.getpid(), flush=True)
    re.match(r"(a+)+$", "a" * 64 + "b")

def exits(event):
    sys.exit(3)

def exits_zero(event):
    sys.exit(0)

def hard_exits(event):
    print("before", flush=True)
    os._exit(3)

def in_thread(event, ctx):
    import threading
    return threading.current_thread() is threading.main_thread(), os.getpid()
'''

CONFIG = """
engine: {kill_grace: 1s}
events:
  - name: job
    vars:
      - {name: day, type: date, default: 2026-01-02}
      - {name: at, type: datetime, default: "2026-01-02T03:04:05+02:00"}
      - {name: n, type: int, default: 7}
      - {name: x, type: float, default: 1.5}
      - {name: flag, type: bool, default: true}
      - {name: mark, type: str, default: none}
    flows:
      - name: main
        tasks:
          - {name: %s, python: "ptasks:%s", process: true%s}
  - name: child
    vars: [{name: total, type: int}]
"""


def start(tmp_path, home, func: str, extra: str = "", name: str | None = None):
    (tmp_path / "ptasks.py").write_text(TASKS)
    cfg = write_config(tmp_path, CONFIG % (name or func, func, extra))
    return nbflow.start(cfg, home=home)


def run_one(h, **values):
    key = h.emit("job", **values)
    h.wait_idle(timeout=60)
    h.flush()
    (row,) = h.sql("SELECT status, detail, exit_code FROM task_runs WHERE event_key = ?", [key]).itertuples(
        index=False)
    return key, row


@pytest.fixture
def engine(tmp_path, home, no_leaked_children):
    handles = []

    def make(func, extra="", name=None):
        h = start(tmp_path, home, func, extra, name)
        handles.append(h)
        return h

    yield make
    for h in handles:
        h.stop()


def test_values_arrive_typed_and_output_lands_in_the_runs_artifacts(engine):
    h = engine("typed")
    key, row = run_one(h)
    assert row.status == "success", row.detail
    assert row.exit_code == 0
    assert row.detail == repr({"day": dt.date(2026, 1, 2),
                               "at": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
                               "n": 7, "x": 1.5, "heavy": []})
    arts = dict(h.sql("SELECT kind, path FROM artifacts WHERE event_key = ?", [key]).itertuples(index=False))
    with open(arts["stdout"]) as f:
        out = f.read()
    with open(arts["stderr"]) as f:
        assert f.read() == "to stderr\n"
    child_pid = int((h.home / "work" / key / "pid.txt").read_text())
    assert out == f"to stdout {child_pid}\n" and child_pid != os.getpid()
    # the result file the child handed back is gone
    assert not list((h.home / "logs").rglob("*.result.json"))


def test_exception_and_false_fail_with_the_detail(engine):
    h = engine("broken")
    _, row = run_one(h)
    assert row.status == "failure" and row.exit_code == 1
    assert "ValueError: the data was not there" in row.detail and "Traceback" in row.detail
    h.stop()
    h = engine("refuses")
    _, row = run_one(h)
    assert (row.status, row.detail) == ("failure", "the function returned False")


def test_emit_inside_the_function_records_the_run_as_parent(engine):
    h = engine("emits")
    key, row = run_one(h, n=41)
    assert row.status == "success", row.detail
    children = h.sql("SELECT label, source, parent_run_id FROM events WHERE event_type = 'child' "
                     "ORDER BY label").to_dict("records")
    assert children == [{"label": "child:-1", "source": "task", "parent_run_id": f"{key}/main.emits#1"},
                        {"label": "child:41", "source": "task", "parent_run_id": f"{key}/main.emits#1"}]


def test_async_function_runs_under_trio_in_the_child(engine):
    h = engine("awaits")
    _, row = run_one(h)
    assert (row.status, row.detail) == ("success", "'async ok'")


@pytest.mark.parametrize("func", ["sleeps", "stubborn"])
def test_timeout_kills_the_function_and_its_process_is_gone(engine, func):
    mark = f"{func}-{os.getpid()}-{time.monotonic_ns()}"
    h = engine(func, ", timeout: 1s")
    started = time.monotonic()
    key, row = run_one(h, mark=mark)
    assert (row.status, row.detail) == ("failure", "timeout after 1s")
    assert time.monotonic() - started < 30
    out = h.sql("SELECT path FROM artifacts WHERE event_key = ? AND kind = 'stdout'", [key])["path"][0]
    with open(out) as f:
        printed, pid = f.read().split()         # printed before it was killed: kept
    assert printed == f"MARK-{mark}"
    assert not alive(int(pid))
    assert not wait_for_none(lambda: _running_tasks(h), timeout=5)


def test_cancel_kills_the_running_function(engine):
    mark = f"cancel-{os.getpid()}-{time.monotonic_ns()}"
    h = engine("sleeps")
    key = h.emit("job", mark=mark)
    log = wait_for(lambda: list((h.home / "logs").rglob(f"{key}.main.sleeps.1.stdout.txt")), timeout=30,
                   what="the run's stdout file")[0]
    wait_for(lambda: f"MARK-{mark}" in log.read_text(), timeout=30, what="the function to start")
    pid = int(log.read_text().split()[1])
    assert alive(pid)
    h.cancel(f"event:{key}/main.sleeps", reason="not needed")
    h.wait_idle(timeout=30)
    h.flush()
    status, detail = h.sql("SELECT status, detail FROM task_runs WHERE event_key = ?", [key]).iloc[0]
    assert (status, detail) == ("cancelled", "not needed")
    assert not alive(pid)
    assert not wait_for_none(lambda: _running_tasks(h), timeout=5)


@pytest.mark.parametrize("func", ["exits", "hard_exits"])
def test_exit_in_the_function_fails_the_run_not_the_engine(engine, func):
    h = engine(func)
    _, row = run_one(h)
    assert row.status == "failure" and row.exit_code == 3
    if func == "exits":
        assert row.detail == "the function called sys.exit(3)"
    else:
        assert row.detail == "exit code 3: the function did not return"
    # the engine runs on
    _, again = run_one(h)
    assert again.exit_code == 3 and h.running


def test_sys_exit_0_is_a_success_like_a_commands_exit_0(engine):
    h = engine("exits_zero")
    _, row = run_one(h)
    assert (row.status, row.detail, row.exit_code) == ("success", "the function called sys.exit(0)", 0)


def test_nbflow_check_shows_the_setting(tmp_path):
    (tmp_path / "ptasks.py").write_text(TASKS)
    cfg = write_config(tmp_path, CONFIG % ("typed", "typed", ", timeout: 1m"))
    proc = nbflow_cli("check", str(cfg), check=True)
    assert "python: ptasks:typed  [timeout 1m; in its own process]" in proc.stdout


def test_without_process_the_same_function_runs_in_the_engine(tmp_path, home):
    (tmp_path / "ptasks.py").write_text(TASKS)
    cfg = write_config(tmp_path, (CONFIG % ("in_thread", "in_thread", "")).replace(", process: true", ""))
    with nbflow.start(cfg, home=home) as h:
        _, row = run_one(h)
    assert row.status == "success" and pd.isna(row.exit_code)     # no process of its own
    assert row.detail == repr((False, os.getpid()))


def test_engine_default_python_process(tmp_path, home, no_leaked_children):
    (tmp_path / "ptasks.py").write_text(TASKS)
    text = (CONFIG % ("in_thread", "in_thread", "")).replace(", process: true", "")
    cfg = write_config(tmp_path, text.replace("engine: {kill_grace: 1s}",
                                              "engine: {kill_grace: 1s, python_process: true}"))
    with nbflow.start(cfg, home=home) as h:
        _, row = run_one(h)
    is_main, pid = eval(row.detail)
    assert is_main and pid != os.getpid() and row.exit_code == 0




def _running_tasks(h) -> list[int]:
    """Pids of task processes still running under the workspace (found by their environment)."""
    found = []
    for pid in processes_with_marker("nbflow.runners.python_child"):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if f"NBFLOW_HOME={h.home}".encode() in f.read():
                    found.append(pid)
        except OSError:
            continue
    return found


@pytest.mark.parametrize(("task", "where", "words"), [
    ('{name: a, cmd: "true", process: true}', "tasks[0].process", ["only to python tasks", "cmd task"]),
    ('{name: a, notebook: n.ipynb, process: true}', "tasks[0].process", ["only to python tasks"]),
    ('{name: a, python: "m:f", process: yes please}', "tasks[0].process", ["true or false", "yes please"]),
])
def test_process_is_validated(tmp_path, task, where, words):
    cfg = write_config(tmp_path, f"""
        events:
          - name: job
            flows:
              - name: main
                tasks:
                  - {task}
        """)
    with pytest.raises(ConfigError) as info:
        nbflow.load_config(str(cfg))
    message = str(info.value)
    assert f"events[0].flows[0].{where}" in message
    for word in words:
        assert word in message


def test_python_process_in_engine_block_must_be_a_boolean(tmp_path):
    cfg = write_config(tmp_path, """
        engine: {python_process: 1}
        events: [{name: job}]
        """)
    with pytest.raises(ConfigError, match=r"engine\.python_process.*true or false"):
        nbflow.load_config(str(cfg))
