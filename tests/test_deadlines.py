"""Deadline flows: they run when an event is late, never when it is on time, and a deadline
survives a restart of the engine."""

from __future__ import annotations

import time

import pytest

from generators_util import engine, history, wait_rows

pytestmark = pytest.mark.usefixtures("no_leaked_children")

CONFIG = """
engine: {max_parallel: 8}
events:
  - name: load
    deadline: 1s
    vars: [{name: seconds, type: float}]
    flows:
      - name: main
        tasks: [{name: work, cmd: "sleep {seconds}"}]
      - name: late
        on: deadline
        tasks: [{name: page, cmd: [echo, "load {seconds} is late"]}]
  - name: quick                          # on time by a wide margin, even on a loaded machine
    deadline: 10s
    flows:
      - name: main
        tasks: [{name: work, cmd: "true"}]
      - name: late
        on: deadline
        tasks: [{name: page, cmd: "true"}]
  - name: daily
    deadline: {onexp: "* * * * * *"}      # late at the next whole second after it was emitted
    vars: [{name: seconds, type: float}]
    flows:
      - name: main
        tasks: [{name: work, cmd: "sleep {seconds}"}]
      - name: escalate
        on: deadline
        tasks: [{name: page, cmd: "true"}]
"""


def _flows(tmp_path, key):
    return history(tmp_path, "SELECT flow, action, detail, actor FROM stages WHERE event_key = ? "
                             "AND flow IS NOT NULL AND task IS NULL ORDER BY stage_id", [key])


def test_a_deadline_flow_runs_when_the_event_is_late_and_not_when_it_is_on_time(tmp_path):
    with engine(tmp_path, CONFIG) as h:
        on_time = h.emit("quick")
        late = h.emit("load", seconds=1.8)
        daily_late = h.emit("daily", seconds=1.2)
        h.wait_idle(20)
    assert ("late", "invoked") not in [(f, a) for f, a, _, _ in _flows(tmp_path, on_time)]
    flows = _flows(tmp_path, late)
    invoked = [(d, actor) for f, a, d, actor in flows if f == "late" and a == "invoked"]
    assert invoked == [("deadline passed: 1s after it was emitted, and the event is not final", "deadline")]
    assert ("late", "final", "success", "engine") in flows
    (page,), = history(tmp_path, "SELECT status FROM task_runs WHERE event_key = ? AND flow = 'late'", [late])
    assert page == "success"
    # The late flow started once the deadline had passed (never before), while main still ran.
    (emitted_at,), = history(tmp_path, "SELECT created_at FROM events WHERE event_key = ?", [late])
    (late_at,), = history(tmp_path, "SELECT \"at\" FROM stages WHERE event_key = ? AND flow = 'late' AND task IS NULL "
                                    "AND action = 'invoked'", [late])
    (main_done,), = history(tmp_path, "SELECT finished_at FROM task_runs WHERE event_key = ? AND flow = 'main'", [late])
    assert (late_at - emitted_at).total_seconds() >= 1.0
    assert late_at < main_done
    statuses = dict(history(tmp_path, "SELECT event_key, status FROM events"))
    assert statuses[on_time] == statuses[late] == "success"
    detail = [d for f, a, d, _ in _flows(tmp_path, daily_late) if f == "escalate" and a == "invoked"]
    assert detail and "the next fire of * * * * * * (UTC)" in detail[0]


def test_a_deadline_survives_a_restart(tmp_path):
    with engine(tmp_path, CONFIG) as h:
        key = h.emit("load", seconds=30)
        stopped = time.time()
    # The deadline passes while no engine runs; the recovered event is late at once.
    time.sleep(max(0.0, 1.2 - (time.time() - stopped)))
    with engine(tmp_path, CONFIG) as h:
        wait_rows(h, "SELECT 1 FROM task_runs WHERE event_key = ? AND flow = 'late' AND status = 'success'",
                  1, timeout=10, params=[key])
    invoked = [d for f, a, d, _ in _flows(tmp_path, key) if f == "late" and a == "invoked"]
    assert invoked == ["deadline passed: 1s after it was emitted, and the event is not final"]
