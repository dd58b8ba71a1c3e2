"""Hold and its ``on_hold`` policies, and pause/resume of a generator.

Every generator fires each second; its events run a 2.4 s task, so with ``hold: final`` the
fires at +1 s and +2 s come while the previous event is still running, and it is final
before the fire at +3 s.
"""

from __future__ import annotations

import itertools
import json
import time

import pytest

from nbflow.generators import api

from generators_util import engine, history, ticks, wait_rows

pytestmark = pytest.mark.usefixtures("no_leaked_children")

HOLD = """
engine: {max_parallel: 8}   # every event's task runs at once, whatever the machine's CPU count
events:
  - name: job
    vars: [{name: policy, type: str}]
    generators:
      - {name: coalesce, on_time: "* * * * * *", vals: {policy: coalesce}, hold: final, on_hold: coalesce}
      - {name: queue, on_time: "* * * * * *", vals: {policy: queue}, hold: final, on_hold: queue, queue_limit: 1}
      - {name: skip, on_time: "* * * * * *", vals: {policy: skip}, hold: final, on_hold: skip}
      - {name: cancel, on_time: "* * * * * *", vals: {policy: cancel}, hold: final, on_hold: cancel-running}
    flows:
      - name: main
        tasks: [{name: work, cmd: "sleep 2.4"}]
"""


def _no_overlap(generator: str, tmp_path) -> None:
    """Each event of ``generator`` was emitted only once the previous one was final."""
    spans = history(tmp_path, """
        SELECT e.created_at, e.finished_at FROM events e WHERE e.generator = ? ORDER BY e.created_at""",
                    [f"job.{generator}"])
    for (_, prev_end), (start, _) in itertools.pairwise(spans):
        assert prev_end is not None and prev_end <= start, spans


def test_hold_final_with_each_on_hold_policy(tmp_path):
    with engine(tmp_path, HOLD) as h:
        wait_rows(h, "SELECT 1 FROM generator_ticks WHERE generator = 'coalesce' AND outcome = 'emitted' "
                     "AND reason LIKE 'released%'", 1, timeout=15)
        wait_rows(h, "SELECT 1 FROM generator_ticks WHERE generator = 'queue' AND outcome = 'emitted' "
                     "AND reason LIKE 'released%'", 1, timeout=10)
        wait_rows(h, "SELECT 1 FROM generator_ticks WHERE generator = 'skip' AND outcome = 'emitted'", 2, timeout=10)
        wait_rows(h, "SELECT 1 FROM stages WHERE action = 'cancelled'", 1, timeout=10)

    # coalesce: of the fires that came while held, only the newest waits; it is emitted on release.
    log = ticks(tmp_path, "coalesce")
    first_release = next(i for i, t in enumerate(log) if t["outcome"] == "emitted" and i > 0)
    held = [t for t in log[:first_release] if t["outcome"] == "held"]
    coalesced = [t for t in log[:first_release] if t["outcome"] == "coalesced"]
    assert len(held) >= 2 and coalesced, log
    assert {t["fire_time"] for t in coalesced} == {t["fire_time"] for t in held[:-1]}
    assert "replaced by the newer fire" in coalesced[0]["reason"]
    released = log[first_release]
    assert released["fire_time"] == held[-1]["fire_time"]
    assert released["reason"].startswith(f"released: event {log[0]['event_key']} reached final")
    _no_overlap("coalesce", tmp_path)

    # queue (queue_limit 1): the first fire while held waits, the next finds the queue full.
    log = ticks(tmp_path, "queue")
    first_release = next(i for i, t in enumerate(log) if t["outcome"] == "emitted" and i > 0)
    before = log[1:first_release]
    assert before[0]["outcome"] == "held" and "1 pending" in before[0]["reason"]
    assert any(t["outcome"] == "skipped" and "queue is full (1 pending, queue_limit)" in t["reason"] for t in before)
    assert log[first_release]["fire_time"] == before[0]["fire_time"]   # first in, first out
    _no_overlap("queue", tmp_path)

    # skip: fires while held are dropped; the next fire after the event is final emits.
    log = ticks(tmp_path, "skip")
    assert not [t for t in log if t["outcome"] in ("held", "coalesced")]
    skipped = [t for t in log if t["outcome"] == "skipped"]
    assert len(skipped) >= 2 and all("on_hold: skip" in t["reason"] for t in skipped)
    emitted = [t for t in log if t["outcome"] == "emitted"]
    assert emitted[1]["fire_time"] > skipped[-1]["fire_time"] and emitted[1]["reason"] is None
    _no_overlap("skip", tmp_path)

    # cancel-running: the next fire cancels the running task of the previous event and emits.
    log = ticks(tmp_path, "cancel")
    assert log[0]["outcome"] == log[1]["outcome"] == "emitted"
    assert "on_hold cancel-running" in log[1]["reason"] and "cancelled 1 unfinished task(s)" in log[1]["reason"]
    (status, detail), = history(tmp_path, "SELECT status, detail FROM task_runs WHERE event_key = ? ",
                                [log[0]["event_key"]])
    assert status == "cancelled" and "generator job.cancel fired again" in detail


