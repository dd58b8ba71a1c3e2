"""A real history for the dashboard tests: a small config run by a real engine.

``job`` events run flow ``main``: ``make`` (Python) publishes a Parquet dataset, an HTML
report, a PNG image, a notebook and (for ``a0``) a 1.3 MB log; ``shout`` (a command) prints
2,000 lines and fails when ``fail`` is true (one retry, so two attempts); ``spawn`` (Python)
emits a ``child`` event.  Each child's ``echo`` success fires the subscription generator of
``echo_sub``, whose events name their trigger in ``cause``.  ``slow`` events sleep (for the
running view and actions).  The timer generator fires in 2999 only: never during a test.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

CONFIG = """
events:
  - name: job
    description: a job of the dashboard tests
    vars:
      - {name: name, type: str}
      - {name: fail, type: bool, default: false}
    generators:
      - name: noon
        on_time: {onexp: "0 0 12 1 1 * 2999", timezone: UTC}
        vals: {name: noon}
    flows:
      - name: main
        tasks:
          - name: make
            python: "dash_model_tasks:make"
          - name: shout
            depends_on: [make]
            cmd: ["python", "-c", "import sys; [print('line', i) for i in range(2000)]; sys.exit(1 if sys.argv[1] == 'true' else 0)", "{fail}"]
            retries: 1
          - name: spawn
            depends_on: [make]
            python: "dash_model_tasks:spawn"
  - name: child
    vars: [{name: parent, type: str}]
    flows:
      - name: log
        tasks:
          - {name: echo, cmd: ["python", "-c", "print('child')"]}
  - name: echo_sub
    vars: [{name: of, type: str}]
    generators:
      - name: on_child
        subscribe: ["child/log.echo:success"]
        vals: {of: "{trigger.parent}"}
    flows:
      - name: f
        tasks: [{name: t, cmd: ["python", "-c", "pass"]}]
  - name: slow
    vars: [{name: seconds, type: float, default: 30}]
    flows:
      - name: wait
        tasks:
          - {name: sleep, cmd: ["python", "-c", "import sys, time; time.sleep(float(sys.argv[1]))", "{seconds}"]}
          - {name: after, depends_on: [sleep], cmd: ["python", "-c", "pass"]}
"""

TASKS = '''
"""Python tasks of the dashboard tests."""
import nbformat
import pandas as pd

# a 1x1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def make(event, ctx):
    name = event.values["name"]
    wd = ctx.workdir
    ctx.publish(pd.DataFrame({"i": range(100), "name": [name] * 100}), kind="dataset", name="rows.parquet")
    (wd / "report.html").write_text(f"<html><body><h1>Report for {name}</h1></body></html>")
    ctx.publish(wd / "report.html", kind="report")
    (wd / "dot.png").write_bytes(PNG)
    ctx.publish(wd / "dot.png", kind="image")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# Notebook of {name}")])
    nbformat.write(nb, str(wd / "nb.ipynb"))
    ctx.publish(wd / "nb.ipynb", kind="notebook")
    if name == "a0":
        (wd / "big.log").write_text("".join(f"log line {i}\\n" for i in range(100000)))
        ctx.publish(wd / "big.log", kind="document")
    return {"published": 4}


def spawn(event, ctx):
    return ctx.emit("child", parent=event.values["name"])
'''

JOBS = [(f"a{i}", i in (3, 8)) for i in range(12)]   # (name, fail): 12 jobs, two failing


def write(root: Path) -> Path:
    """The config and its task module under ``root``; the config's path."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dash_model_tasks.py").write_text(textwrap.dedent(TASKS))
    path = root / "dash.yaml"
    path.write_text(CONFIG)
    return path


def build(root: Path, timeout: float = 120.0):
    """Start an engine on a fresh workspace under ``root``, run every job to the end; the handle
    and the keys of the jobs (in emit order)."""
    import nbflow

    config = write(root)
    handle = nbflow.start(str(config), home=str(root / "home"), max_parallel=4)
    try:
        keys = [handle.emit("job", name=name, fail=fail) for name, fail in JOBS]
        handle.wait_idle(timeout)
    except BaseException:
        handle.stop()
        raise
    return handle, keys
