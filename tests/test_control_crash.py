"""An acknowledged cancel, skip or ``pause --cancel-running`` survives an engine crash.

A running task that ignores SIGTERM, with ``kill_grace`` long, keeps the cancel pending: the
engine has committed the request (its ``cancelling`` row) and signalled the process group,
and is waiting for the group to end before it records the run's end.  The test kills the
engine with SIGKILL right then, while the process still lives, and restarts it with
``--until-idle``: the run must end as asked - not ``lost``, never retried - its process group
gone, and the event's other tasks handled as the live path would.  Each attempt of the task
leaves a marker file, so a second attempt cannot go unnoticed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import group_alive, history_rows, live_sql, nbflow_cli, wait_for, write_config

pytestmark = pytest.mark.usefixtures("no_leaked_children")

# Attempt 1 of ``slow`` ignores SIGTERM and sleeps (its child, sleep, inherits the ignore);
# later attempts succeed at once.  Every attempt writes its pid (its process group: the cmd
# runner starts each run in a group of its own) to ``slow-<attempt>.pid`` in the work folder.
SLOW = ('n=$(echo "$NBFLOW_RUN_ID" | sed "s/.*#//"); echo $$ > "$NBFLOW_WORKDIR/slow-$n.pid"; '
        'case "$NBFLOW_RUN_ID" in *"#1") trap "" TERM; sleep 60;; esac; exit 0')
CONFIG = f"""
engine: {{kill_grace: 30s}}
events:
  - name: job
    vars: [{{name: n, type: int}}]
    flows:
      - name: main
        tasks:
          - {{name: slow, retries: 2, cmd: [bash, -c, '{SLOW}', 'crashmark']}}
          - {{name: after, depends_on: [slow], cmd: [bash, -c, 'touch "$NBFLOW_WORKDIR/after-ran"']}}
