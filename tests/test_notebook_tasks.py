"""Notebook tasks with real kernels: parameters, artifacts, provenance, failing cells, and
cancellation that leaves no kernel behind.  Notebooks: tests/fixtures/notebooks/."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import duckdb
import pytest

import nbflow

from conftest import REPO, alive, children_of, wait_for, wait_for_none, write_config

NOTEBOOKS = REPO / "tests" / "fixtures" / "notebooks"
pytestmark = pytest.mark.slow


def _sql(home: Path, query: str, params: list | None = None) -> list[dict]:
    con = duckdb.connect(str(home / "history.duckdb"), read_only=True)
    try:
        cur = con.execute(query, params or [])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]
    finally:
        con.close()


def marked_processes(marker: str) -> list[tuple[int, str]]:
    """Live processes whose environment carries ``NBFLOW_TEST_MARK=marker``: (pid, cmdline)."""
    needle = f"NBFLOW_TEST_MARK={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state != "Z" and needle in environ:
            found.append((int(entry), cmdline))
    return found




MIXED = f"""
    events:
      - name: job
        vars:
          - {{name: region, type: str}}
          - {{name: days, type: int}}
          - {{name: asof, type: date}}
        flows:
          - name: main
            tasks:
              - name: prep
                cmd: [python, -c, "import sys; open(sys.argv[1], 'w').write('prepared')", "{{workdir}}/prep.txt"]
              - name: params
                depends_on: [prep]
                notebook: {NOTEBOOKS}/params.ipynb
                parameters: {{ratio: 0.25, label: "{{region}}-{{days}}", out: "{{workdir}}/params.json"}}
                cwd: "{{workdir}}"
                env: {{NBFLOW_TEST_MARK: "{{event_key}}"}}
              - name: emitter
                notebook: {NOTEBOOKS}/emit.ipynb
                parameters: {{n: "{{days}}"}}
              - name: fails
                notebook: {NOTEBOOKS}/fail.ipynb
              - name: after
                depends_on: [fails]
                cmd: python -c "print('never runs')"
      - name: child
        vars: [{{name: n, type: int}}]
        flows:
          - name: f
            tasks: [{{name: echo, cmd: "echo {{n}}"}}]
