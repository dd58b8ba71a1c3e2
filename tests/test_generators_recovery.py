"""A subscription's fire is never lost across a crash: stages recorded but never evaluated are
evaluated once at the next start (``nbflow/generators/missed.py``).

The deterministic tests reproduce "stage committed, fire not" by removing from the history
file exactly the rows a fire produced (its tick, the emitted event's rows, the state row it
saved); the kill test crashes a real ``nbflow run`` in the middle of a flood.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

import duckdb
import pytest

from conftest import nbflow_cli, write_config
from generators_util import engine, history, ticks

pytestmark = pytest.mark.usefixtures("no_leaked_children")

NOTE = "evaluated at engine start"

CHAIN = """
events:
  - name: ingest
    vars:
      - {name: source, type: str}
      - {name: day, type: date}
    flows:
      - name: main
        tasks: [{name: fetch, cmd: "true"}]
  - name: report
    vars:
      - {name: source, type: str}
      - {name: day, type: date}
    generators:
      - name: after_ingest
        subscribe: ["ingest:final"]
        vals: {source: "{trigger.source}", day: "{trigger.day}"}
    flows:
      - name: publish
        tasks: [{name: send, cmd: "true"}]
"""


def _forget(tmp_path, keys: list[str], events: Sequence[str] = (), generator: str = "after_ingest") -> None:
    """Remove from the history what the fires of ``keys`` produced, as if the engine had died
    before committing them: their ticks, the state rows saved with them, their events' rows."""
    con = duckdb.connect(str(tmp_path / "home" / "history.duckdb"))
    try:
        triggers = [t for (t,) in con.execute(
            f"SELECT DISTINCT trigger FROM generator_ticks WHERE idempotency_key IN ({_marks(keys)})",
            keys).fetchall()]
        assert len(triggers) == len(keys), "every fire to forget has a tick"
        con.execute(f"DELETE FROM generator_ticks WHERE idempotency_key IN ({_marks(keys)})", keys)
        if triggers:
            con.execute(f"DELETE FROM generator_state WHERE name = ? AND reason IN ({_marks(triggers)})",
                        [generator, *triggers])
        for table in ("event_log", "stages", "artifacts") if events else ():
            con.execute(f"DELETE FROM {table} WHERE event_key IN ({_marks(events)})", list(events))
    finally:
        con.close()


def _marks(items) -> str:
    return ", ".join("?" for _ in items)


def _final_stage(tmp_path, event_key: str) -> int:
    (stage_id,), = history(tmp_path, "SELECT stage_id FROM stages WHERE event_key = ? AND flow IS NULL "
                                     "AND action = 'final'", [event_key])
    return stage_id


def test_a_fire_lost_after_its_stage_committed_is_evaluated_once_at_the_next_start(tmp_path):
    with engine(tmp_path, CHAIN) as h:
        trigger = h.emit("ingest", source="crm", day="2026-03-14")
        h.wait_idle(30)
    stage_id = _final_stage(tmp_path, trigger)
    (fired,) = ticks(tmp_path, "after_ingest")
    assert fired["outcome"] == "emitted" and fired["idempotency_key"] == f"report.after_ingest@stage:{stage_id}"
    _forget(tmp_path, [fired["idempotency_key"]], [fired["event_key"]])
    # What a kill -9 between the two commits leaves: the trigger's final stage, no fire.
    assert history(tmp_path, "SELECT count(*) FROM events WHERE event_type = 'report'") == [(0,)]
    assert _final_stage(tmp_path, trigger) == stage_id

    with engine(tmp_path, CHAIN) as h:
        h.wait_idle(30)
    cause = f"stage:{stage_id} ingest:final of {trigger}"
    reports = history(tmp_path, "SELECT event_key, label, cause, status, generator FROM events "
                                "WHERE event_type = 'report'")
    assert [r[1:] for r in reports] == [("report:crm,2026-03-14", cause, "success", "report.after_ingest")]
    (again,) = ticks(tmp_path, "after_ingest")
    assert (again["outcome"], again["trigger"], again["event_key"]) == ("emitted", cause, reports[0][0])
    assert NOTE in again["reason"]
    # The provenance walk of the docs reaches the trigger event.
    assert history(tmp_path, """SELECT up.event_key FROM events r
        JOIN stages s ON s.stage_id = CAST(regexp_extract(r.cause, '^stage:(\\d+)', 1) AS BIGINT)
        JOIN events up ON up.event_key = s.event_key WHERE r.event_type = 'report'""") == [(trigger,)]

    with engine(tmp_path, CHAIN) as h:     # a second restart finds nothing to do
        h.wait_idle(30)
    assert len(ticks(tmp_path, "after_ingest")) == 1
    assert history(tmp_path, "SELECT count(*) FROM events WHERE event_type = 'report'") == [(1,)]


