"""Python tasks and the in-process engine handle: emit/publish/artifact with provenance."""

from __future__ import annotations

import pytest

import nbflow

from conftest import write_config

TASKS = '''
import nbflow, pandas as pd

def produce(event, ctx):
    frame = pd.DataFrame({"x": list(range(event.values["n"]))})
    ctx.publish(frame, kind="dataset", name="numbers")
    (ctx.workdir / "note.txt").write_text("from produce")
    return len(frame)

def consume(event, ctx):
    path = nbflow.artifact("numbers.parquet")      # found by name, from the same event
    assert (ctx.workdir / "note.txt").read_text() == "from produce"
    key = nbflow.emit("child", total=int(pd.read_parquet(path)["x"].sum()))
    return key

async def quick(event, ctx):
    ctx.emit("child", total=-1)

def broken(event, ctx):
    raise RuntimeError("the data was not there")

def escape(event, ctx):
    ctx.publish(__file__, name="../../outside.py")
'''


@pytest.fixture
def handle(tmp_path, home):
    (tmp_path / "mytasks.py").write_text(TASKS)
    cfg = write_config(tmp_path, """
        events:
          - name: parent
            vars: [{name: n, type: int, min: 1}]
            flows:
              - name: main
                tasks:
                  - {name: produce, python: "mytasks:produce"}
                  - {name: consume, python: "mytasks:consume", depends_on: [produce]}
                  - {name: quick, python: "mytasks:quick"}
          - name: child
            vars: [{name: total, type: int}]
          - name: fragile
            flows:
              - name: main
                tasks:
                  - {name: broken, python: "mytasks:broken", retries: 1}
                  - {name: escape, python: "mytasks:escape"}
    """)
    h = nbflow.start(cfg, home=home)
    yield h
    h.stop()


def test_python_tasks_publish_find_and_emit_with_provenance(handle):
    key = handle.emit("parent", n=5)
    handle.wait_idle(timeout=60)
    runs = handle.sql("SELECT task, status FROM task_runs WHERE event_key = ? ORDER BY task", [key])
    assert runs.to_dict("records") == [{"task": "consume", "status": "success"},
                                       {"task": "produce", "status": "success"},
                                       {"task": "quick", "status": "success"}]
    children = handle.sql("SELECT label, source, parent_run_id FROM events WHERE event_type = 'child' "
                          "ORDER BY label").to_dict("records")
    assert children == [
        {"label": "child:-1", "source": "task", "parent_run_id": f"{key}/main.quick#1"},
        {"label": "child:10", "source": "task", "parent_run_id": f"{key}/main.consume#1"}]
    (path,) = handle.sql("SELECT path FROM artifacts WHERE name = 'numbers.parquet' AND kind = 'dataset'")["path"]
    total = handle.sql(f"SELECT sum(x) AS s FROM read_parquet('{path}')")["s"][0]
    assert total == 10
    assert str(nbflow.taskapi.find_artifact(handle.home, "numbers.parquet", key)) == path
    detail = handle.sql("SELECT detail FROM task_runs WHERE task = 'produce'")["detail"][0]
    assert detail == "5"


def test_a_raising_task_fails_with_its_traceback_and_is_retried(handle):
    key = handle.emit("fragile")
    handle.wait_idle(timeout=60)
    runs = handle.sql("SELECT task, attempt, status, detail FROM task_runs WHERE event_key = ? "
                      "ORDER BY task, attempt", [key]).to_dict("records")
    broken = [r for r in runs if r["task"] == "broken"]
    assert [(r["attempt"], r["status"]) for r in broken] == [(1, "failure"), (2, "failure")]
    assert "RuntimeError: the data was not there" in broken[0]["detail"]
    assert "Traceback" in broken[0]["detail"] and "mytasks.py" in broken[0]["detail"]
    (escape,) = [r for r in runs if r["task"] == "escape"]
    assert escape["status"] == "failure" and "must not contain '..'" in escape["detail"]
    assert handle.sql("SELECT status FROM events WHERE event_key = ?", [key])["status"][0] == "failure"


def test_handle_refuses_bad_values_and_a_second_workspace(handle, tmp_path):
    with pytest.raises(nbflow.ValidationError, match="var 'n': 0 is below the min 1"):
        handle.emit("parent", n=0)
    with pytest.raises(nbflow.UnknownNameError, match="no event type 'parnet' \\(did you mean 'parent'\\?\\)"):
        handle.emit("parnet", n=1)
    again = nbflow.start(tmp_path / "flow.yaml", home=handle.home)
    assert again is handle
    with pytest.raises(nbflow.WorkspaceError, match="an engine already runs in this process"):
        nbflow.start(tmp_path / "flow.yaml", home=tmp_path / "elsewhere")


def test_a_second_engine_on_the_same_workspace_is_refused(tmp_path, home):
    cfg = write_config(tmp_path, "events: [{name: a}]\n")
    from conftest import nbflow_cli

    with nbflow.start(cfg, home=home):
        proc = nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle")
        assert proc.returncode == 2 and "another engine (pid" in proc.stderr
    assert nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle").returncode == 0
