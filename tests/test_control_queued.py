"""Control actions reach tasks still waiting for a slot (more tasks ready than ``max_parallel``):
cancel and skip end them before they start, a pause parks them, and a generator's on_hold
``cancel-running`` cancels them with the running ones."""

from __future__ import annotations

import itertools

import pytest

from conftest import processes_with_marker, wait_for, write_config

# The first task of an event to start holds the only slot for ``hold`` seconds (trio starts
# the three in any order); the other two wait for it, and do not sleep once they run.
HOLDER = 'mkdir "$NBFLOW_WORKDIR/held" 2>/dev/null && sleep "$1"; exit 0'
CONFIG = f"""
engine: {{kill_grace: 1s}}
events:
  - name: tick
    vars: [{{name: n, type: int}}, {{name: hold, type: int}}]
  - name: job
    vars:
      - {{name: n, type: int}}
      - {{name: hold, type: int, default: 0}}
    generators:
      - name: follow
        subscribe: ["tick:emitted"]
        vals: {{n: "{{trigger.n}}", hold: "{{trigger.hold}}"}}
        hold: final
        on_hold: cancel-running
    flows:
      - name: main
        tasks:
          - {{name: a, cmd: [sh, -c, '{HOLDER}', 'qmark-{{n}}', '{{hold}}']}}
          - {{name: b, cmd: [sh, -c, '{HOLDER}', 'qmark-{{n}}', '{{hold}}']}}
          - {{name: c, cmd: [sh, -c, '{HOLDER}', 'qmark-{{n}}', '{{hold}}']}}
"""
_numbers = itertools.count(1)


@pytest.fixture
def handle(tmp_path):
    import nbflow.handle

    h = nbflow.handle.start(write_config(tmp_path, CONFIG), home=tmp_path / "home", max_parallel=1)
    try:
        yield h
    finally:
        h.stop()
    assert not processes_with_marker("qmark-"), "a task process outlived the engine"


def tasks(h, key):
    """``{task: live status}`` of an active event; None once it ended."""
    ev = next((e for e in h.status()["events"] if e["event_key"] == key), None)
    return None if ev is None else {t["task"]: t["status"] for t in ev["flows"][0]["tasks"]}


def holder_and_waiting(h, key) -> tuple[str, list[str]]:
    """The task holding the slot and the two waiting for it, once that is the event's state."""
    def state():
        live = tasks(h, key)
        return live if live and sorted(live.values()) == ["queued", "queued", "running"] else None

    live = wait_for(state, what="one task running, two waiting for the slot")
    return (next(t for t, s in live.items() if s == "running"),
            sorted(t for t, s in live.items() if s == "queued"))


def task_rows(h, key):
    """``{task: [(run, action, detail)]}`` of an event, from committed history."""
    h.flush()
    df = h.sql("SELECT task, run, action, detail FROM stages WHERE event_key = ? AND task IS NOT NULL "
               "ORDER BY stage_id", [key]).astype(object)
    out: dict[str, list] = {}
    for task, run, action, detail in df.where(df.notna(), None).itertuples(index=False):
        out.setdefault(task, []).append((run, action, detail))
    return out


def event_status(h, key):
    h.flush()
    return h.sql("SELECT status FROM events WHERE event_key = ?", [key]).iloc[0, 0]


def invoked_after(h, key, stage_id):
    """Task runs of ``key`` invoked after stage ``stage_id``."""
    return h.sql("SELECT run_id FROM stages WHERE event_key = ? AND action = 'invoked' AND task IS NOT NULL "
                 "AND stage_id > ?", [key, stage_id])["run_id"].tolist()


def action_stage_id(h, key, action):
    """The id of the first row of a control action on ``key`` (its target column is set)."""
    h.flush()
    return int(h.sql("SELECT min(stage_id) FROM stages WHERE event_key = ? AND action = ? "
                     "AND target IS NOT NULL", [key, action]).iloc[0, 0])