def test_a_lost_fire_of_an_event_created_before_the_last_start_is_recovered_too(tmp_path):
    # The trigger event was emitted in the first run, paused there, and ended in the second:
    # its emitted row lies before the scan's start, so its type and values come from event_log.
    with engine(tmp_path, CHAIN) as h:
        h.command({"op": "pause", "target": "type:ingest", "reason": "hold the trigger"})
        trigger = h.emit("ingest", source="erp", day="2026-04-01")   # committed, paused
    with engine(tmp_path, CHAIN) as h:
        h.command({"op": "resume", "target": "type:ingest"})
        h.wait_idle(30)
    (fired,) = ticks(tmp_path, "after_ingest")
    _forget(tmp_path, [fired["idempotency_key"]], [fired["event_key"]])

    with engine(tmp_path, CHAIN) as h:
        h.wait_idle(30)
    (again,) = ticks(tmp_path, "after_ingest")
    assert again["outcome"] == "emitted" and NOTE in again["reason"]
    assert history(tmp_path, "SELECT label, cause FROM events WHERE event_type = 'report'") == [
        ("report:erp,2026-04-01", f"stage:{_final_stage(tmp_path, trigger)} ingest:final of {trigger}")]


FILTERED = """
events:
  - name: ingest
    vars: [{name: source, type: str}]
  - name: report
    vars: [{name: source, type: str}]
    generators:
      - name: crm_only
        subscribe: ["ingest:final"]
        where: {source: [crm]}
        vals: {source: "{trigger.source}"}
"""


def test_where_filtered_stages_stay_skipped_and_evaluated_ones_are_not_repeated(tmp_path):
    with engine(tmp_path, FILTERED) as h:
        early, passing, late = (h.emit("ingest", source=s) for s in ("billing", "crm", "billing"))
        h.wait_idle(30)
    by_stage = {t["idempotency_key"]: t for t in ticks(tmp_path, "crm_only")}
    keys = {k: f"report.crm_only@stage:{_final_stage(tmp_path, k)}" for k in (early, passing, late)}
    assert [by_stage[keys[k]]["outcome"] for k in (early, passing, late)] == ["skipped", "emitted", "skipped"]
    # The crm fire and the last filtered one never reached the history; the first one did.
    _forget(tmp_path, [keys[passing], keys[late]], [by_stage[keys[passing]]["event_key"]], "crm_only")

    for _ in range(2):   # the second restart repeats nothing
        with engine(tmp_path, FILTERED) as h:
            h.wait_idle(30)
        found = ticks(tmp_path, "crm_only")
        assert sorted((t["idempotency_key"], t["outcome"]) for t in found) == sorted(
            [(keys[early], "skipped"), (keys[passing], "emitted"), (keys[late], "skipped")])
        recovered = {t["idempotency_key"]: t["reason"] for t in found if NOTE in (t["reason"] or "")}
        assert set(recovered) == {keys[passing], keys[late]}
        assert recovered[keys[late]].startswith("where: source=billing is not one of [crm]")
        assert history(tmp_path, "SELECT vals ->> '$.source', cause FROM events WHERE event_type = 'report'") == [
            ("crm", f"stage:{_final_stage(tmp_path, passing)} ingest:final of {passing}")]


HELD = """
events:
  - name: ingest
    vars: [{name: n, type: int}]
  - name: report
    vars: [{name: n, type: int}]
    generators:
      - name: counted
        subscribe: ["ingest:final"]
        vals: {n: "{trigger.n}"}
"""


def test_a_lost_fire_of_a_paused_generator_is_held_again_and_released_once_by_resume(tmp_path):
    from nbflow.generators import api

    with engine(tmp_path, HELD) as h:
        api.pause(h, "counted", reason="maintenance")
        trigger = h.emit("ingest", n=7)
        h.wait_idle(30)
        assert api.show(h, "counted")["pending"] == 1
    (held,) = ticks(tmp_path, "counted")
    assert held["outcome"] == "held"
    _forget(tmp_path, [held["idempotency_key"]], generator="counted")

    with engine(tmp_path, HELD) as h:
        h.wait_idle(30)
        shown = api.show(h, "counted")
        assert shown["status"] == "paused" and shown["pending"] == 1
        api.resume(h, "counted")
        h.wait_idle(30)
    with engine(tmp_path, HELD) as h:
        h.wait_idle(30)
    outcomes = [(t["outcome"], NOTE in (t["reason"] or "")) for t in ticks(tmp_path, "counted")]
    assert outcomes == [("held", True), ("emitted", False)]
    assert history(tmp_path, "SELECT label, cause FROM events WHERE event_type = 'report'") == [
        ("report:7", f"stage:{_final_stage(tmp_path, trigger)} ingest:final of {trigger}")]


