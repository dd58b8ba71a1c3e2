"""Notebook tasks: a trivial one-parameter notebook through nbflow, against papermill alone on
the same notebook, side by side in one process.

    python benchmarks/bench_notebook.py [--quick] [--rounds N]

Sides, each one run of the notebook per round (kernel start, two cells, kernel shutdown):

- ``papermill API``: ``papermill.execute_notebook`` in this (warm) process: the floor.
- ``papermill CLI``: ``papermill in.ipynb out.ipynb -p x N`` as a fresh process, as a cron job
  or a plain scheduler would run it.
- ``nbflow``: an engine in this process runs the notebook as a task of one event, timed from
  ``create_event`` to the event's ``final`` stage committed.  That includes what a notebook task
  does beyond papermill: a child process (so the engine never blocks and a cancel can kill the
  kernel), the parameters the event injects, the HTML rendering (nbconvert) and the artifact rows.

Ratios are nbflow / papermill (seconds per notebook), the median of per-round ratios.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import _common as c

CONFIG = """
events:
  - name: nb
    vars: [{name: x, type: int}]
    flows:
      - name: main
        tasks:
          - name: run
            notebook: trivial.ipynb
"""


def write_notebook(root: Path) -> Path:
    """One parameter, one cell that uses it."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("y = x * 2\nprint(y)")]
    path = root / "trivial.ipynb"
    nbformat.write(nb, path)
    return path


def papermill_api(notebook: Path, out: Path, x: int) -> float:
    import papermill

    t0 = time.perf_counter()
    papermill.execute_notebook(str(notebook), str(out), parameters={"x": x}, progress_bar=False,
                               log_output=False)
    return time.perf_counter() - t0


def papermill_cli(notebook: Path, out: Path, x: int) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "papermill", str(notebook), str(out), "-p", "x", str(x),
                    "--no-progress-bar"], check=True, capture_output=True)
    return time.perf_counter() - t0


def nbflow_round(config, root: Path, x: int) -> float:
    """Seconds from emitting one event to its final stage committed (the notebook task done)."""
    import trio

    home = c.fresh_home(root, "nb-")

    async def body(engine) -> float:
        done = trio.Event()
        engine.listeners.append(lambda row: row.action == "final" and row.flow is None and done.set())
        with trio.fail_after(300):
            t0 = time.perf_counter()
            engine.create_event(engine.event_type("nb"), {"x": x})
            await done.wait()
            await engine.writer.durable()
            elapsed = time.perf_counter() - t0
        kinds = {k for (k,) in engine.query("SELECT kind FROM artifacts").fetchall()}
        status = engine.query("SELECT status FROM task_runs").fetchall()
        assert status == [("success",)], status
        assert {"notebook", "report"} <= kinds, kinds
        return elapsed

    return trio.run(c.with_engine, config, home, 2, body)


def main() -> None:
    args = c.arguments(__doc__.splitlines()[0])
    with c.Scratch() as root:
        notebook = write_notebook(root)
        config = c.load(c.write_config(root, CONFIG))
        out = root / "out.ipynb"
        # Warm-up: imports on the in-process sides, the OS's file cache for the kernel's imports.
        papermill_api(notebook, out, 0)
        nbflow_round(config, root, 0)
        counter = iter(range(1, 10_000))
        samples = c.side_by_side(args.rounds, {
            "papermill API": lambda: papermill_api(notebook, out, next(counter)),
            "papermill CLI": lambda: papermill_cli(notebook, out, next(counter)),
            "nbflow notebook task": lambda: nbflow_round(config, root, next(counter)),
        })
    nbflow = samples["nbflow notebook task"]
    vs_api = c.ratio_of(nbflow, samples["papermill API"])
    vs_cli = c.ratio_of(nbflow, samples["papermill CLI"])
    rows = [
        c.Row("papermill.execute_notebook, warm", c.median(samples["papermill API"]), "s"),
        c.Row("papermill CLI, fresh process", c.median(samples["papermill CLI"]), "s"),
        c.Row("nbflow task vs papermill API", c.median(nbflow), "s", vs_api,
              note="overhead: child process, imports, HTML, history"),
        c.Row("nbflow task vs papermill CLI", c.median(nbflow), "s", vs_cli),
    ]
    c.print_results("Notebook tasks (ratio = nbflow / papermill, seconds per notebook)", rows,
                    f"a one-parameter, two-cell notebook; one event per round; rounds={args.rounds}")


if __name__ == "__main__":
    main()
