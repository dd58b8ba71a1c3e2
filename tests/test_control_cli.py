"""Control actions through the CLI against a running engine (``nbflow run`` in a subprocess).

Tasks are real processes that wait for a gate file in their event's work directory, so a test
decides when each one may finish; every wait polls history (the same query path as
``nbflow sql``) under a deadline.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from nbflow.cli.sql import query
from nbflow.workspace import Workspace

from conftest import nbflow_cli, processes_with_marker, wait_for, write_config

pytestmark = pytest.mark.usefixtures("no_leaked_children")

# A task that waits until its gate file exists (``$1``), then succeeds.
GATE = "while [ ! -e \"$1\" ]; do sleep 0.05; done"
CONFIG = f"""
engine: {{kill_grace: 1s}}
events:
  - name: job
    vars: [{{name: n, type: int}}]
    flows:
      - name: main
        tasks:
          - {{name: first, cmd: [sh, -c, '{GATE}', 'climark-{{n}}', '{{workdir}}/go']}}
          - {{name: second, depends_on: [first], cmd: [sh, -c, 'exit 0', 'climark-{{n}}']}}
  - name: other
    vars: [{{name: n, type: int}}]
    flows:
      - name: main
        tasks:
          - {{name: only, cmd: [sh, -c, 'exit 0']}}
  - name: tree
    flows:
      - name: main
        tasks:
          - {{name: root, cmd: [sh, -c, 'exit 0']}}
          - {{name: left, depends_on: [root], cmd: [sh, -c, 'exit 0']}}
          - {{name: right, depends_on: [root], cmd: [sh, -c, 'exit 0']}}
          - {{name: leaf, depends_on: [left], cmd: [sh, -c, 'exit 0']}}
          - {{name: solo, cmd: [sh, -c, 'exit 0']}}
  - name: stubborn
    vars: [{{name: n, type: int}}]
    flows:
      - name: main
        tasks:
          # ignores SIGTERM and leaves a grandchild: cancel must still end them all
          - name: sleeper
            cmd: [python, -c, "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', sys.argv[1]]); time.sleep(60)", 'stubmark-{{n}}']
