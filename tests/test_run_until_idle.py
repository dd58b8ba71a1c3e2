"""``nbflow run --until-idle`` ends once nothing can progress on its own (real ``nbflow run``
subprocesses, each under a timeout: a run that waits for paused work fails the test instead of
hanging it).

Exit codes: 0 all done, 1 a task failed (also when paused work is left), 3 work was left held
by a pause, listed before the summary.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import history_rows, nbflow_cli, write_config

pytestmark = pytest.mark.usefixtures("no_leaked_children")

#: Every run must end well within this; a hang is a failure, not a stuck test.
RUN_TIMEOUT = 60

TWO_TYPES = """
events:
  - name: slow
    vars: [{name: n, type: int}]
    flows:
      - name: main
        tasks:
          - {name: a, cmd: [sh, -c, 'exit 0']}
          - {name: b, depends_on: [a], cmd: [sh, -c, 'exit 0']}
  - name: fast
    vars: [{name: n, type: int}]
    flows:
      - name: main
        tasks:
          - {name: a, cmd: [sh, -c, 'exit 0']}
"""


def run_until_idle(cfg: Path, home: Path) -> tuple[int, str, float]:
    """``nbflow run CFG --until-idle``: its exit code, stdout (+ stderr) and duration."""
    start = time.monotonic()
    proc = nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle", timeout=RUN_TIMEOUT)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


def emit(cfg: Path, home: Path, *args: str) -> str:
    return nbflow_cli("emit", "--home", str(home), "--config", str(cfg), *args,
                      check=True).stdout.strip()


def status_of(home: Path, key: str) -> str:
    return history_rows(home, "SELECT status FROM events WHERE event_key = ?", [key])[0][0]


def runs_of(home: Path, key: str) -> list[tuple]:
    return history_rows(home, """SELECT task, attempt, status FROM task_runs WHERE event_key = ?
                                 ORDER BY started_at""", [key])


def held_section(out: str) -> str:
    """The ``=== left paused ===`` block (it comes before the summary)."""
    assert "=== left paused ===" in out, out
    block = out.split("=== left paused ===", 1)[1]
    assert "=== " in block, out
    return block.split("=== ", 1)[0]


def test_event_paused_before_the_run_is_left_paused_and_reported(tmp_path, home):
    cfg = write_config(tmp_path, TWO_TYPES)
    held = emit(cfg, home, "slow", "n=1")
    other = emit(cfg, home, "slow", "n=2")
    quick = emit(cfg, home, "fast", "n=3")
    queued = nbflow_cli("pause", f"event:{held}", "--home", str(home), "--reason", "wait for data",
                        check=True)
    assert "queued" in queued.stdout

    code, out, _ = run_until_idle(cfg, home)

    assert code == 3, out
    section = held_section(out)
    assert f"event:{held} (slow:1)" in section
    assert "paused by cli: wait for data" in section
    assert other not in section and quick not in section
    assert out.index("=== left paused ===") < out.index("=== 3 event(s) ===")
    assert status_of(home, other) == "success" and status_of(home, quick) == "success"
    assert status_of(home, held) == "paused"
    assert ("b", 1, "success") not in runs_of(home, held)    # nothing after the pause ran

    # resumed (queued offline), the next run finishes it and exits 0
    nbflow_cli("resume", f"event:{held}", "--home", str(home), check=True)
    code, out, _ = run_until_idle(cfg, home)
    assert code == 0, out
    assert "left paused" not in out
    assert status_of(home, held) == "success"
    assert [r[0] for r in runs_of(home, held) if r[2] == "success"][-1] == "b"


def test_paused_type_holds_its_events_and_the_others_complete(tmp_path, home):
    cfg = write_config(tmp_path, TWO_TYPES)
    held = emit(cfg, home, "slow", "n=1")
    quick = emit(cfg, home, "fast", "n=2")
    nbflow_cli("pause", "type:slow", "--home", str(home), "--reason", "maintenance", check=True)

    code, out, _ = run_until_idle(cfg, home)

    assert code == 3, out
    section = held_section(out)
    assert "type:slow" in section and "paused by cli: maintenance" in section
    assert "holds 1 active event(s) of type slow" in section
    assert f"event:{held} (slow:1)" in section and "waits on type:slow" in section
    assert status_of(home, quick) == "success"
    assert status_of(home, held) == "paused"
    assert runs_of(home, held) == []


def test_task_paused_until_a_later_time_counts_as_paused(tmp_path, home):
    # b pauses its event's task c until 2099: a timed pause is paused work, not waited for
    cfg = write_config(tmp_path, """
        events:
          - name: job
            flows:
              - name: main
                tasks:
                  - {name: a, cmd: [sh, -c, 'exit 0']}
                  - name: b
                    depends_on: [a]
                    cmd: [sh, -c, 'nbflow pause "event:$NBFLOW_EVENT_KEY/main.c" --reason approval --until 2099-01-01T00:00:00Z']
                  - {name: c, depends_on: [b], cmd: [sh, -c, 'exit 0']}
                  - {name: d, depends_on: [c], cmd: [sh, -c, 'exit 0']}
    """)
    key = emit(cfg, home, "job")

    code, out, _ = run_until_idle(cfg, home)

    assert code == 3, out
    section = held_section(out)
    assert f"event:{key}/main.c (job:)" in section
    assert "paused by cli: approval (until 2099-01-01T00:00:00+00:00)" in section
    assert "holds task main.c (ready)" in section
    assert runs_of(home, key) == [("a", 1, "success"), ("b", 1, "success")]
    assert status_of(home, key) == "active"


def test_paused_generator_holding_a_fire_is_reported(tmp_path, home):
    cfg = write_config(tmp_path, """
        events:
          - name: up
            flows:
              - name: main
                tasks:
                  - {name: t, cmd: [sh, -c, 'exit 0']}
          - name: down
            generators:
              - {name: after_up, subscribe: ["up:final"]}
            flows:
              - name: main
                tasks:
                  - {name: t, cmd: [sh, -c, 'exit 0']}
    """)
    emit(cfg, home, "up")
    nbflow_cli("pause", "generator:down.after_up", "--home", str(home), "--reason", "frozen", check=True)

    code, out, _ = run_until_idle(cfg, home)

    assert code == 3, out
    section = held_section(out)
    assert "generator:down.after_up" in section and "paused: frozen; holds 1 fire(s)" in section
    assert history_rows(home, "SELECT status FROM events WHERE event_type = 'up'") == [("success",)]
    assert history_rows(home, "SELECT count(*) FROM events WHERE event_type = 'down'") == [(0,)]

    nbflow_cli("resume", "generator:down.after_up", "--home", str(home), check=True)
    code, out, _ = run_until_idle(cfg, home)
    assert code == 0, out
    assert history_rows(home, "SELECT status, generator FROM events WHERE event_type = 'down'") == [
        ("success", "down.after_up")]


RETRY = """
events:
  - name: job
    vars: [{{name: n, type: int}}]
    flows:
      - name: main
        tasks:
          - name: flaky
            retries: 1
            retry_delay: 1s
            cmd: [sh, -c, '{script}']
