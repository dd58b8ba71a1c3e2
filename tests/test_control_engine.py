"""Control actions in the engine (in-process, through the Python handle): the cases the table
does not spell out - cancel-running pauses, whole-plan validation, reopening a finished event,
restarts, generators and the command format."""

from __future__ import annotations

import itertools

import pytest

from nbflow.control.command import Request, make_command, parse_until
from nbflow.control.pauses import format_detail, parse_detail
from nbflow.errors import ControlError

from conftest import processes_with_marker, wait_for, write_config

SCRIPT = 'case "$1" in sleep) sleep 60;; fail) exit 1;; esac'
CONFIG = f"""
engine: {{kill_grace: 1s}}
events:
  - name: job
    vars:
      - {{name: n, type: int}}
      - {{name: a, type: str, default: ok}}
      - {{name: b, type: str, default: ok}}
    generators:
      - name: yearly
        on_time: {{onexp: "0 0 0 1 1 *", timezone: UTC}}
        vals: {{n: 0}}
    flows:
      - name: main
        tasks:
          - {{name: a, cmd: [sh, -c, '{SCRIPT}', 'engmark-{{n}}', '{{a}}']}}
          - {{name: b, depends_on: [a], cmd: [sh, -c, '{SCRIPT}', 'engmark-{{n}}', '{{b}}']}}
          - {{name: c, depends_on: [b], cmd: [sh, -c, 'exit 0']}}
"""
_numbers = itertools.count(1)


@pytest.fixture
def handle(tmp_path):
    import nbflow.handle

    h = nbflow.handle.start(write_config(tmp_path, CONFIG), home=tmp_path / "home")
    try:
        yield h
    finally:
        h.stop()
    assert not processes_with_marker("engmark-"), "a task process outlived the engine"


def rows(h, sql, params):
    """Rows of ``sql`` as tuples, with None for SQL NULL (pandas would give NaN)."""
    df = h.sql(sql, params).astype(object)
    return [tuple(r) for r in df.where(df.notna(), None).itertuples(index=False)]


def runs(h, key, task):
    df = h.sql("SELECT attempt, status FROM task_runs WHERE event_key = ? AND task = ? ORDER BY attempt",
               [key, task])
    return [tuple(r) for r in df.itertuples(index=False)]


def event_status(h, key):
    return h.sql("SELECT status FROM events WHERE event_key = ?", [key]).iloc[0, 0]


def task_status(h, key, task):
    ev = next((e for e in h.status()["events"] if e["event_key"] == key), None)
    return None if ev is None else next(t["status"] for t in ev["flows"][0]["tasks"] if t["task"] == task)


def test_pause_with_cancel_running_stops_the_run_and_resume_starts_it_anew(handle):
    h = handle
    n = next(_numbers)
    key = h.emit("job", n=n, a="sleep")
    wait_for(lambda: task_status(h, key, "a") == "running", what="a running")
    h.pause(f"event:{key}", "disk full", cancel_running=True)
    # the process is gone when the call returns; the task waits, queued again
    assert not processes_with_marker(f"engmark-{n}\0")
    assert runs(h, key, "a") == [(1, "cancelled"), (2, "queued")]
    assert task_status(h, key, "a") == "ready"
    h.resume(f"event:{key}")
    wait_for(lambda: runs(h, key, "a")[-1] == (2, "running"), what="a started anew")
    h.cancel(f"event:{key}")
    wait_for(lambda: event_status(h, key) == "failure", what="the event to end")


def test_retry_checks_the_whole_plan_before_changing_anything(handle):
    h = handle
    key = h.emit("job", n=next(_numbers), b="sleep")
    wait_for(lambda: task_status(h, key, "b") == "running", what="b running")
    h.flush()  # compare committed rows with committed rows
    before = len(h.sql("SELECT * FROM stages WHERE event_key = ?", [key]))
    with pytest.raises(ControlError, match=r"task main\.b of event .* is running: cancel it first"):
        h.retry(f"event:{key}/main.a", tree=True)          # a ended, but b below it runs
    h.flush()
    assert len(h.sql("SELECT * FROM stages WHERE event_key = ?", [key])) == before
    h.retry(f"event:{key}/main.a")                         # without --tree: a alone runs again
    wait_for(lambda: runs(h, key, "a") == [(1, "success"), (2, "success")], what="a again")
    assert runs(h, key, "b") == [(1, "running")]
    h.cancel(f"event:{key}")