"""


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """One `job` event through a flow of command and notebook tasks; the engine stopped after."""
    tmp = tmp_path_factory.mktemp("mixed")
    home = tmp / "home"
    cfg = write_config(tmp, MIXED)
    handle = nbflow.start(cfg, home=home)
    try:
        key = handle.emit("job", region="eu", days=7, asof="2024-03-01")
        handle.wait_idle(timeout=180)
    finally:
        handle.stop()
    leftover = wait_for_none(lambda: children_of(os.getpid()) or marked_processes(key), timeout=10)
    assert not leftover, f"processes left behind: {leftover}"
    return home, key


def runs_of(home: Path, key: str) -> dict[str, dict]:
    rows = _sql(home, "SELECT * FROM task_runs WHERE event_key = ?", [key])
    return {r["task"]: r for r in rows}


def test_parameters_arrive_in_the_notebook_with_their_types(mixed):
    home, key = mixed
    runs = runs_of(home, key)
    assert runs["prep"]["status"] == "success" and runs["params"]["status"] == "success"
    workdir = home / "work" / key
    assert (workdir / "prep.txt").read_text() == "prepared"   # the command ran first
    seen = json.loads((workdir / "params.json").read_text())
    params = {name: (p["value"], p["type"]) for name, p in seen["params"].items()}
    assert params == {
        "region": ("eu", "str"),             # the event's values...
        "days": (7, "int"),
        "asof": ("2024-03-01", "str"),       # dates arrive as ISO text
        "ratio": (0.25, "float"),            # ...the task's parameters...
        "label": ("eu-7", "str"),            # ...rendered as templates
        "flag": (False, "bool"),             # not passed: the notebook's default stays
        "event_key": (key, "str"),
        "run_id": (f"{key}/main.params#1", "str"),
    }
    assert seen["cwd"] == str(workdir)       # `cwd:` is where the kernel runs
    assert seen["env"]["NBFLOW_RUN_ID"] == f"{key}/main.params#1"
    assert seen["env"]["NBFLOW_HOME"] == str(home.resolve())


def test_the_executed_notebook_and_its_html_are_artifacts(mixed):
    home, key = mixed
    rows = _sql(home, "SELECT name, kind, path, size_bytes FROM artifacts WHERE run_id = ? ORDER BY name",
                [f"{key}/main.params#1"])
    by_kind = {r["kind"]: r for r in rows}
    assert set(by_kind) == {"notebook", "report", "stdout", "stderr"}
    executed, report = Path(by_kind["notebook"]["path"]), Path(by_kind["report"]["path"])
    assert (executed.name, report.name) == ("params.ipynb", "params.html")
    assert executed.stat().st_size == by_kind["notebook"]["size_bytes"]
    cells = json.loads(executed.read_text())["cells"]
    injected = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and 'label = "eu-7"' in "".join(injected[0]["source"])
    page = report.read_text()
    assert page.lstrip().lower().startswith("<!doctype html") and "eu-7" in page
    # The kernel ran over Unix sockets (no TCP port, no warning about it) in a folder that is gone.
    stderr = Path(by_kind["stderr"]["path"]).read_text()
    assert "TCP" not in stderr, stderr
    info = json.loads((executed.parent / "kernel.json").read_text())
    assert info["ipc_dir"] and not Path(info["ipc_dir"]).exists()


def test_emit_and_publish_inside_a_notebook_record_the_run_as_parent(mixed):
    home, key = mixed
    run_id = f"{key}/main.emitter#1"
    assert runs_of(home, key)["emitter"]["status"] == "success"
    (child,) = _sql(home, "SELECT event_key, label, source, parent_run_id, status FROM events "
                          "WHERE event_type = 'child'")
    assert (child["label"], child["source"], child["parent_run_id"], child["status"]) == \
        ("child:8", "task", run_id, "success")
    (published,) = _sql(home, "SELECT run_id, path FROM artifacts WHERE name = 'numbers.parquet'")
    assert published["run_id"] == run_id
    (total,) = duckdb.connect().execute("SELECT sum(n) FROM read_parquet(?)", [published["path"]]).fetchone()
    assert total == 7 + 8


def test_a_failing_cell_fails_the_run_with_its_cell_and_traceback(mixed):
    home, key = mixed
    runs = runs_of(home, key)
    failed = runs["fails"]
    assert failed["status"] == "failure" and failed["exit_code"] == 1
    summary, *rest = failed["detail"].splitlines()
    # Cell 3 of fail.ipynb as written (the parameters cell is cell 0); the injected cell is
    # not counted, but runs: the failing cell is the 5th executed.
    assert summary == "cell 3 (In [5]) raised ZeroDivisionError: division by zero"
    body = "\n".join(rest)
    assert "ratio(x, divisor)" in body and "return a / b" in body and "Traceback" in body
    assert "\x1b[" not in body                                  # no terminal colour codes
    assert "after" not in runs or runs["after"]["status"] != "success"
    kinds = {r["kind"] for r in _sql(home, "SELECT kind FROM artifacts WHERE run_id = ?", [failed["run_id"]])}
    assert {"notebook", "report"} <= kinds                      # evidence kept


def test_a_timed_out_notebook_leaves_no_kernel_behind(tmp_path, home, no_leaked_children):
    marker = uuid.uuid4().hex
    cfg = write_config(tmp_path, f"""
        events:
          - name: nap
            flows:
              - name: main
                tasks:
                  - name: sleep
                    notebook: {NOTEBOOKS}/sleep.ipynb
                    parameters: {{pidfile: "{{workdir}}/kernel.pid"}}
                    env: {{NBFLOW_TEST_MARK: {marker}}}
                    timeout: 12s
    """)
    with nbflow.start(cfg, home=home) as handle:
        key = handle.emit("nap")
        pidfile = home / "work" / key / "kernel.pid"
        wait_for(pidfile.exists, timeout=60, what="the kernel to start its long cell")
        kernel_pid, helper_pid = map(int, pidfile.read_text().split())
        assert any(pid == kernel_pid and "ipykernel" in cmd for pid, cmd in marked_processes(marker))
        handle.wait_idle(timeout=60)
        (run,) = handle.sql("SELECT status, detail, epoch(finished_at - started_at) AS took "
                            "FROM task_runs WHERE event_key = ?", [key]).to_dict("records")
        (stderr,) = handle.sql("SELECT path FROM artifacts WHERE event_key = ? AND kind = 'stderr'", [key])["path"]
    assert (run["status"], run["detail"]) == ("failure", "timeout after 12s")
    assert run["took"] < 12 + 10
    left = wait_for_none(lambda: [p for p in (kernel_pid, helper_pid) if alive(p)] or marked_processes(marker),
                         timeout=10)
    assert not left, f"the kernel or what it started outlived the run: {left}"
    assert "terminated" in Path(stderr).read_text()


def test_a_killed_child_takes_its_kernel_and_what_it_started_along(tmp_path, no_leaked_children):
    """SIGKILL of the papermill process: ipykernel's parent poller ends the kernel, and the
    runner's clean-up (``end_kernel_group``) ends what the kernel started."""
    import signal
    import subprocess
    import sys

    from nbflow.runners.notebook import end_kernel_group

    marker = uuid.uuid4().hex
    spec = {"input": str(NOTEBOOKS / "sleep.ipynb"), "output": str(tmp_path / "out.ipynb"),
            "html": str(tmp_path / "out.html"), "error": str(tmp_path / "error.json"),
            "kernel_file": str(tmp_path / "kernel.json"), "kernel": None, "cwd": str(tmp_path),
            "parameters": {"pidfile": str(tmp_path / "kernel.pid")}, "implicit": [], "grace": 1.0}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    env = dict(os.environ, NBFLOW_TEST_MARK=marker)
    child = subprocess.Popen([sys.executable, "-m", "nbflow.runners.papermill_child", str(tmp_path / "spec.json")],
                             env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        wait_for((tmp_path / "kernel.pid").exists, timeout=60, what="the kernel to start its long cell")
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    kernel_pid, helper_pid = map(int, (tmp_path / "kernel.pid").read_text().split())
    assert not wait_for_none(lambda: alive(kernel_pid), timeout=10), "the kernel outlived its parent"
    # The kernel talks over Unix sockets in a private folder, which the killed child left.
    sockets = Path(json.loads((tmp_path / "kernel.json").read_text())["ipc_dir"])
    assert sockets.is_dir() and (sockets.stat().st_mode & 0o077) == 0
    # The poller ends the kernel with os._exit, which leaves the kernel's own children alive:
    # the runner ends them once the run is over, and removes the socket folder.
    end_kernel_group(tmp_path / "kernel.json")
    assert not wait_for_none(lambda: alive(helper_pid), timeout=10)
    assert not marked_processes(marker)
    assert not sockets.exists()


def test_notebooks_that_cannot_run_fail_with_a_clear_detail(tmp_path, home, no_leaked_children):
    broken = tmp_path / "broken.ipynb"      # made here: linters choke on a broken file in the repo
    broken.write_text('{"cells": [ this is not json\n')
    cfg = write_config(tmp_path, f"""
        events:
          - name: job
            flows:
              - name: main
                tasks:
                  - {{name: missing, notebook: nowhere/gone.ipynb}}
                  - {{name: broken, notebook: broken.ipynb}}
                  - {{name: nokernel, notebook: {NOTEBOOKS}/params.ipynb, kernel: no-such-kernel}}
                  - {{name: bare, notebook: {NOTEBOOKS}/no_params.ipynb}}
    """)
    with nbflow.start(cfg, home=home) as handle:
        key = handle.emit("job")
        handle.wait_idle(timeout=180)
        runs = {r["task"]: r for r in handle.sql("SELECT task, status, exit_code, detail FROM task_runs "
                                                 "WHERE event_key = ?", [key]).to_dict("records")}
    missing = runs["missing"]["detail"]
    assert missing.startswith(f"notebook {tmp_path / 'nowhere' / 'gone.ipynb'} does not exist")
    assert "flow.yaml:" in missing                               # where the task is declared
    assert runs["broken"]["detail"].startswith(f"{broken} is not a notebook (invalid JSON")
    assert runs["nokernel"]["detail"].startswith("no Jupyter kernel named 'no-such-kernel'; installed kernels: ")
    assert "python3" in runs["nokernel"]["detail"]
    # A notebook saved without kernel metadata or a parameters cell runs on python3, its
    # parameters injected at the top.
    assert runs["bare"]["status"] == "success"
    out = (home / "artifacts" / key / "main.bare.1" / "no_params.ipynb").read_text()
    assert f"{key}/main.bare#1" in out
    assert {r["status"] for t, r in runs.items() if t != "bare"} == {"failure"}