"""


class Engine:
    """``nbflow run CONFIG --home HOME`` in a subprocess, and what the tests ask of it."""

    def __init__(self, cfg: Path, home: Path) -> None:
        self.cfg, self.home, self.ws = cfg, home, Workspace(home)
        self.proc: subprocess.Popen | None = None

    def start(self) -> Engine:
        self.proc = subprocess.Popen([sys.executable, "-m", "nbflow", "run", str(self.cfg), "--home",
                                      str(self.home), "--quiet"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: self.answers() or self.proc.poll() is not None, what="the engine's socket")
        assert self.proc.poll() is None, self.proc.communicate()
        return self

    def answers(self) -> bool:
        return nbflow_cli("status", "--home", str(self.home)).returncode == 0 \
            if (self.home / "engine.addr").exists() else False

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode in (0, 1), (out, err)   # 1: some task failed (cancelled)
        assert not (self.home / "engine.addr").exists()

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return nbflow_cli(args[0], "--home", str(self.home), *args[1:])

    def emit(self, etype: str, **values) -> str:
        out = self.cli("emit", etype, *(f"{k}={v}" for k, v in values.items()))
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def rows(self, sql: str) -> list[list]:
        return query(self.ws, sql)[1]

    def runs(self, key: str) -> dict[str, list[tuple[int, str]]]:
        out: dict[str, list[tuple[int, str]]] = {}
        for task, attempt, status in self.rows(
                f"SELECT task, attempt, status FROM task_runs WHERE event_key = '{key}' ORDER BY task, attempt"):
            out.setdefault(task, []).append((attempt, status))
        return out

    def status_of(self, key: str) -> str | None:
        rows = self.rows(f"SELECT status FROM events WHERE event_key = '{key}'")
        return rows[0][0] if rows else None

    def wait_status(self, key: str, status: str, timeout: float = 30) -> None:
        wait_for(lambda: self.status_of(key) == status, timeout=timeout, what=f"event {key} {status}")

    def wait_run(self, key: str, task: str, status: str, attempt: int = 1, timeout: float = 30) -> None:
        wait_for(lambda: (attempt, status) in self.runs(key).get(task, []), timeout=timeout,
                 what=f"{task}#{attempt} of {key} {status}")

    def open_gate(self, key: str) -> None:
        (self.home / "work" / key / "go").touch()

    def control_rows(self, key: str) -> list[tuple]:
        """(flow, task, action, actor, detail) of the rows control actions wrote for ``key``."""
        return [tuple(r) for r in self.rows(
            f"SELECT flow, task, action, actor, detail FROM stages WHERE event_key = '{key}' "
            f"AND target IS NOT NULL ORDER BY stage_id")]


@pytest.fixture
def engine(tmp_path):
    eng = Engine(write_config(tmp_path, CONFIG), tmp_path / "home").start()
    try:
        yield eng
    finally:
        eng.stop()


def test_pausing_an_event_stops_new_starts_in_it_while_others_go_on_and_resume_completes_it(engine):
    held, free = engine.emit("job", n=1), engine.emit("job", n=2)
    for key in (held, free):
        engine.wait_run(key, "first", "running")
    out = engine.cli("pause", f"event:{held}", "--reason", "vendor file late")
    assert out.returncode == 0, out.stderr
    assert f"paused event {held}" in out.stdout
    status = json.loads(engine.cli("status", "--json").stdout)
    ev = next(e for e in status["events"] if e["event_key"] == held)
    assert ev["paused"] and ev["pause"]["reason"] == "vendor file late" and ev["pause"]["actor"] == "cli"
    assert "PAUSED (by cli, vendor file late)" in engine.cli("status").stdout
    engine.open_gate(held)
    engine.open_gate(free)
    engine.wait_status(free, "success")                    # the other event goes on to the end
    engine.wait_run(held, "first", "success")              # what ran in the paused one finished
    assert "second" not in engine.runs(held)               # ... and nothing new started in it
    assert engine.status_of(held) == "paused"
    out = engine.cli("resume", f"event:{held}", "--reason", "file arrived")
    assert out.returncode == 0, out.stderr
    engine.wait_status(held, "success")
    assert engine.runs(held)["second"] == [(1, "success")]
    assert engine.control_rows(held) == [
        (None, None, "paused", "cli", "vendor file late"), (None, None, "resumed", "cli", "file arrived")]


def test_pausing_a_type_holds_its_new_events(engine):
    out = engine.cli("pause", "type:job", "--reason", "maintenance")
    assert out.returncode == 0, out.stderr
    key = engine.emit("job", n=3)
    marker = engine.emit("other", n=1)                     # emitted after, of another type
    engine.wait_status(marker, "success")
    engine.wait_status(key, "paused")                      # accepted, and held
    assert engine.runs(key) == {}
    assert "type job: PAUSED (by cli, maintenance)" in engine.cli("status").stdout
    assert engine.cli("resume", "type:job").returncode == 0
    engine.wait_run(key, "first", "running")
    engine.open_gate(key)
    engine.wait_status(key, "success")
    type_rows = engine.rows("SELECT action, actor, detail FROM stages WHERE target = 'type:job' "
                            "AND event_key IS NULL ORDER BY stage_id")
    assert type_rows == [["paused", "cli", "maintenance"], ["resumed", "cli", None]]
    assert engine.control_rows(key) == [(None, None, "paused", "engine", "type job is paused"),
                                        (None, None, "resumed", "cli", "type job resumed")]


def test_retry_tree_reruns_exactly_the_downstream(engine):
    key = engine.emit("tree")
    engine.wait_status(key, "success")
    out = engine.cli("retry", f"event:{key}/main.left", "--tree", "--reason", "bad input fixed")
    assert out.returncode == 0, out.stderr
    wait_for(lambda: engine.runs(key)["leaf"] == [(1, "success"), (2, "success")], what="leaf again")
    engine.wait_status(key, "success")
    assert engine.runs(key) == {
        "root": [(1, "success")], "right": [(1, "success")], "solo": [(1, "success")],
        "left": [(1, "success"), (2, "success")], "leaf": [(1, "success"), (2, "success")]}
    rows = engine.control_rows(key)
    assert rows == [(None, None, "retried", "cli", "bad input fixed"),
                    ("main", None, "retried", "cli", "bad input fixed"),
                    ("main", "left", "retried", "cli", "bad input fixed"),
                    ("main", "leaf", "retried", "cli", "bad input fixed")]
    # the event went back to active and ended again
    assert engine.rows(f"SELECT count(*) FROM stages WHERE event_key = '{key}' AND flow IS NULL "
                       f"AND action = 'final'") == [[2]]


def test_skip_lets_dependants_run(engine):
    key = engine.emit("job", n=4)
    engine.wait_run(key, "first", "running")
    out = engine.cli("skip", f"event:{key}/main.first", "--reason", "done by hand")
    assert out.returncode == 0, out.stderr
    engine.wait_status(key, "success")
    assert engine.runs(key) == {"first": [(1, "cancelled"), (2, "skipped")], "second": [(1, "success")]}
    assert not processes_with_marker("climark-4\0")
    assert engine.control_rows(key) == [("main", "first", "cancelled", "cli", "done by hand"),
                                        ("main", "first", "skipped", "cli", "done by hand")]


def test_cancel_leaves_no_process_behind(engine):
    key = engine.emit("stubborn", n=7)
    engine.wait_run(key, "sleeper", "running")
    wait_for(lambda: len(processes_with_marker("stubmark-7\0")) == 2, what="the task and its child")
    out = engine.cli("cancel", f"event:{key}", "--reason", "wrong day")
    assert out.returncode == 0, out.stderr
    # the answer comes once the process group is gone: SIGTERM ignored, so SIGKILL after 1 s
    assert processes_with_marker("stubmark-7\0") == []
    engine.wait_status(key, "failure")
    assert engine.runs(key) == {"sleeper": [(1, "cancelled")]}
    assert engine.control_rows(key) == [(None, None, "cancelled", "cli", "wrong day"),
                                        ("main", "sleeper", "cancelled", "cli", "wrong day")]


def test_refused_actions_exit_1_with_the_reason_and_change_nothing(engine):
    key = engine.emit("other", n=2)
    engine.wait_status(key, "success")
    before = engine.rows("SELECT count(*) FROM stages")
    cases = [(("resume", f"event:{key}"), "has finished (success): nothing to resume"),
             (("cancel", f"event:{key}"), "has finished (success): nothing to cancel"),
             (("skip", f"event:{key}/main.only"), "has already succeeded"),
             (("resume", "type:other"), "type other is not paused"),
             (("pause", "event:20990101T000000.000000-000000"), "no event '20990101T000000.000000-000000'"),
             (("retry", f"event:{key}/nope"), "has no flow 'nope'; its flows: main"),
             (("pause", "type:prices"), "no event type 'prices'")]
    for argv, message in cases:
        out = engine.cli(*argv)
        assert out.returncode == 1, (argv, out.stdout, out.stderr)
        assert f"nbflow {argv[0]}: refused: " in out.stderr and message in out.stderr, (argv, out.stderr)
    assert engine.rows("SELECT count(*) FROM stages") == before
    bad = engine.cli("pause", "event:")
    assert bad.returncode == 2 and "is not of the form event:KEY" in bad.stderr
    bad = engine.cli("skip", f"event:{key}", "--until", "5m")
    assert bad.returncode == 2


def test_clone_emits_the_same_values_with_provenance(engine):
    key = engine.emit("other", n=5)
    engine.wait_status(key, "success")
    out = engine.cli("clone", f"event:{key}", "--reason", "rerun for the audit")
    assert out.returncode == 0, out.stderr
    new = out.stdout.strip()
    engine.wait_status(new, "success")
    assert engine.rows(f"SELECT label, source, cause FROM events WHERE event_key = '{new}'") == [
        ["other:5", "user", f"clone of {key} by cli: rerun for the audit"]]


def test_without_an_engine_the_command_is_queued_and_applied_when_one_starts(tmp_path):
    eng = Engine(write_config(tmp_path, CONFIG), tmp_path / "home").start()
    try:
        key = eng.emit("job", n=8)
        eng.wait_run(key, "first", "running")
    finally:
        eng.stop()       # the run is interrupted; it is queued again on restart
    out = eng.cli("pause", f"event:{key}", "--reason", "while nobody watches")
    assert out.returncode == 0, out.stderr
    assert "no engine runs" in out.stdout and "queued" in out.stdout
    unknown = eng.cli("pause", "event:20990101T000000.000000-000000")
    assert unknown.returncode == 1 and "no event" in unknown.stderr
    eng.start()
    try:
        wait_for(lambda: eng.status_of(key) == "paused", what="the queued pause applied")
        assert ("paused" in [r[2] for r in eng.control_rows(key)])
        eng.open_gate(key)
        assert eng.cli("resume", f"event:{key}").returncode == 0
        eng.wait_status(key, "success")
    finally:
        eng.stop()


def test_pause_until_resumes_by_itself_even_across_a_restart(tmp_path):
    eng = Engine(write_config(tmp_path, CONFIG), tmp_path / "home").start()
    try:
        key = eng.emit("job", n=9)
        eng.wait_run(key, "first", "running")
        out = eng.cli("pause", f"event:{key}", "--reason", "lunch", "--until", "4s")
        assert out.returncode == 0, out.stderr
        detail = eng.rows(f"SELECT detail FROM stages WHERE event_key = '{key}' AND action = 'paused'")
        assert detail[0][0].startswith("lunch (until ")
    finally:
        eng.stop()
    eng.start()      # the pause is read back from history and ends on time (at once if overdue)
    try:
        eng.open_gate(key)
        wait_for(lambda: "resumed" in [r[2] for r in eng.control_rows(key)], timeout=20,
                 what="the pause to end by itself")
        eng.wait_status(key, "success")
        resumed = [r for r in eng.control_rows(key) if r[2] == "resumed"]
        assert resumed[0][3] == "engine" and resumed[0][4].startswith("pause ended (until ")
        (resumed_at,), = eng.rows(f"SELECT \"at\" FROM stages WHERE event_key = '{key}' AND action = 'resumed'")
        until = detail[0][0].split("(until ", 1)[1].rstrip(")")
        assert datetime.fromisoformat(resumed_at) >= datetime.fromisoformat(until)   # not before its time
    finally:
        eng.stop()