def test_retry_of_a_failed_event_reruns_the_failure_and_what_it_blocked(handle):
    h = handle
    key = h.emit("job", n=next(_numbers), a="fail")
    wait_for(lambda: event_status(h, key) == "failure", what="the failure")
    assert runs(h, key, "b") == []
    with pytest.raises(ControlError, match=r"task main\.c of event .* has not run yet: it waits for b"):
        h.retry(f"event:{key}/main.c")
    result = h.retry(f"event:{key}", "try again")
    assert result["runs"] == [f"{key}/main.a#2"]
    wait_for(lambda: event_status(h, key) == "failure" and len(runs(h, key, "a")) == 2, what="a again")
    assert h.sql("SELECT status FROM events WHERE event_key = ?", [key]).iloc[0, 0] == "failure"
    finals = h.sql("SELECT count(*) FROM stages WHERE event_key = ? AND flow IS NULL AND action = 'final'",
                   [key]).iloc[0, 0]
    assert finals == 2


def test_retry_of_a_task_whose_dependency_is_queued_again_is_refused(handle):
    h = handle
    key = h.emit("job", n=next(_numbers))
    wait_for(lambda: event_status(h, key) == "success", what="the event")
    h.pause("type:job")
    h.retry(f"event:{key}/main.a")
    with pytest.raises(ControlError, match="its dependency a has not run again yet; retry a with --tree"):
        h.retry(f"event:{key}/main.b")
    with pytest.raises(ControlError, match=r"is already queued for a retry \(attempt 2\)"):
        h.retry(f"event:{key}/main.a")
    h.resume("type:job")
    wait_for(lambda: event_status(h, key) == "success" and runs(h, key, "a")[-1] == (2, "success"),
             what="a again")
    assert runs(h, key, "b") == [(1, "success")]


def test_retry_of_a_skipped_event_runs_what_was_skipped(handle):
    h = handle
    key = h.emit("job", n=next(_numbers), b="sleep")
    wait_for(lambda: task_status(h, key, "b") == "running", what="b running")
    h.skip(f"event:{key}", "not today")
    wait_for(lambda: event_status(h, key) == "skipped", what="the event skipped")
    assert [runs(h, key, t) for t in "abc"] == [[(1, "success")], [(1, "cancelled"), (2, "skipped")],
                                                [(1, "skipped")]]
    assert h.retry(f"event:{key}")["runs"] == [f"{key}/main.b#3", f"{key}/main.c#2"]
    wait_for(lambda: task_status(h, key, "b") == "running", what="b running again")
    assert runs(h, key, "a") == [(1, "success")]
    h.cancel(f"event:{key}")


def test_skipping_a_failed_task_reopens_the_event_and_its_dependants_run(handle):
    h = handle
    key = h.emit("job", n=next(_numbers), a="fail")
    wait_for(lambda: event_status(h, key) == "failure", what="the failure")
    h.skip(f"event:{key}/main.a", "fixed by hand")
    wait_for(lambda: event_status(h, key) == "success", what="the event to succeed")
    assert runs(h, key, "a") == [(1, "failure"), (2, "skipped")]
    assert runs(h, key, "b") == [(1, "success")] and runs(h, key, "c") == [(1, "success")]
    assert rows(h, "SELECT flow, task, action FROM stages WHERE event_key = ? AND target IS NOT NULL "
                "ORDER BY stage_id", [key]) == [
        (None, None, "retried"), ("main", None, "retried"), ("main", "a", "skipped")]


def test_a_paused_type_holds_active_events_and_status_says_why(handle):
    h = handle
    key = h.emit("job", n=next(_numbers), a="sleep")
    wait_for(lambda: task_status(h, key, "a") == "running", what="a running")
    h.pause("type:job", "quarter close")
    ev = next(e for e in h.status()["events"] if e["event_key"] == key)
    assert ev["paused"] and ev["pause"]["target"] == "type:job" and ev["pause"]["reason"] == "quarter close"
    with pytest.raises(ControlError, match="is held by the pause of its type: resume type:job"):
        h.resume(f"event:{key}")
    with pytest.raises(ControlError, match=r"already paused \(held by the pause of its type"):
        h.pause(f"event:{key}")
    h.skip(f"event:{key}/main.a")                          # b would start now, but the type holds it
    wait_for(lambda: task_status(h, key, "b") == "ready", what="b held")
    assert runs(h, key, "b") == []
    h.resume("type:job")
    wait_for(lambda: event_status(h, key) == "success", what="the event to finish")