PAUSE = """
events:
  - name: ping
    vars: [{name: n, type: int, default: 0}]
    generators:
      - {name: coalescing, on_time: "* * * * * *"}
      - {name: skipping, on_time: "* * * * * *", hold: final, on_hold: skip}
"""


def test_pause_holds_fires_per_on_hold_and_resume_releases_them(tmp_path):
    with engine(tmp_path, PAUSE) as h:
        wait_rows(h, "SELECT DISTINCT generator FROM generator_ticks WHERE outcome = 'emitted'", 2, timeout=10)
        for name in ("coalescing", "skipping"):
            answer = api.pause(h, name, reason="maintenance", actor="alice")
            assert answer["status"] == "paused" and "its fires are held" in answer["message"]
        paused_at = time.time()
        wait_rows(h, "SELECT 1 FROM generator_ticks WHERE outcome = 'coalesced'", 1, timeout=10)
        wait_rows(h, "SELECT 1 FROM generator_ticks WHERE generator = 'skipping' AND outcome = 'skipped'",
                  2, timeout=10)
        answer = api.resume(h, "ping.coalescing", reason="done", actor="alice")
        assert "1 of 1 held fire(s) released" in answer["message"]
        api.resume(h, "skipping", actor="alice")
        assert api.show(h, "coalescing")["status"] == "active"
        # The same command without an answer, as the inbox and Handle.command take it.
        h.command({"op": "generator", "action": "init", "name": "ping.skipping", "state": {"k": 1},
                   "actor": "bob", "reason": "seed"})
        assert api.show(h, "skipping")["state"]["user"] == {"k": 1}
    log = ticks(tmp_path, "coalescing")
    during = [t for t in log if t["at"].timestamp() > paused_at]
    held = [t for t in during if t["outcome"] == "held"]
    assert held and all(t["reason"].startswith("paused: maintenance") for t in held)
    release = next(t for t in during if t["outcome"] == "emitted")
    assert release["reason"] == "released: generator resumed by alice: done"
    assert release["fire_time"] == held[-1]["fire_time"]
    skipping = [t for t in ticks(tmp_path, "skipping") if t["at"].timestamp() > paused_at]
    assert not [t for t in skipping if t["outcome"] == "held"]
    stages = history(tmp_path, "SELECT action, detail, actor FROM stages WHERE target = 'generator:ping.coalescing' "
                               "ORDER BY stage_id")
    assert stages == [("paused", "maintenance", "alice"), ("resumed", "done", "alice")]
    rows = history(tmp_path, "SELECT status, actor, reason FROM generator_state WHERE name = 'coalescing' "
                             "AND actor = 'alice' ORDER BY updated_at")
    assert rows == [("paused", "alice", "pause: maintenance"), ("active", "alice", "resume: done")]


RESTART = """
engine: {max_parallel: 4}
events:
  - name: job
    vars: [{name: n, type: int, default: 0}]
    generators:
      - {name: queued, on_time: "* * * * * *", hold: final, on_hold: queue}
    flows:
      - name: main
        tasks: [{name: work, cmd: "sleep 1.5"}]
"""


def test_a_hold_and_its_queued_fires_survive_a_restart(tmp_path):
    with engine(tmp_path, RESTART) as h:
        (held_fire,), = wait_rows(h, "SELECT fire_time FROM generator_ticks WHERE outcome = 'held' "
                                     "ORDER BY tick_id LIMIT 1", 1, timeout=10)
    (state,), = history(tmp_path, "SELECT state FROM generators")
    doc = json.loads(state)
    assert doc["held_on"] and doc["pending"] and doc["pending"][0]["kind"] == "timer"
    with engine(tmp_path, RESTART) as h:
        wait_rows(h, "SELECT 1 FROM generator_ticks WHERE outcome = 'emitted' AND reason LIKE 'released%'",
                  1, timeout=15)
    log = ticks(tmp_path, "queued")
    release = next(t for t in log if t["outcome"] == "emitted" and (t["reason"] or "").startswith("released"))
    # The oldest fire queued before the restart is the first one released after it, once the
    # held event (recovered and run again) is final.
    assert release["fire_time"] == held_fire.to_pydatetime()
    assert release["reason"] == f"released: event {doc['held_on']} reached final"
    _no_overlap("queued", tmp_path)
