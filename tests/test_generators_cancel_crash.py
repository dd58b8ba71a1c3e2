"""A generator's ``on_hold: cancel-running`` cancel survives an engine crash.

The generator ``job.again`` emits a ``job`` event for each ``tick`` event, holding until the
previous ``job`` is final and cancelling its running tasks when the next tick comes.  The first
job's task ignores SIGTERM and ``kill_grace`` is long, so after the second tick the cancel is
pending: its request (a ``cancelling`` row) committed, the process group signalled, the new job
emitted.  The test kills the engine with SIGKILL right then, while the process still lives, and
restarts it with ``--until-idle``: the run must end ``cancelled`` by the generator - not
``lost``, never retried - its process group gone, and the new job there exactly once.  Each
attempt of the task leaves a marker file, so a second attempt cannot go unnoticed.
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

# Attempt 1 of ``slow`` in job n=1 ignores SIGTERM and sleeps (its child, sleep, inherits the
# ignore); every other run succeeds at once.  Each attempt writes its pid (its process group:
# the cmd runner starts each run in a group of its own) to ``slow-<attempt>.pid`` in its
# event's work folder.
SLOW = ('n=$(echo "$NBFLOW_RUN_ID" | sed "s/.*#//"); echo $$ > "$NBFLOW_WORKDIR/slow-$n.pid"; '
        'case "$NBFLOW_VAR_n/$NBFLOW_RUN_ID" in "1/"*"#1") trap "" TERM; sleep 60;; esac; exit 0')
CONFIG = f"""
engine: {{kill_grace: 30s}}
events:
  - name: tick
    vars: [{{name: n, type: int}}]
  - name: job
    vars: [{{name: n, type: int}}]
    generators:
      - {{name: again, subscribe: ["tick:emitted"], vals: {{n: "{{trigger.n}}"}}, hold: final,
          on_hold: cancel-running}}
    flows:
      - name: main
        tasks:
          - {{name: slow, retries: 2, cmd: [bash, -c, '{SLOW}', 'gencrashmark']}}
          - {{name: after, depends_on: [slow], cmd: [bash, -c, 'touch "$NBFLOW_WORKDIR/after-ran"']}}
"""
ACTOR = "generator:job.again"






def _jobs(home: Path) -> list[dict]:
    return live_sql(home, "SELECT event_key, vals FROM events WHERE event_type = 'job' ORDER BY created_at")


def _tick(home: Path, cfg: Path, n: int) -> None:
    nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "tick", f"n={n}", check=True)


class Run:
    """An engine running CONFIG in which the generator is cancelling job n=1's slow #1."""

    def __init__(self, tmp_path: Path, home: Path, kill_grace: str = "30s") -> None:
        self.cfg = write_config(tmp_path, CONFIG.replace("kill_grace: 30s", f"kill_grace: {kill_grace}"))
        self.home, self.logs = home, tmp_path
        self.engine: subprocess.Popen | None = None
        self.pgid: int | None = None
        self.first = ""

    def start_and_fire_again(self) -> None:
        """Tick 1 (job n=1 runs slow #1), then tick 2 once slow #1 runs: returns when the
        cancel request and job n=2 are committed."""
        home = self.home
        _tick(home, self.cfg, 1)
        with open(self.logs / "engine-1.log", "w") as log:
            self.engine = subprocess.Popen(
                [sys.executable, "-m", "nbflow", "run", str(self.cfg), "--home", str(home)],
                stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: len(_jobs(home)) == 1, timeout=60, what="the generator's first job")
        first = self.first = _jobs(home)[0]["event_key"]
        pid_file = home / "work" / first / "slow-1.pid"
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=60,
                 what="slow #1 running")
        self.pgid = int(pid_file.read_text())
        wait_for(lambda: live_sql(home, f"SELECT status FROM task_runs WHERE event_key = '{first}'")
                 == [{"status": "running"}], what="slow #1 running in history")
        _tick(home, self.cfg, 2)     # the generator fires again: it cancels slow #1, emits job n=2
        wait_for(lambda: live_sql(home, "SELECT count(*) AS n FROM stages WHERE action = 'cancelling'")
                 == [{"n": 1}] and len(_jobs(home)) == 2, timeout=30,
                 what="the cancel request and the new job committed")

    def stop(self, how: signal.Signals) -> None:
        self.engine.send_signal(how)
        self.engine.wait(timeout=60)

    def cleanup(self) -> None:
        if self.engine is not None and self.engine.poll() is None:
            self.engine.kill()
            self.engine.wait(timeout=10)
        if self.pgid is not None and group_alive(self.pgid):
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def rows(self, query: str, *params) -> list[tuple]:
        return history_rows(self.home, query, params)

    def request_and_end(self) -> tuple[dict, list[tuple]]:
        """The ``cancelling`` request, and the (actor, target, detail) of slow #1's end."""
        ((request,),) = self.rows("SELECT detail FROM stages WHERE action = 'cancelling'")
        return json.loads(request), self.rows(
            "SELECT actor, target, detail FROM stages WHERE event_key = ? AND action = 'cancelled'", self.first)

    def jobs(self) -> list[tuple]:
        """(vals, status, generator, key) of every job, in order; each job emitted once."""
        assert self.rows("SELECT count(*) FROM generator_ticks WHERE generator = 'again' "
                         "AND outcome = 'emitted'") == [(2,)]
        return [(json.loads(v), s, g, k) for k, v, s, g in self.rows(
            "SELECT event_key, vals, status, generator FROM events WHERE event_type = 'job' ORDER BY created_at")]