def test_an_event_paused_on_its_own_and_by_its_type_needs_both_resumed(handle):
    h = handle
    key = h.emit("job", n=next(_numbers), a="sleep")
    wait_for(lambda: task_status(h, key, "a") == "running", what="a running")
    h.pause(f"event:{key}", "own reason")
    h.pause("type:job", "type reason")
    h.resume("type:job")                                   # the event keeps its own pause
    ev = next(e for e in h.status()["events"] if e["event_key"] == key)
    assert ev["paused"] and ev["pause"]["reason"] == "own reason"
    h.pause("type:job", "again")
    assert "still held: type job is paused" in h.resume(f"event:{key}")["summary"]
    ev = next(e for e in h.status()["events"] if e["event_key"] == key)
    assert ev["paused"] and ev["pause"]["target"] == "type:job"
    assert event_status(h, key) == "paused"
    h.skip(f"event:{key}/main.a")
    wait_for(lambda: task_status(h, key, "b") == "ready", what="b held")
    h.resume("type:job")
    wait_for(lambda: event_status(h, key) == "success", what="the event to finish")


def test_retry_tree_waits_for_the_upstream_after_a_restart(tmp_path):
    import nbflow.handle

    cfg, home = write_config(tmp_path, CONFIG), tmp_path / "home"
    h = nbflow.handle.start(cfg, home=home)
    try:
        key = h.emit("job", n=next(_numbers))
        wait_for(lambda: event_status(h, key) == "success", what="the event")
        h.pause("type:job", "hold the retry")
        h.retry(f"event:{key}/main.a", tree=True)
        assert [runs(h, key, t)[-1] for t in "abc"] == [(2, "queued")] * 3   # a, b, c held by the type
    finally:
        h.stop()
    h = nbflow.handle.start(cfg, home=home)
    try:
        assert h.status()["paused_types"] == {"job": "hold the retry"}
        h.resume("type:job")
        wait_for(lambda: event_status(h, key) == "success", what="the retried event")
        times = h.sql("SELECT task, started_at, finished_at FROM task_runs WHERE event_key = ? "
                      "AND attempt = 2", [key]).set_index("task")
        assert times.loc["b", "started_at"] >= times.loc["a", "finished_at"]
        assert times.loc["c", "started_at"] >= times.loc["b", "finished_at"]
    finally:
        h.stop()


def test_generators_pause_and_resume_through_the_service(handle):
    h = handle
    answer = h.pause("generator:yearly", "not this year")
    assert answer["target"] == "generator:job.yearly"
    with pytest.raises(ControlError, match=r"generator job\.yearly is already paused"):
        h.pause("generator:job.yearly")
    with pytest.raises(ControlError, match="retry does not apply to generators"):
        h.retry("generator:yearly")
    with pytest.raises(ControlError, match="no generator 'monthly'"):
        h.pause("generator:monthly")
    h.resume("generator:yearly")
    with pytest.raises(ControlError, match="is not paused"):
        h.resume("generator:yearly")
    assert rows(h, "SELECT action, actor, detail FROM stages WHERE target = 'generator:job.yearly' "
                "ORDER BY stage_id", []) == [
        ("paused", "python", "not this year"), ("resumed", "python", None)]


def test_commands_are_checked_where_they_are_made():
    assert make_command("pause", "event:K/main.a", until="30m")["until"]
    for op, target, opts, message in [
            ("pause", "job", {}, "has no kind"),
            ("pause", "flow:x", {}, "unknown kind 'flow'"),
            ("pause", "event:K/main.", {}, "is not of the form event:KEY"),
            ("pause", "type:a b", {}, "is not of the form type:NAME"),
            ("skip", "event:K", {"tree": True}, "--tree goes with retry"),
            ("retry", "event:K", {"until": "5m"}, "go with pause"),
            ("pause", "event:K", {"until": "soonish"}, "expected an ISO time"),
            ("halt", "event:K", {}, "unknown control action 'halt'")]:
        with pytest.raises(ControlError, match=message):
            make_command(op, target, **opts)
    with pytest.raises(ControlError, match="is in the past"):
        Request.of({"op": "pause", "target": "event:K", "until": "2001-01-01T00:00:00+00:00"})


def test_until_times_and_their_place_in_the_detail():
    from datetime import datetime

    now = datetime.fromisoformat("2026-05-01T10:00:00+02:00")
    assert parse_until("30m", now) == "2026-05-01T10:30:00+02:00"
    assert parse_until("09:15", now) == "2026-05-02T09:15:00+02:00"      # the next one to come
    assert parse_until("2026-06-01T08:00+00:00", now) == "2026-06-01T08:00:00+00:00"
    until = int(datetime.fromisoformat("2026-06-01T08:00:00+00:00").timestamp() * 1e6)
    for reason in ("vendor (late) again", None):
        assert parse_detail(format_detail(reason, until)) == (reason, until)
    assert parse_detail("plain reason") == ("plain reason", None)