@pytest.mark.parametrize("level", ["event", "flow"])
@pytest.mark.parametrize("op", ["cancel", "skip"])
def test_cancel_and_skip_end_the_tasks_waiting_for_a_slot_before_they_start(handle, op, level):
    h = handle
    n = next(_numbers)
    key = h.emit("job", n=n, hold=60)
    holder, waiting = holder_and_waiting(h, key)
    behind = h.emit("job", n=next(_numbers))   # queued behind them: runs once they had the slot
    target = f"event:{key}" + ("/main" if level == "flow" else "")
    answer = getattr(h, op)(target, "not needed")
    assert "still_running" not in answer
    assert not processes_with_marker(f"qmark-{n}\0")       # the holder's process is gone
    h.wait_idle(timeout=60)

    status = "cancelled" if op == "cancel" else "skipped"
    rows = task_rows(h, key)
    for task in waiting:    # their one run ended before it started: no invoked row, ever
        assert rows[task] == [(1, status, "not needed")]
    assert rows[holder] == [(1, "invoked", None), (1, "cancelled", "not needed"),
                            *([(2, "skipped", "not needed")] if op == "skip" else [])]
    assert invoked_after(h, key, action_stage_id(h, key, status)) == []
    assert event_status(h, key) == {"cancel": "failure", "skip": "skipped" if level == "event"
                                    else "success"}[op]
    assert event_status(h, behind) == "success"


@pytest.mark.parametrize("op", ["cancel", "skip"])
def test_cancel_and_skip_of_one_task_waiting_for_a_slot(handle, op):
    h = handle
    n = next(_numbers)
    key = h.emit("job", n=n, hold=60)
    holder, (ended, other) = holder_and_waiting(h, key)
    status = "cancelled" if op == "cancel" else "skipped"
    getattr(h, op)(f"event:{key}/main.{ended}", "not this one")
    assert tasks(h, key)[ended] == status
    h.skip(f"event:{key}/main.{holder}")     # frees the slot: the other one runs, this one must not
    h.wait_idle(timeout=60)

    rows = task_rows(h, key)
    assert rows[ended] == [(1, status, "not this one")]
    assert rows[other] == [(1, "invoked", None), (1, "success", None)]
    assert event_status(h, key) == ("failure" if op == "cancel" else "success")


def test_pause_with_cancel_running_parks_the_tasks_waiting_for_a_slot(handle):
    h = handle
    n = next(_numbers)
    key = h.emit("job", n=n, hold=60)
    holder, waiting = holder_and_waiting(h, key)
    h.pause(f"event:{key}", "maintenance", cancel_running=True)
    # the holder is queued again; the others got the freed slot in turn, saw the pause and
    # were parked
    wait_for(lambda: tasks(h, key) == {"a": "ready", "b": "ready", "c": "ready"},
             what="every task parked by the pause")
    assert task_rows(h, key) == {holder: [(1, "invoked", None), (1, "cancelled", "maintenance"),
                                          (2, "retried", "queued again: paused with --cancel-running")]}
    h.resume(f"event:{key}")
    h.wait_idle(timeout=60)
    rows = task_rows(h, key)
    assert rows[holder][3:] == [(2, "invoked", None), (2, "success", None)]
    for task in waiting:
        assert rows[task] == [(1, "invoked", None), (1, "success", None)]
    assert event_status(h, key) == "success"


def test_on_hold_cancel_running_cancels_the_tasks_waiting_for_a_slot_too(handle):
    h = handle
    n = next(_numbers)
    h.emit("tick", n=n, hold=60)

    def followers(hold):
        h.flush()
        return h.sql("SELECT event_key, status FROM events WHERE generator = 'job.follow' AND label = ?",
                     [f"job:{n},{hold}"]).values.tolist()

    ((first, _),) = wait_for(lambda: followers(60), what="the generator's first event")
    holder, waiting = holder_and_waiting(h, first)
    h.emit("tick", n=n, hold=0)            # fires while held: cancels the first event, emits at once
    h.wait_idle(timeout=60)

    rows = task_rows(h, first)
    reason = "generator job.follow fired again"
    for task in waiting:
        ((run, action, detail),) = rows[task]
        assert (run, action) == (1, "cancelled") and reason in detail, rows[task]
    assert [r[1] for r in rows[holder]] == ["invoked", "cancelled"] and reason in rows[holder][1][2]
    assert event_status(h, first) == "failure"
    assert [status for _, status in followers(0)] == ["success"]
