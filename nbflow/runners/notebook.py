"""The ``notebook`` runner: a papermill run of a ``.ipynb``, in a child process.

The child (``nbflow.runners.papermill_child``) runs in its own process group like any ``cmd``
task, so the engine never blocks on a kernel and a cancel or timeout ends the run the usual way
(SIGTERM, then SIGKILL); the child takes its kernel down with it.  Papermill injects into the
notebook's ``parameters`` cell the event's values, ``event_key`` and ``run_id``, then the
task's ``parameters:`` (templates: ``"{days}"`` arrives as an int, dates as ISO strings).  The
kernel inherits the run's environment (``NBFLOW_HOME``, ``NBFLOW_RUN_ID``, ...), so
``nbflow.emit()`` and ``nbflow.publish()`` in a cell record the run as their parent.

Artifacts: the executed notebook (kind ``notebook``), its HTML rendering (``report``), and the
child's stdout/stderr.  A failing cell fails the run; its index, exception and traceback are
the run's ``detail``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from ..spec.templates import parse_template
from ..spec.values import to_json_value
from .base import RunContext, RunResult
from .process import describe_exit, run_task_process

#: How much of a traceback goes into the run's detail (the whole of it is in error.json).
_DETAIL_LIMIT = 6000


def notebook_path(ctx: RunContext) -> Path:
    """The task's notebook: absolute, or relative to its config file's folder."""
    path = Path(ctx.task.notebook or "")
    return path if path.is_absolute() else Path(ctx.task.base_dir) / path


def _render(value: Any, tctx: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return to_json_value(parse_template(value).render_value(tctx))
    if isinstance(value, dict):
        return {k: _render(v, tctx) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, tctx) for v in value]
    return value


def parameters(ctx: RunContext) -> dict[str, Any]:
    """What papermill injects: the event's values, ``event_key``, ``run_id``, then ``parameters:``.

    A template that is exactly one field keeps the value's type (``"{days}"`` is an int);
    dates and datetimes arrive as ISO strings (papermill writes plain Python literals).
    """
    params: dict[str, Any] = {name: to_json_value(v) for name, v in ctx.values.items()}
    params.update(event_key=ctx.event_key, run_id=ctx.run_id)
    tctx = ctx.template_context()
    for name, value in ctx.task.parameters.items():
        params[name] = _render(value, tctx)
    return params


def cell_detail(error: dict[str, Any]) -> str:
    """A failing cell as the run's detail: a one-line summary, the cell's source, the traceback."""
    if error.get("kind") != "cell":
        return str(error.get("message") or "the notebook could not run")
    lines = [f"cell {error['cell_index']} (In [{error.get('exec_count') or ' '}]) raised "
             f"{error['ename']}: {error['evalue']}"]
    source = (error.get("source") or "").strip("\n")
    if source:
        lines.append("".join(f"    {line}\n" for line in source.splitlines()[:10]).rstrip("\n"))
    tb = "\n".join(error.get("traceback") or [])
    if len(tb) > _DETAIL_LIMIT:
        tb = "...\n" + tb[-_DETAIL_LIMIT:]
    lines.append(tb)
    return "\n".join(lines)


def end_kernel_group(kernel_file: Path) -> None:
    """SIGKILL what is left of the kernel's process group once the run is over.

    The child shuts its kernel down when it ends or is terminated; this is for the child that
    was SIGKILLed (its kernel's parent poller ends the kernel, not what the kernel started)
    and for processes a notebook left running.  The group cannot have been reused while any
    of its processes lives, and it was alive moments ago.
    """
    try:
        info = json.loads(kernel_file.read_text())
        pgid = int(info["pgid"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    if isinstance(info.get("ipc_dir"), str):   # its sockets, when the child was killed before it removed them
        shutil.rmtree(info["ipc_dir"], ignore_errors=True)


async def run(ctx: RunContext) -> RunResult:
    source = notebook_path(ctx)
    run_dir = ctx.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    logs = ctx.log_artifacts()
    executed, html = run_dir / source.name, run_dir / (source.stem + ".html")
    error_file, kernel_file = run_dir / "error.json", run_dir / "kernel.json"
    if not source.is_file():
        where = f" (task {ctx.flow}.{ctx.task.name}" + (
            f", {ctx.task.location.file}:{ctx.task.location.line})" if ctx.task.location else ")")
        return RunResult(False, detail=f"notebook {source} does not exist{where}")
    try:
        params = parameters(ctx)
    except (KeyError, ValueError, TypeError) as exc:
        return RunResult(False, detail=f"cannot fill in the notebook's parameters: {exc}")
    spec = {"input": str(source.resolve()), "output": str(executed), "html": str(html),
            "error": str(error_file), "kernel_file": str(kernel_file), "parameters": params,
            "implicit": sorted(set(params) - set(ctx.task.parameters)), "kernel": ctx.task.kernel,
            "cwd": ctx.cwd(), "grace": max(0.5, min(2.0, ctx.kill_grace / 2))}
    ctx.outputs.extend([*logs, (executed.name, "notebook", executed), (html.name, "report", html)])
    spec_file = run_dir / "papermill.json"
    spec_file.write_text(json.dumps(spec, indent=1))
    try:
        code = await run_task_process(ctx, [sys.executable, "-m", "nbflow.runners.papermill_child", str(spec_file)])
    except OSError as exc:  # most likely a cwd that does not exist
        return RunResult(False, detail=f"cannot start the notebook process in {ctx.cwd()}: {exc}")
    finally:
        end_kernel_group(kernel_file)
    artifacts = list(logs)
    if executed.exists():
        artifacts.append((executed.name, "notebook", executed))
    if html.exists():
        artifacts.append((html.name, "report", html))
    if code == 0:
        return RunResult(True, exit_code=0, artifacts=tuple(artifacts))
    try:
        detail = cell_detail(json.loads(error_file.read_text()))
    except (OSError, ValueError):
        detail = f"the notebook process ended with {describe_exit(code)} (see its stderr artifact, stderr.txt)"
    return RunResult(False, exit_code=code, detail=detail, artifacts=tuple(artifacts))
