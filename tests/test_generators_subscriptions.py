"""Subscriptions: a chain of three event types, with provenance back to the causing stage in SQL."""

from __future__ import annotations

import json

import pytest

from generators_util import engine, history, ticks

pytestmark = pytest.mark.usefixtures("no_leaked_children")

CHAIN = """
events:
  - name: ingest
    vars:
      - {name: source, type: str, choices: [crm, billing]}
      - {name: day, type: date}
    flows:
      - name: main
        tasks:
          - {name: fetch, cmd: "true"}
          - {name: check, depends_on: [fetch], cmd: "true"}
  - name: cleaned
    vars:
      - {name: source, type: str}
      - {name: day, type: date}
      - {name: origin, type: str}
    generators:
      - name: after_check
        subscribe: ["ingest/main.check:success"]
        where: {source: [crm]}
        hold: final
        vals:
          source: "{trigger.source}"
          day: "{trigger.day}"
          origin: "{trigger.flow}.{trigger.task}:{trigger.action} of {trigger.event_key}"
    flows:
      - name: load
        tasks: [{name: load, cmd: "true"}]
  - name: report
    vars:
      - {name: month, type: str}
    generators:
      - name: monthly
        subscribe: cleaned:final
        vals: {month: "{trigger.day:%Y-%m}"}
"""

# Walk from every generated event back through the stage that caused it to the event that
# stage belongs to, as far as the chain goes: what the docs show users.
PROVENANCE = r"""
WITH RECURSIVE chain(start_key, key, depth, label, cause) AS (
    SELECT event_key, event_key, 0, label, cause FROM events WHERE event_type = 'report'
    UNION ALL
    SELECT c.start_key, up.event_key, c.depth + 1, up.label, up.cause
    FROM chain c
    JOIN stages s ON s.stage_id = CAST(regexp_extract(c.cause, '^stage:(\d+)', 1) AS BIGINT)
    JOIN events up ON up.event_key = s.event_key
)
SELECT depth, label, cause FROM chain ORDER BY depth
"""


def test_a_chain_of_three_types_through_subscriptions_with_provenance_in_sql(tmp_path):
    with engine(tmp_path, CHAIN) as h:
        first = h.emit("ingest", source="crm", day="2026-03-14")
        other = h.emit("ingest", source="billing", day="2026-03-15")
        h.wait_idle(30)
    chain = history(tmp_path, PROVENANCE)
    assert [(d, label) for d, label, _ in chain] == [
        (0, "report:2026-03"),
        (1, f"cleaned:crm,2026-03-14,main.check:success of {first}"),
        (2, "ingest:crm,2026-03-14")]
    cleaned_key = history(tmp_path, "SELECT event_key FROM events WHERE event_type = 'cleaned'")[0][0]
    # Each generated event's cause names the stage that triggered it: its id, pattern, event.
    (stage_id,), = history(
        tmp_path, "SELECT stage_id FROM stages WHERE event_key = ? AND task = 'check' "
                  "AND action = 'success'", [first])
    assert chain[1][2] == f"stage:{stage_id} ingest/main.check:success of {first}"
    (final_id,), = history(tmp_path, "SELECT stage_id FROM stages WHERE event_key = ? AND flow IS NULL "
                                     "AND action = 'final'", [cleaned_key])
    assert chain[0][2] == f"stage:{final_id} cleaned:final of {cleaned_key}"
    generated = history(tmp_path, "SELECT generator, source FROM events WHERE cause IS NOT NULL ORDER BY created_at")
    assert generated == [("cleaned.after_check", "generator"), ("report.monthly", "generator")]
    # `where` filtered the billing event out; the tick log says why.
    log = ticks(tmp_path, "after_check")
    assert [t["outcome"] for t in log] == ["emitted", "skipped"]
    assert log[1]["reason"] == "where: source=billing is not one of [crm]"
    assert log[1]["trigger"].endswith(f"ingest/main.check:success of {other}")
    assert log[0]["idempotency_key"] == f"cleaned.after_check@stage:{stage_id}"
    # Its hold ended with the event: the state says so (not held, nothing pending).
    (state,), = history(tmp_path, "SELECT state FROM generators WHERE qualified_name = 'cleaned.after_check'")
    assert json.loads(state)["held_on"] is None and json.loads(state)["last_event_key"] == cleaned_key
    values = json.loads(history(tmp_path, "SELECT vals FROM events WHERE event_key = ?", [cleaned_key])[0][0])
    assert values == {"source": "crm", "day": "2026-03-14", "origin": f"main.check:success of {first}"}