@pytest.fixture
def run(tmp_path, home):
    r = Run(tmp_path, home)
    try:
        yield r
    finally:
        r.cleanup()


def _check_request(run: Run) -> str:
    """The request names the generator and the fire; the run's end says the same; its detail."""
    request, ended = run.request_and_end()
    reason = request["reason"]
    assert reason.startswith("cancelled: generator job.again fired again (") and "on_hold cancel-running" in reason
    assert request == {"run_id": f"{run.first}/main.slow#1", "then": "cancelled", "reason": reason,
                       "actor": ACTOR, "target": f"event:{run.first}"}
    assert ended == [(ACTOR, f"event:{run.first}", reason)]
    return reason


def test_a_generator_cancel_pending_at_a_crash_ends_the_run_cancelled_and_the_new_event_stays(run):
    home = run.home
    run.start_and_fire_again()
    # The process ignores SIGTERM and kill_grace is 30 s: the cancel is pending.
    assert group_alive(run.pgid)
    run.stop(signal.SIGKILL)
    assert group_alive(run.pgid), "the task's process group died with the engine"

    out = nbflow_cli("run", str(run.cfg), "--home", str(home), "--until-idle", timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr    # job n=1 failed: its task was cancelled
    wait_for(lambda: not group_alive(run.pgid), timeout=10, what="the orphaned process group ended")
    first, rows = run.first, run.rows

    # The cancelled run: ended as the generator asked, never lost, never run again.
    assert sorted(p.name for p in (home / "work" / first).glob("slow-*.pid")) == ["slow-1.pid"]
    assert not (home / "work" / first / "after-ran").exists()
    detail = _check_request(run)
    assert rows("SELECT task, attempt, status, detail FROM task_runs WHERE event_key = ?", first) == [
        ("slow", 1, "cancelled", detail)]                     # `after` never ran: blocked
    assert rows("SELECT count(*) FROM stages WHERE detail = 'lost'") == [(0,)]
    assert rows("SELECT count(*) FROM stages WHERE event_key = ? AND task = 'slow' AND action IN "
                "('invoked', 'retried')", first) == [(1,)]
    # The new job: emitted once (not again by the restart), and it ran to the end (its slow may
    # have been lost to the crash and retried: it succeeded once).
    jobs = run.jobs()
    assert [j[:3] for j in jobs] == [({"n": 1}, "failure", "job.again"), ({"n": 2}, "success", "job.again")]
    second = jobs[1][3]
    assert (home / "work" / second / "after-ran").exists()
    assert rows("SELECT task, status FROM task_runs WHERE event_key = ? AND status = 'success' "
                "ORDER BY task", second) == [("after", "success"), ("slow", "success")]


def test_without_a_crash_the_generator_cancel_records_the_same_rows(tmp_path, home):
    """The live path: the group is killed after kill_grace, and the run ends as the request says."""
    run = Run(tmp_path, home, kill_grace="0.5s")
    try:
        run.start_and_fire_again()
        wait_for(lambda: [r["status"] for r in live_sql(
            home, "SELECT status FROM events WHERE event_type = 'job' ORDER BY created_at")]
            == ["failure", "success"], timeout=30, what="both jobs to end")
        assert not group_alive(run.pgid)
        run.stop(signal.SIGTERM)
    finally:
        run.cleanup()
    _check_request(run)
    assert [j[:3] for j in run.jobs()] == [({"n": 1}, "failure", "job.again"), ({"n": 2}, "success", "job.again")]
    assert sorted(p.name for p in (home / "work" / run.first).glob("slow-*.pid")) == ["slow-1.pid"]
