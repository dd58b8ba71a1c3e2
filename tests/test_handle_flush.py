"""``Handle.flush()``: after it, SQL on the history sees everything the engine did before it."""

from __future__ import annotations

import pytest

from nbflow.errors import NbflowError

from conftest import processes_with_marker, wait_for, write_config

CONFIG = """
engine: {kill_grace: 1s}
events:
  - name: job
    vars: [{name: n, type: int}]
    flows:
      - name: main
        tasks:
          - {name: quick, cmd: "true"}
          - {name: slow, depends_on: [quick], cmd: [sh, -c, 'sleep 60', 'flushmark-{n}']}
"""


def slow_status(h, key):
    ev = next(e for e in h.status()["events"] if e["event_key"] == key)
    return next(t["status"] for t in ev["flows"][0]["tasks"] if t["task"] == "slow")


def test_flush_commits_what_the_engine_did_so_far(tmp_path):
    import nbflow.handle

    h = nbflow.handle.start(write_config(tmp_path, CONFIG), home=tmp_path / "home")
    try:
        for n in range(3):
            key = h.emit("job", n=n)
            wait_for(lambda key=key: slow_status(h, key) == "running", what="slow running")
            # the live state moved on; its rows (quick's end, slow's start) are appended, maybe
            # not committed: flush() returns once they are
            h.flush()
            rows = h.sql("SELECT task, status FROM task_runs WHERE event_key = ? ORDER BY task", [key])
            assert rows.values.tolist() == [["quick", "success"], ["slow", "running"]]
            h.cancel(f"event:{key}")
    finally:
        h.stop()
    assert not processes_with_marker("flushmark-")
    with pytest.raises(NbflowError, match="the engine is not running"):
        h.flush()
