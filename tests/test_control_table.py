"""The documented table of control actions, walked cell by cell against a real engine.

Every (level, state, action) cell of ``nbflow.control.table`` is set up for real (an engine in
a background thread, ``sh`` tasks that sleep, fail or succeed), then the action is applied
through the Python handle and the outcome the table promises is checked in the engine's
status and in history.  ``docs/control.md`` must carry the same table.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from nbflow.control.table import CELLS, render_markdown
from nbflow.errors import ControlError

from conftest import REPO, processes_with_marker, wait_for, write_config

SCRIPT = 'case "$1" in sleep) sleep 60;; fail) exit 1;; esac'
CONFIG = f"""
engine: {{max_parallel: 32, kill_grace: 2s}}
events:
  - name: job
    vars:
      - {{name: n, type: int}}
      - {{name: a, type: str, choices: [ok, fail, sleep], default: ok}}
      - {{name: b, type: str, choices: [ok, fail, sleep], default: ok}}
      - {{name: c, type: str, choices: [ok, fail, sleep], default: ok}}
    flows:
      - name: main
        tasks:
          - {{name: a, cmd: [sh, -c, '{SCRIPT}', 'tablemark-{{n}}', '{{a}}']}}
          - {{name: b, depends_on: [a], cmd: [sh, -c, '{SCRIPT}', 'tablemark-{{n}}', '{{b}}']}}
          - {{name: c, retries: 1, retry_delay: 5m, cmd: [sh, -c, '{SCRIPT}', 'tablemark-{{n}}', '{{c}}']}}
  - name: held
    vars:
      - {{name: n, type: int}}
    flows:
      - name: main
        tasks:
          - {{name: a, cmd: [sh, -c, 'exit 0', 'tablemark-{{n}}']}}
"""
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    import nbflow.handle

    folder = tmp_path_factory.mktemp("table")
    handle = nbflow.handle.start(write_config(folder, CONFIG), home=folder / "home")
    try:
        yield handle
    finally:
        for ev in handle.status()["events"]:
            handle.cancel(f"event:{ev['event_key']}")
        handle.stop()
    assert not processes_with_marker("tablemark-"), "a task process outlived the engine"


# -- observing ---------------------------------------------------------------------------------
def live_event(h, key):
    return next((e for e in h.status()["events"] if e["event_key"] == key), None)


def live_task(h, key, task):
    ev = live_event(h, key)
    return None if ev is None else next(t for t in ev["flows"][0]["tasks"] if t["task"] == task)


def event_status(h, key):
    return h.sql("SELECT status FROM events WHERE event_key = ?", [key]).iloc[0, 0]


def runs(h, key, task):
    """``[(attempt, status)]`` of a task's runs, oldest first."""
    df = h.sql("SELECT attempt, status FROM task_runs WHERE event_key = ? AND task = ? ORDER BY attempt",
               [key, task])
    return [tuple(r) for r in df.itertuples(index=False)]


def stage_count(h, key):
    h.flush()  # count what the engine appended, not only what is committed
    return int(h.sql("SELECT count(*) FROM stages WHERE event_key = ?", [key]).iloc[0, 0])


def final(h, key):
    return h.sql("SELECT count(*) FROM stages WHERE event_key = ? AND flow IS NULL AND action = 'final'",
                 [key]).iloc[0, 0] > 0 and live_event(h, key) is None


def wait_task(h, key, task, status):
    return wait_for(lambda: (live_task(h, key, task) or {}).get("status") == status, timeout=20,
                    what=f"task {task} of {key} to be {status}")


def wait_final(h, key):
    wait_for(lambda: live_event(h, key) is None, timeout=30, what=f"event {key} to end")
    h.flush()  # its last rows are appended: wait for their commit
    assert final(h, key)


# -- setting a cell's state up -----------------------------------------------------------------
@dataclass
class Case:
    target: str
    key: str | None = None
    task: str | None = None
    n: int = 0


def setup(h, level, state) -> Case:
    """A fresh target of ``level`` in ``state``."""
    if level == "type":
        if state == "paused":
            h.pause("type:held", "held for the table")
        return Case("type:held")
    n = next(_numbers)
    task = {"waiting": "b", "paused": "b", "retry_wait": "c"}.get(state, "a") if level == "task" else "a"
    modes = {"running": {"a": "sleep"}, "paused": {"a": "sleep"}, "waiting": {"a": "sleep"},
             "failed": {"a": "fail"}, "failure": {"a": "fail"}, "cancelled": {"a": "sleep"},
             "skipped": {"a": "sleep"}, "retry_wait": {"c": "fail"}}.get(state, {})
    key = h.emit("job", n=n, **modes)
    where = f"event:{key}" + {"event": "", "flow": "/main", "task": f"/main.{task}"}[level]
    if modes.get("a") == "sleep":
        wait_task(h, key, "a", "running")
        wait_task(h, key, "c", "success")
    if state == "paused":
        h.pause(where, "held for the table")
    elif state == "cancelled":
        h.cancel(where)
        wait_final(h, key)
    elif state == "skipped":
        h.skip(where)
        wait_final(h, key)
    elif state == "retry_wait":
        wait_task(h, key, "c", "retry_wait")
        wait_task(h, key, "b", "success")     # the rest of the flow is done: c alone waits
    elif state in ("failed", "succeeded", "success", "failure"):
        wait_final(h, key)
    return Case(where, key, task, n)


def clean(h, case: Case) -> None:
    if "held" in h.status()["paused_types"]:
        h.resume("type:held")
    for ev in h.status()["events"]:
        if ev["label"].startswith("job:"):
            try:
                h.cancel(f"event:{ev['event_key']}")
            except ControlError:
                pass


