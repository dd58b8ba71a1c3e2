"""``nbflow generator show|list|init|reset|skip-to-now|replay`` in real subprocesses, with an
engine running (through its socket) and without one (read-only, or queued in the inbox)."""

from __future__ import annotations

import json
import time

import pytest

from conftest import nbflow_cli
from generators_util import engine, history, ticks, wait_rows

pytestmark = pytest.mark.usefixtures("no_leaked_children")

CONFIG = """
events:
  - name: tick
    vars: [{name: n, type: int}]
    generators:
      - name: every_second
        on_time: "* * * * * *"
        catchup: all
        vals: {n: "{state.n}"}
        state: {n: 1}
  - name: echo
    vars: [{name: n, type: int}]
    generators:
      - {name: follow, subscribe: "tick:final", vals: {n: "{trigger.n}"}}
"""


def cli(tmp_path, *args, code=0):
    proc = nbflow_cli("generator", "--home", str(tmp_path / "home"), *args)
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    return proc.stdout + proc.stderr


def test_generator_commands_through_the_running_engine(tmp_path):
    with engine(tmp_path, CONFIG) as h:
        wait_rows(h, "SELECT 1 FROM generator_ticks WHERE generator = 'every_second' AND outcome = 'emitted'",
                  2, timeout=10)
        out = cli(tmp_path, "list")
        assert "tick.every_second" in out and "echo.follow" in out and "active" in out
        out = cli(tmp_path, "show", "every_second")
        assert out.startswith("generator tick.every_second (active)")
        assert "on_time    * * * * * * (UTC)" in out and '"last_fire": "' in out and "latest ticks" in out

        out = cli(tmp_path, "init", "every_second", "--state", '{"n": 7}', "--reason", "start at seven")
        assert 'user state set to {"n": 7} (was {"n": 1})' in out and "cleared nothing else" in out
        wait_rows(h, "SELECT 1 FROM events WHERE event_type = 'tick' AND vals ->> '$.n' = '7'", 1, timeout=5)

        emitted = [r[0] for r in h.sql("SELECT fire_time FROM generator_ticks WHERE generator = 'every_second' "
                                       "AND outcome = 'emitted' ORDER BY fire_time").itertuples(index=False)]
        start = emitted[0]
        out = cli(tmp_path, "replay", "tick.every_second", "--from", start.isoformat(), "--reason", "redo")
        assert f"replay tick.every_second from {start.isoformat()}: cleared the idempotency keys of" in out
        replayed = int(out.split("(so they fire again); ")[1].split(" instant")[0])
        assert replayed >= len(emitted)

        out = cli(tmp_path, "reset", "every_second", "--reason", "oops")
        assert "reset tick.every_second: user state back to the config's {\"n\": 1} (was {\"n\": 7})" in out
        assert "cleared last_fire (" in out and "kept: the pause (active) and the idempotency keys of" in out

        out = cli(tmp_path, "skip-to-now", "every_second")
        assert "skip-to-now tick.every_second: forgot 0 pending fire(s); last_fire moved from" in out

        out = cli(tmp_path, "show", "nope", code=2)
        assert "no generator 'nope'" in out and "tick.every_second" in out
        out = cli(tmp_path, "replay", "follow", "--from", "10m", code=2)
        assert "echo.follow has no on_time timer" in out
        out = cli(tmp_path, "replay", "every_second", code=2)
        assert "replay needs --from TIME" in out
        out = cli(tmp_path, "init", "every_second", "--state", "[1]", code=2)
        assert "--state must be a JSON object" in out

    log = ticks(tmp_path, "every_second")
    again = [t for t in log if t["trigger"].startswith("replay:") and t["outcome"] == "emitted"]
    assert len(again) == replayed and again[0]["fire_time"] == start
    first_key = next(t["idempotency_key"] for t in log if t["fire_time"] == start)
    assert [t["outcome"] for t in log if t["idempotency_key"] == first_key] == ["emitted", "emitted"]
    changes = history(tmp_path, "SELECT actor, reason FROM generator_state WHERE name = 'every_second' "
                                "AND actor LIKE 'cli%' ORDER BY updated_at")
    assert [r for _, r in changes] == ["init: start at seven", "replay: redo", "reset: oops", "skip-to-now"]


def test_without_an_engine_show_reads_the_history_and_changes_wait_in_the_inbox(tmp_path):
    with engine(tmp_path, CONFIG) as h:
        wait_rows(h, "SELECT 1 FROM generator_ticks WHERE generator = 'every_second' AND outcome = 'emitted'",
                  1, timeout=10)
    stopped = time.time()
    out = cli(tmp_path, "show", "tick.every_second")
    assert "generator tick.every_second (active)" in out and "latest ticks" in out
    out = cli(tmp_path, "skip-to-now", "every_second", "--reason", "no backfill")
    assert "no engine runs on" in out and "queued" in out and "before missed fires are caught up" in out
    time.sleep(max(0.0, 2.2 - (time.time() - stopped)))   # instants pass with no engine
    with engine(tmp_path, CONFIG) as h:
        wait_rows(h, "SELECT 1 FROM generator_state WHERE reason = 'skip-to-now: no backfill'", 1, timeout=10)
        wait_rows(h, "SELECT 1 FROM generator_ticks WHERE trigger LIKE 'timer:%' AND epoch(\"at\") > ?",
                  1, timeout=10, params=[stopped + 2])
    # catchup: all would have fired the instants of the downtime; the queued skip-to-now
    # was applied first, so none was.
    log = ticks(tmp_path, "every_second")
    assert not [t for t in log if t["trigger"].startswith("catchup")]
    assert not list((tmp_path / "home" / "inbox").glob("*.json"))
    (state,), = history(tmp_path, "SELECT state FROM generators WHERE qualified_name = 'tick.every_second'")
    assert len(json.loads(state)["commands"]) == 1