"""


@pytest.mark.parametrize("script, code, statuses", [
    # fails once (leaves a mark in the event's work directory), then succeeds
    ('[ -e "$NBFLOW_WORKDIR/tried" ] || {{ touch "$NBFLOW_WORKDIR/tried"; exit 1; }}', 0,
     ["failure", "success"]),
    ("exit 1", 1, ["failure", "failure"]),
], ids=["fails-then-succeeds", "always-fails"])
def test_a_retry_delay_is_waited_for(tmp_path, home, script, code, statuses):
    cfg = write_config(tmp_path, RETRY.format(script=script))
    key = emit(cfg, home, "job", "n=1")

    got, out, elapsed = run_until_idle(cfg, home)

    assert got == code, out
    assert "left paused" not in out
    rows = history_rows(home, """SELECT attempt, status, epoch_ms(started_at) FROM task_runs
                                 WHERE event_key = ? ORDER BY attempt""", [key])
    assert [r[1] for r in rows] == statuses
    assert rows[1][2] - rows[0][2] >= 900     # the second attempt came after the delay
    assert elapsed >= 1.0


def test_a_retry_that_would_only_park_under_a_pause_is_not_waited_for(tmp_path, home):
    # the task pauses itself, then fails: its retry (in 30 s) would start paused, so the run
    # ends at once with the task listed as held in its retry wait
    script = 'nbflow pause "event:$NBFLOW_EVENT_KEY/main.flaky" --reason "look first" && exit 1'
    cfg = write_config(tmp_path, RETRY.format(script=script).replace("retry_delay: 1s",
                                                                     "retry_delay: 30s"))
    key = emit(cfg, home, "job", "n=1")

    code, out, elapsed = run_until_idle(cfg, home)

    assert code == 3, out        # a failed attempt with a retry to come is not a failed event
    assert elapsed < 25, f"took {elapsed:.1f}s: it waited for a retry that could not start"
    section = held_section(out)
    assert f"event:{key}/main.flaky (job:1)" in section
    assert "paused by cli: look first; holds task main.flaky (retry_wait)" in section
    assert runs_of(home, key) == [("flaky", 1, "failure"), ("flaky", 2, "queued")]   # never started


def test_an_hourly_timer_does_not_keep_the_run_waiting(tmp_path, home):
    cfg = write_config(tmp_path, """
        events:
          - name: tick
            generators:
              - name: hourly
                on_time: {onexp: "0 0 * * * *", timezone: UTC}
            flows:
              - name: main
                tasks:
                  - {name: t, cmd: [sh, -c, 'exit 0']}
          - name: job
            flows:
              - name: main
                tasks:
                  - {name: t, cmd: [sh, -c, 'exit 0']}
    """)
    key = emit(cfg, home, "job")

    code, out, elapsed = run_until_idle(cfg, home)

    assert code == 0, out
    assert elapsed < 30, f"took {elapsed:.1f}s"
    assert status_of(home, key) == "success"
    assert "left paused" not in out and "paused (nothing waits on it)" not in out


def test_a_normal_run_exits_0_and_a_failing_one_1(tmp_path, home):
    ok = write_config(tmp_path, TWO_TYPES, name="ok.yaml")
    emit(ok, home, "fast", "n=1")
    code, out, _ = run_until_idle(ok, home)
    assert code == 0, out
    assert "SUCCESS  fast:1" in out and "paused" not in out.lower()

    bad = write_config(tmp_path, TWO_TYPES.replace("'exit 0'", "'exit 4'"), name="bad.yaml")
    emit(bad, home, "fast", "n=2")
    code, out, _ = run_until_idle(bad, home)
    assert code == 1, out
    assert "FAILURE  fast:2" in out


def test_a_failure_wins_over_paused_work_and_an_idle_pause_is_only_listed(tmp_path, home):
    cfg = write_config(tmp_path, TWO_TYPES.replace("'exit 0'", "'exit 4'"))
    emit(cfg, home, "slow", "n=1")
    emit(cfg, home, "fast", "n=2")
    nbflow_cli("pause", "type:slow", "--home", str(home), "--reason", "later", check=True)

    code, out, _ = run_until_idle(cfg, home)
    assert code == 1, out                      # a task failed: 1, even with work left paused
    assert "type:slow" in held_section(out)

    # the held event is cancelled by a skip: the type's pause now holds nothing -> exit 0
    (key,) = history_rows(home, "SELECT event_key FROM events WHERE status = 'paused'")[0]
    nbflow_cli("skip", f"event:{key}", "--home", str(home), check=True)
    code, out, _ = run_until_idle(cfg, home)
    assert code == 0, out
    assert "=== paused (nothing waits on it) ===" in out
    assert "type:slow" in out and "holds 0 active event(s) of type slow" in out