# -- the walk ----------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS, ids=lambda c: f"{c.level}-{c.state}-{c.action}")
def test_each_cell_of_the_table_behaves_as_documented(engine, cell):
    h = engine
    case = setup(h, cell.level, cell.state)
    try:
        key = case.key
        before = stage_count(h, key) if key else None
        types_before = dict(h.status()["paused_types"])
        attempts_before = {t: len(runs(h, key, t)) for t in "abc"} if key else {}
        action = getattr(h, cell.action)
        if not cell.applies:
            with pytest.raises(ControlError) as err:
                action(case.target, "walking the table")
            assert cell.result in str(err.value), str(err.value)
            # refused: nothing changed
            if key:
                assert stage_count(h, key) == before
            assert h.status()["paused_types"] == types_before
            return
        result = action(case.target, "walking the table")
        CHECKS[cell.result](h, cell, case, result, attempts_before)
    finally:
        clean(h, case)


def skip_a_then_b_runs(h, key, expect_b: str) -> None:
    """Skip the sleeping ``a``: ``b`` starts unless something holds it."""
    h.skip(f"event:{key}/main.a")
    if expect_b == "success":
        wait_for(lambda: runs(h, key, "b")[-1:] == [(1, "success")], timeout=20, what="b to run")
    else:   # held: ready, and no run of b in history
        wait_task(h, key, "b", "ready")
        assert runs(h, key, "b") == []


def check_paused(h, cell, case, result, attempts_before):
    if cell.level == "type":
        assert h.status()["paused_types"] == {"held": "walking the table"}
        held = h.emit("held", n=next(_numbers))
        ev = wait_for(lambda: live_event(h, held), timeout=10, what="the held event")
        assert ev["paused"] and ev["pause"]["target"] == "type:held"
        assert [t["status"] for t in ev["flows"][0]["tasks"]] == ["ready"]
        return
    ev = live_event(h, case.key)
    holder = {"event": ev, "flow": ev["flows"][0],
              "task": next(t for t in ev["flows"][0]["tasks"] if t["task"] == case.task)}[cell.level]
    assert holder["paused"] and holder["pause"]["reason"] == "walking the table"
    assert holder["pause"]["actor"] == "python"
    if case.task == "a" and cell.state == "running":
        assert live_task(h, case.key, "a")["status"] == "running"   # running tasks finish
        if cell.level != "task":
            skip_a_then_b_runs(h, case.key, "held")                  # nothing new starts


def check_active(h, cell, case, result, attempts_before):
    assert "held" not in h.status()["paused_types"]


def check_resumed(h, cell, case, result, attempts_before):
    ev = live_event(h, case.key)
    assert not ev["paused"] and not ev["flows"][0]["paused"]
    assert not live_task(h, case.key, case.task)["paused"]
    assert live_task(h, case.key, case.task)["status"] == cell.result
    skip_a_then_b_runs(h, case.key, "success")                       # what was held starts


def check_rerun(h, cell, case, result, attempts_before):
    key = case.key
    rerun = [case.task] if cell.level == "task" else (["a", "b", "c"] if cell.state == "succeeded" else ["a"])
    for t in rerun:
        wait_for(lambda t=t: len(runs(h, key, t)) > attempts_before[t] and runs(h, key, t)[-1][1] != "queued",
                 timeout=20, what=f"task {t} to run again")
    assert {t for t in "abc" if len(runs(h, key, t)) > attempts_before[t]} == set(rerun)
    rows = h.sql("SELECT actor, detail FROM stages WHERE event_key = ? AND action = 'retried'", [key])
    assert ("python", "walking the table") in [tuple(r) for r in rows.itertuples(index=False)]


def check_ended(h, cell, case, result, attempts_before):
    """skipped / cancelled: the target's tasks end so, and what depends on them follows."""
    key, status = case.key, cell.result
    if case.task == "b":                      # b had not started: a still runs
        wait_for(lambda: runs(h, key, "b")[-1:] == [(1, status)], timeout=20, what=f"b {status}")
        assert live_task(h, key, "a")["status"] == "running"
        return
    wait_final(h, key)
    assert runs(h, key, case.task or "a")[-1][1] == status
    assert not processes_with_marker(f"tablemark-{case.n}\0"), "a cancelled process is still alive"
    if cell.level == "event":
        assert event_status(h, key) == ("skipped" if status == "skipped" else "failure")
    elif cell.level == "task" and status == "skipped":               # dependants proceed
        assert runs(h, key, "b")[-1][1] == "success"
    elif cell.level == "task" and case.task == "a":                  # a cancelled task blocks them
        assert runs(h, key, "b") == []
        assert event_status(h, key) == "failure"
    if cell.level == "flow":
        assert runs(h, key, "b")[-1][1] == status


def check_cloned(h, cell, case, result, attempts_before):
    new = result                          # Handle.clone returns the new key
    df = h.sql("SELECT cause, source, vals FROM events WHERE event_key = ?", [new])
    assert df.iloc[0, 0].startswith(f"clone of {case.key} by python")
    assert df.iloc[0, 1] == "user"
    assert df.iloc[0, 2] == h.sql("SELECT vals FROM events WHERE event_key = ?", [case.key]).iloc[0, 0]


CHECKS = {"paused": check_paused, "active": check_active, "running": check_resumed,
          "waiting": check_resumed, "rerun": check_rerun, "skipped": check_ended,
          "cancelled": check_ended, "cloned": check_cloned}


def test_the_docs_carry_the_table():
    text = (REPO / "docs" / "control.md").read_text()
    assert render_markdown() in text


def test_the_table_covers_every_action_in_every_state():
    from nbflow.control.table import ACTIONS, STATES

    keys = {(c.level, c.state, c.action) for c in CELLS}
    assert len(keys) == len(CELLS) == sum(len(s) for s in STATES.values()) * len(ACTIONS)
