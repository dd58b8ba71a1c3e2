"""Timers: one event per OnExp instant at whole seconds, no double fire after a restart, and the
catch-up policies for fires missed while no engine ran."""

from __future__ import annotations

import itertools
import json
import time
from datetime import timedelta

import duckdb
import pytest

from generators_util import engine, history, ticks, wait_rows

pytestmark = pytest.mark.usefixtures("no_leaked_children")

EVERY_SECOND = """
events:
  - name: tick
    vars:
      - {name: at, type: datetime}
      - {name: label, type: str}
    generators:
      - name: every_second
        on_time: {onexp: "* * * * * *"}
        catchup: all
        vals: {at: "{fire_time}", label: "{generator} {fire_time:%H:%M:%S}"}
"""

EMITTED = "SELECT fire_time FROM generator_ticks WHERE outcome = 'emitted'"


def _emitted_fires(tmp_path):
    return history(tmp_path, """
        SELECT t.fire_time, t.trigger, t.idempotency_key, s."at", e.vals, e.cause
        FROM generator_ticks t JOIN stages s ON s.event_key = t.event_key AND s.action = 'emitted'
        JOIN events e ON e.event_key = t.event_key
        WHERE t.outcome = 'emitted' ORDER BY t.fire_time""")


def test_every_second_timer_fires_once_a_second_at_whole_seconds_and_never_twice_across_a_restart(tmp_path):
    with engine(tmp_path, EVERY_SECOND) as h:
        wait_rows(h, EMITTED, 3, timeout=10)
    with engine(tmp_path, EVERY_SECOND) as h:
        restarted = time.time()
        wait_rows(h, EMITTED + " AND epoch(\"at\") > ?", 2, timeout=10, params=[restarted])
    fires = _emitted_fires(tmp_path)
    times = [f[0] for f in fires]
    assert len(times) >= 5
    assert all(t.microsecond == 0 for t in times), times
    # One per second, contiguous across the restart (catchup: all fired the downtime's
    # instants), and none twice: every instant has exactly one event.
    assert [b - a for a, b in itertools.pairwise(times)] == [timedelta(seconds=1)] * (len(times) - 1)
    assert len({f[2] for f in fires}) == len(fires)
    assert history(tmp_path, "SELECT count(*) FROM events WHERE generator = 'tick.every_second'")[0][0] == len(fires)
    for fire_time, trigger, key, emitted_at, vals, cause in fires:
        assert key == f"tick.every_second@{fire_time.isoformat()}"
        assert json.loads(vals)["at"] == fire_time.isoformat()
        assert json.loads(vals)["label"] == f"tick.every_second {fire_time:%H:%M:%S}"
        assert cause == trigger
        if trigger.startswith("timer:"):   # live fires: the event is emitted right after the instant
            lateness = (emitted_at - fire_time).total_seconds()
            assert 0 <= lateness < 0.5, (fire_time, emitted_at)


def test_a_restart_checks_the_tick_log_so_an_instant_already_emitted_is_not_fired_again(tmp_path):
    with engine(tmp_path, EVERY_SECOND) as h:
        wait_rows(h, EMITTED, 3, timeout=10)
    emitted = [r[0] for r in history(tmp_path, EMITTED + " ORDER BY fire_time")]
    # A state document restored from an older backup: its last_fire is before every emitted
    # instant, so catch-up (all) would fire them again but for their idempotency keys.
    (state,) = history(tmp_path, "SELECT state FROM generators WHERE qualified_name = 'tick.every_second'")[0]
    doc = json.loads(state)
    doc["last_fire"] = (emitted[0] - timedelta(seconds=1)).isoformat()
    con = duckdb.connect(str(tmp_path / "home" / "history.duckdb"))
    con.execute("INSERT INTO generator_state VALUES ('tick', 'every_second', ?, 'active', now(), 'test', "
                "'restored from a backup')", [json.dumps(doc)])
    con.close()
    with engine(tmp_path, EVERY_SECOND) as h:
        wait_rows(h, "SELECT 1 FROM generator_ticks WHERE reason LIKE 'already fired%'", len(emitted), timeout=10)
    skipped = [t for t in ticks(tmp_path, "every_second") if t["outcome"] == "skipped"]
    assert {t["fire_time"] for t in skipped} >= set(emitted)
    assert all("idempotency key tick.every_second@" in t["reason"] for t in skipped)
    keys = [r[0] for r in history(tmp_path, "SELECT idempotency_key FROM generator_ticks WHERE outcome = 'emitted'")]
    assert len(keys) == len(set(keys))


CATCHUP = """
events:
  - name: tick
    vars: [{name: policy, type: str}]
    generators:
      - {name: none, on_time: {onexp: "* * * * * *"}, catchup: none, vals: {policy: none}}
      - {name: latest, on_time: {onexp: "* * * * * *"}, catchup: latest, vals: {policy: latest}}
      - {name: all, on_time: {onexp: "* * * * * *"}, catchup: all, vals: {policy: all}}
      - {name: all2, on_time: {onexp: "* * * * * *"}, catchup: all, catchup_limit: 2, vals: {policy: all2}}
"""


def test_catchup_policies_after_downtime(tmp_path):
    with engine(tmp_path, CATCHUP) as h:
        wait_rows(h, "SELECT DISTINCT generator FROM generator_ticks WHERE outcome = 'emitted'", 4, timeout=10)
    stopped = time.time()
    time.sleep(3.2)   # the downtime itself: three or four instants pass with no engine
    with engine(tmp_path, CATCHUP) as h:
        wait_rows(h, "SELECT DISTINCT generator FROM generator_ticks WHERE trigger LIKE 'timer:%' "
                     "AND epoch(\"at\") > ?", 4, timeout=10, params=[stopped + 3])
    by_gen = {g: ticks(tmp_path, g) for g in ("none", "latest", "all", "all2")}
    for name, log in by_gen.items():
        before = max(t["fire_time"] for t in log if t["outcome"] == "emitted" and t["at"].timestamp() < stopped)
        first_after = min(t["fire_time"] for t in log
                          if t["trigger"].startswith("timer:") and t["at"].timestamp() > stopped)
        missed = int((first_after - before).total_seconds()) - 1
        assert missed >= 3, (name, before, first_after)
        caught = [t["fire_time"] for t in log if t["outcome"] == "emitted" and t["trigger"].startswith("catchup:")]
        summary = [t for t in log if t["outcome"] == "skipped" and t["trigger"].startswith("catchup")]
        if name == "none":
            assert caught == []
            assert len(summary) == 1 and f"{missed} fire(s) missed while the engine was down" in summary[0]["reason"]
            assert "catchup: none" in summary[0]["reason"]
        elif name == "latest":
            assert caught == [first_after - timedelta(seconds=1)]
            assert len(summary) == 1 and "catchup: latest" in summary[0]["reason"]
        elif name == "all":
            assert caught == [before + timedelta(seconds=i + 1) for i in range(missed)]
            assert summary == []
        else:
            assert caught == [first_after - timedelta(seconds=2), first_after - timedelta(seconds=1)]
            assert len(summary) == 1 and "catchup_limit=2" in summary[0]["reason"]
            assert f"{missed - 2} fire(s) missed" in summary[0]["reason"]
