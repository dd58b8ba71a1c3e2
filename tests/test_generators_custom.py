"""Custom generators (``class: module:Class``): a failing one does not stop the engine."""

from __future__ import annotations

import json
import textwrap

import pytest

from generators_util import engine, history, ticks, wait_rows

pytestmark = pytest.mark.usefixtures("no_leaked_children")

CLASSES = '''
import time


class Flaky:
    """Raises on its second call, blocks the loop on its third, emits otherwise."""

    def __init__(self):
        self.calls = 0

    def emit(self, trigger, state):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError(f"boom on call {self.calls}")
        if self.calls == 3:
            time.sleep(0.15)
        state["count"] = state.get("count", 0) + 1
        return [{"n": state["count"], "note": f"{trigger['kind']} {trigger['fire_time']:%S}"}]


class AtStart:
    """No trigger and no next_fire: called once when the engine starts."""

    def emit(self, trigger, state):
        return [{"n": 0, "note": trigger["kind"]}]


class EvenSeconds:
    """Its own clock: fires at even seconds."""

    def next_fire(self, after):
        from datetime import timedelta

        base = after.replace(microsecond=0) + timedelta(seconds=1)
        return base if base.second % 2 == 0 else base + timedelta(seconds=1)

    def emit(self, trigger, state):
        return [{"n": trigger["fire_time"].second}]


class Twice:
    def emit(self, trigger, state):
        return [{"n": 1}, {"n": "not a number"}]
'''

CONFIG = """
events:
  - name: sample
    vars:
      - {name: n, type: int}
      - {name: note, type: str, default: ""}
      - {name: origin, type: str, default: none}
    generators:
      - name: flaky
        class: mygens:Flaky
        on_time: "* * * * * *"
        vals: {origin: "{generator}"}
        state: {count: 100}
      - name: missing
        class: no_such_module:Gen
        on_time: "* * * * * *"
      - name: twice
        class: mygens:Twice
        on_time: "* * * * * *"
      - {name: at_start, class: "mygens:AtStart"}
      - {name: even, class: "mygens:EvenSeconds"}
"""


def test_a_failing_custom_generator_is_marked_failed_and_the_engine_goes_on(tmp_path):
    (tmp_path / "mygens.py").write_text(textwrap.dedent(CLASSES))
    with engine(tmp_path, CONFIG) as h:
        wait_rows(h, "SELECT 1 FROM generator_ticks WHERE generator = 'flaky' AND outcome = 'emitted'",
                  3, timeout=15)
        assert h.status()["counts"]["events"] >= 3   # the engine still answers
    log = ticks(tmp_path, "flaky")
    outcomes = [t["outcome"] for t in log]
    assert outcomes[:4] == ["emitted", "failed", "emitted", "emitted"], outcomes
    failed = log[1]
    assert "mygens:Flaky.emit raised" in failed["reason"] and "Traceback" in failed["reason"]
    assert "RuntimeError: boom on call 2" in failed["reason"] and failed["event_key"] is None
    assert failed["fire_time"] is not None
    # The third call blocked the loop for 150 ms: reported on its tick (and logged).
    assert log[2]["reason"].startswith("slow: mygens:Flaky.emit blocked the engine's loop for")
    assert "threshold 100 ms" in log[2]["reason"]
    # The state it updates persists; the failed call changed nothing; vals fill the rest.
    events = history(tmp_path, "SELECT vals FROM events WHERE generator = 'sample.flaky' ORDER BY created_at")
    values = [json.loads(v) for v, in events]
    assert [v["n"] for v in values[:3]] == [101, 102, 103]
    assert values[0]["origin"] == "sample.flaky" and values[0]["note"].startswith("timer ")
    (state,), = history(tmp_path, "SELECT state FROM generators WHERE qualified_name = 'sample.flaky'")
    assert json.loads(state)["user"]["count"] == 100 + len(values)

    missing = ticks(tmp_path, "missing")
    assert missing and all(t["outcome"] == "failed" for t in missing)
    assert "cannot load custom generator 'no_such_module:Gen'" in missing[0]["reason"]
    assert "ModuleNotFoundError" in missing[0]["reason"]

    # One bad value of several: that one fails (naming the var), the others are emitted.
    twice = ticks(tmp_path, "twice")
    assert [t["outcome"] for t in twice[:2]] == ["emitted", "failed"]
    assert "var 'n'" in twice[1]["reason"] and "not a number" in twice[1]["reason"]

    # Class-only generators: once at start, or on the class's own next_fire clock.
    assert [(t["trigger"], t["outcome"]) for t in ticks(tmp_path, "at_start")] == [("start", "emitted")]
    even = ticks(tmp_path, "even")
    assert even and all(t["fire_time"].second % 2 == 0 and t["fire_time"].microsecond == 0 for t in even)
    assert all(t["outcome"] == "emitted" for t in even)