"""






class Crash:
    """An engine that dies while a control action waits for a process group to end."""

    def __init__(self, tmp_path: Path, home: Path, config: str = CONFIG) -> None:
        self.cfg, self.home = write_config(tmp_path, config), home
        self.logs = tmp_path
        self.key = ""
        self.pgid: int | None = None
        self.engine: subprocess.Popen | None = None
        self.cli: subprocess.Popen | None = None

    @property
    def work(self) -> Path:
        return self.home / "work" / self.key

    def start_and_crash(self, op: str, where: str, *options: str,
                        how: signal.Signals = signal.SIGKILL) -> subprocess.CompletedProcess:
        """Emit, run until ``slow`` #1 runs, send ``nbflow OP event:KEY<where> OPTIONS``, and
        kill -9 the engine (or send it ``how``) once the request is committed; the command's
        completed process."""
        self.key = nbflow_cli("emit", "--home", str(self.home), "--config", str(self.cfg), "job", "n=1",
                              check=True).stdout.strip()
        with open(self.logs / "engine-1.log", "w") as log:
            self.engine = subprocess.Popen(
                [sys.executable, "-m", "nbflow", "run", str(self.cfg), "--home", str(self.home)],
                stdout=log, stderr=subprocess.STDOUT)
        pid_file = self.work / "slow-1.pid"
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=60,
                 what="slow #1 running")
        self.pgid = int(pid_file.read_text())
        wait_for(lambda: live_sql(self.home, "SELECT status FROM task_runs WHERE task = 'slow'")
                 == [{"status": "running"}], what="slow #1 running in history")
        self.cli = subprocess.Popen(
            [sys.executable, "-m", "nbflow", op, "--home", str(self.home), f"event:{self.key}{where}",
             *options],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: live_sql(self.home, "SELECT count(*) AS n FROM stages WHERE action = 'cancelling'")
                 == [{"n": 1}], what="the cancel request committed")
        # The process ignores SIGTERM and kill_grace is 30 s: the cancel is pending, and the
        # command still waits for its end.
        assert group_alive(self.pgid) and self.cli.poll() is None
        self.engine.send_signal(how)
        self.engine.wait(timeout=60)
        out, err = self.cli.communicate(timeout=60)
        if how == signal.SIGKILL:
            assert group_alive(self.pgid), "the task's process group died with the engine"
        return subprocess.CompletedProcess(self.cli.args, self.cli.returncode, out, err)

    def restart(self, expect: int) -> subprocess.CompletedProcess:
        proc = nbflow_cli("run", str(self.cfg), "--home", str(self.home), "--until-idle", timeout=120)
        assert proc.returncode == expect, proc.stdout + proc.stderr
        return proc

    def rows(self, query: str) -> list[tuple]:
        return history_rows(self.home, query, [self.key])

    def runs(self) -> list[tuple]:
        return self.rows("SELECT task, attempt, status, detail FROM task_runs WHERE event_key = ? "
                         "ORDER BY task, attempt")

    def attempts_started(self) -> list[str]:
        return sorted(p.name for p in self.work.glob("slow-*.pid"))

    def cleanup(self) -> None:
        for proc in (self.cli, self.engine):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        if self.pgid is not None and group_alive(self.pgid):
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def crash(tmp_path, home):
    c = Crash(tmp_path, home)
    try:
        yield c
    finally:
        c.cleanup()


def _no_second_attempt(crash: Crash) -> None:
    assert crash.attempts_started() == ["slow-1.pid"]
    assert crash.rows("SELECT count(*) FROM stages WHERE event_key = ? AND action = 'invoked' "
                      "AND task = 'slow'") == [(1,)]
    assert crash.rows("SELECT count(*) FROM stages WHERE event_key = ? AND detail = 'lost'") == [(0,)]


def _group_gone(crash: Crash) -> None:
    wait_for(lambda: not group_alive(crash.pgid), timeout=10, what="the orphaned process group ended")


def _replay_refused(crash: Crash, cli: subprocess.CompletedProcess, why: str) -> None:
    """The command got no answer, so the CLI queued it again; applied already, the replay is
    refused (the history holds the action once) and lands in ``inbox/rejected/``."""
    assert cli.returncode == 0, cli.stderr
    assert "stopped before answering" in cli.stdout and "is queued" in cli.stdout
    ((reason,),) = history_rows(crash.home, "SELECT reason FROM inbox_rejects")
    assert why in reason
    assert not list((crash.home / "inbox").glob("*.json"))


def test_a_cancel_acknowledged_before_a_crash_ends_the_run_cancelled_and_blocks_its_dependants(crash):
    cli = crash.start_and_crash("cancel", "/main.slow", "--reason", "wrong data")
    crash.restart(expect=1)          # the event failed: its task was cancelled
    _group_gone(crash)
    _no_second_attempt(crash)
    assert crash.runs() == [("slow", 1, "cancelled", "wrong data")]   # `after` never ran: blocked
    assert not (crash.work / "after-ran").exists()
    assert crash.rows("SELECT status, finished_at IS NOT NULL FROM events WHERE event_key = ?") == [
        ("failure", True)]
    assert crash.rows("SELECT actor, target FROM stages WHERE event_key = ? AND action = 'cancelled'") == [
        ("cli", f"event:{crash.key}/main.slow")]
    _replay_refused(crash, cli, "has finished (cancelled): nothing to cancel")


def test_cancelling_a_whole_event_before_a_crash_ends_it_as_a_failure(crash):
    cli = crash.start_and_crash("cancel", "")
    crash.restart(expect=1)
    _group_gone(crash)
    _no_second_attempt(crash)
    assert crash.runs() == [("after", 1, "cancelled", None),
                            ("slow", 1, "cancelled", "cancelled: cancelled by cli")]
    assert crash.rows("SELECT status FROM events WHERE event_key = ?") == [("failure",)]
    _replay_refused(crash, cli, "has finished (failure): nothing to cancel")


def test_a_skip_acknowledged_before_a_crash_ends_the_run_and_its_dependants_run(crash):
    cli = crash.start_and_crash("skip", "/main.slow", "--reason", "done by hand")
    crash.restart(expect=0)
    _group_gone(crash)
    _no_second_attempt(crash)
    assert crash.runs() == [("after", 1, "success", None), ("slow", 1, "cancelled", "done by hand"),
                            ("slow", 2, "skipped", "done by hand")]
    assert crash.rows("SELECT status FROM events WHERE event_key = ?") == [("success",)]
    _replay_refused(crash, cli, "is already skipped")


def test_skipping_a_whole_event_before_a_crash_ends_it_skipped(crash):
    cli = crash.start_and_crash("skip", "")
    crash.restart(expect=0)
    _group_gone(crash)
    _no_second_attempt(crash)
    assert crash.runs() == [("after", 1, "skipped", None),
                            ("slow", 1, "cancelled", "cancelled: skipped by cli"), ("slow", 2, "skipped", None)]
    assert crash.rows("SELECT status FROM events WHERE event_key = ?") == [("skipped",)]
    _replay_refused(crash, cli, "has finished (skipped)")


def test_pause_cancel_running_before_a_crash_requeues_the_task_parked_until_resume(crash):
    cli = crash.start_and_crash("pause", "", "--cancel-running", "--reason", "maintenance")
    out = crash.restart(expect=3)    # only paused work is left
    assert "paused by cli: maintenance" in out.stdout
    _group_gone(crash)
    _no_second_attempt(crash)
    assert crash.runs() == [("slow", 1, "cancelled", "maintenance"),
                            ("slow", 2, "queued", "queued again: paused with --cancel-running")]
    assert crash.rows("SELECT status FROM events WHERE event_key = ?") == [("paused",)]
    _replay_refused(crash, cli, "is already paused")

    assert nbflow_cli("resume", "--home", str(crash.home), f"event:{crash.key}").returncode == 0
    crash.restart(expect=0)
    assert crash.attempts_started() == ["slow-1.pid", "slow-2.pid"]
    assert crash.runs() == [("after", 1, "success", None), ("slow", 1, "cancelled", "maintenance"),
                            ("slow", 2, "success", "queued again: paused with --cancel-running")]
    assert crash.rows("SELECT status FROM events WHERE event_key = ?") == [("success",)]


def test_a_clean_stop_while_a_cancel_is_pending_ends_the_run_cancelled_not_interrupted(tmp_path, home):
    """``nbflow run`` stopped by SIGTERM ends its runs (and re-runs them after a restart);
    one a cancel was ending is recorded cancelled instead."""
    crash = Crash(tmp_path, home, CONFIG.replace("kill_grace: 30s", "kill_grace: 10s"))
    try:
        cli = crash.start_and_crash("cancel", "/main.slow", "--reason", "wrong data", how=signal.SIGTERM)
        assert crash.engine.returncode == 1        # a task failed: the cancelled one
        assert not group_alive(crash.pgid)
        crash.restart(expect=0)                     # nothing left: the stop ended the event
        _no_second_attempt(crash)
        assert crash.runs() == [("slow", 1, "cancelled", "wrong data")]
        assert crash.rows("SELECT count(*) FROM stages WHERE event_key = ? AND detail LIKE 'interrupted%'") == [(0,)]
        assert crash.rows("SELECT status FROM events WHERE event_key = ?") == [("failure",)]
        _replay_refused(crash, cli, "has finished (cancelled): nothing to cancel")
    finally:
        crash.cleanup()


def test_without_a_crash_the_request_row_is_all_that_is_added(tmp_path, home):
    """The live path records what it did before, plus the request: invisible to the views."""
    crash = Crash(tmp_path, home)
    cfg = write_config(tmp_path, CONFIG.replace("kill_grace: 30s", "kill_grace: 0.5s"), "quick.yaml")
    crash.cfg = cfg
    key = crash.key = nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", "n=1",
                                 check=True).stdout.strip()
    engine = subprocess.Popen([sys.executable, "-m", "nbflow", "run", str(cfg), "--home", str(home), "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    crash.engine = engine
    try:
        pid_file = crash.work / "slow-1.pid"
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=60, what="slow #1")
        crash.pgid = int(pid_file.read_text())
        wait_for(lambda: live_sql(home, "SELECT status FROM task_runs WHERE task = 'slow'")
                 == [{"status": "running"}], what="slow #1 running in history")
        out = nbflow_cli("skip", "--home", str(home), f"event:{key}/main.slow", "--reason", "by hand")
        assert out.returncode == 0, out.stderr
        assert not group_alive(crash.pgid)        # the answer comes once the group is gone
        wait_for(lambda: live_sql(home, f"SELECT status FROM events WHERE event_key = '{key}'")
                 == [{"status": "success"}], what="the event to succeed")
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=60)
    finally:
        crash.cleanup()
    rows = crash.rows("SELECT task, run, action, detail, actor, target FROM stages WHERE event_key = ? "
                      "AND (target IS NOT NULL OR action = 'cancelling') ORDER BY stage_id")
    request = json.loads(rows[0][3])
    assert rows[0][:3] == (None, None, "cancelling") and rows[0][4:] == ("cli", None)
    assert request == {"run_id": f"{key}/main.slow#1", "then": "skipped", "reason": "by hand",
                       "actor": "cli", "target": f"event:{key}/main.slow"}
    assert rows[1:] == [("slow", 1, "cancelled", "by hand", "cli", f"event:{key}/main.slow"),
                        ("slow", 2, "skipped", "by hand", "cli", f"event:{key}/main.slow")]
    assert crash.runs() == [("after", 1, "success", None), ("slow", 1, "cancelled", "by hand"),
                            ("slow", 2, "skipped", "by hand")]