FLOOD = """
events:
  - name: ingest
    vars: [{name: i, type: int}]
  - name: echo
    vars: [{name: i, type: int}]
    generators:
      - name: mirror
        subscribe: ["ingest:final"]
        vals: {i: "{trigger.i}"}
"""


def _live_count(ws, sql: str) -> int:
    from nbflow.client import request
    from nbflow.errors import NbflowError

    try:
        answer = request(ws, {"op": "sql", "query": sql}, timeout=5)
    except (NbflowError, OSError):
        return -1
    return int(answer["rows"][0][0])


def test_kill_9_in_a_flood_of_triggers_loses_and_duplicates_no_subscription_fire(tmp_path):
    from nbflow.inbox import write_command
    from nbflow.keys import new_event_key
    from nbflow.workspace import Workspace

    cfg = write_config(tmp_path, FLOOD)
    ws = Workspace(tmp_path / "home").ensure()
    count = 3000
    for i in range(count):
        # As ``nbflow emit`` queues them: keyed, so a file applied before the kill is not again.
        write_command(ws, {"op": "emit", "event_type": "ingest", "event_key": new_event_key(), "values": {"i": i}})
    proc = subprocess.Popen([sys.executable, "-m", "nbflow", "run", str(cfg), "--home", str(ws.home)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Kill once the first fires are committed: the stages of the whole batch are (the
        # inbox commits before deleting its files), most of their fires are not yet.
        deadline = time.monotonic() + 60
        while _live_count(ws, "SELECT count(*) FROM generator_ticks") < 1:
            assert proc.poll() is None, f"nbflow run exited early ({proc.returncode})"
            assert time.monotonic() < deadline, "no fire committed within 60 s"
            time.sleep(0.01)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    stages = dict(history(tmp_path, "SELECT e.vals ->> '$.i', s.stage_id FROM stages s JOIN event_log e "
                                    "USING (event_key) WHERE e.event_type = 'ingest' AND s.flow IS NULL "
                                    "AND s.action = 'final'"))
    before = history(tmp_path, "SELECT count(*) FROM generator_ticks")[0][0]
    assert len(stages) > before, "the kill came after every fire was committed: nothing to recover"

    done = nbflow_cli("run", str(cfg), "--home", str(ws.home), "--until-idle", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    finals = history(tmp_path, "SELECT e.vals ->> '$.i', s.stage_id FROM stages s JOIN event_log e "
                               "USING (event_key) WHERE e.event_type = 'ingest' AND s.flow IS NULL "
                               "AND s.action = 'final' ORDER BY s.stage_id")
    assert sorted(int(i) for i, _ in finals) == list(range(count))     # every trigger, once
    causes = history(tmp_path, "SELECT vals ->> '$.i', cause FROM events WHERE event_type = 'echo'")
    expected = sorted((i, f"stage:{sid} ingest:final") for i, sid in finals)
    assert sorted((i, c.split(" of ")[0]) for i, c in causes) == expected   # one echo per stage
    recovered = history(tmp_path, f"SELECT count(*) FROM generator_ticks WHERE reason LIKE '%{NOTE}%'")[0][0]
    assert recovered == len(stages) - before
    assert history(tmp_path, "SELECT count(*) FROM generator_ticks WHERE outcome <> 'emitted'") == [(0,)]


def test_a_subscription_new_to_the_config_does_not_fire_for_stages_recorded_before_it(tmp_path):
    without = HELD.replace("""    generators:
      - name: counted
        subscribe: ["ingest:final"]
        vals: {n: "{trigger.n}"}
""", "")
    with engine(tmp_path, without, "before.yaml") as h:
        h.emit("ingest", n=1)
        h.wait_idle(30)
    with engine(tmp_path, HELD) as h:
        h.emit("ingest", n=2)
        h.wait_idle(30)
    with engine(tmp_path, HELD.replace('["ingest:final"]', '["ingest:final", "ingest:emitted"]')) as h:
        h.wait_idle(30)
    # Only the trigger recorded while the generator subscribed fired; the added pattern
    # (ingest:emitted) starts at the run that added it, not with the stages before.
    assert history(tmp_path, "SELECT label FROM events WHERE event_type = 'report'") == [("report:2",)]
    assert [t["outcome"] for t in ticks(tmp_path, "counted")] == ["emitted"]
