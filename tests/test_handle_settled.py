"""``Handle.wait_settled()``: a notebook waits for all that can finish, not for paused work."""

from __future__ import annotations

import pytest

import nbflow
from nbflow.errors import NbflowError

from conftest import write_config

CONFIG = """
events:
  - name: report
    vars: [{name: region, type: str}]
    flows:
      - name: main
        tasks:
          - {name: build, cmd: "true"}
          - {name: publish, depends_on: [build], cmd: "true"}
"""


def test_wait_settled_returns_what_a_pause_holds_and_wait_idle_does_not_return(tmp_path):
    with nbflow.start(write_config(tmp_path, CONFIG), home=tmp_path / "home") as h:
        h.pause("type:report", reason="month-end freeze")
        held_key = h.emit("report", region="eu")
        h.pause(f"event:{held_key}/main.publish", reason="check numbers first")
        h.resume("type:report")
        done_key = h.emit("report", region="us")

        held = h.wait_settled(timeout=30)
        assert [(i["target"], i["paused"], i["reason"], i["work"]) for i in held] == [
            (f"event:{held_key}/main.publish", True, "check numbers first", True)]
        statuses = dict(h.sql("SELECT event_key, status FROM events").values.tolist())
        assert statuses == {held_key: "active", done_key: "success"}
        runs = h.sql("SELECT task, status FROM task_runs WHERE event_key = ? ORDER BY task", [held_key])
        assert runs.values.tolist() == [["build", "success"]]    # publish never started
        with pytest.raises(NbflowError, match="still busy"):
            h.wait_idle(timeout=0.5)                             # the paused task keeps it busy

        h.resume(f"event:{held_key}/main.publish")
        assert h.wait_settled(timeout=30) == []
        h.flush()
        assert h.sql("SELECT count(*) FROM events WHERE status = 'success'").iloc[0, 0] == 2
