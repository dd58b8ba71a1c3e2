"""The ``python`` runner: ``module:function`` called with the event and a run context.

Plain functions run in a worker thread, off the engine's loop; ``async def`` functions run on
the loop itself (they must be trio-friendly).  A function may take ``(event, ctx)``,
``(event)`` or nothing.  A thread cannot be killed: a timed-out or cancelled Python task is
marked so and abandoned, and its thread runs on until the function returns.  A task with
``process: true`` runs its function in a child process instead (``python_child.py``), started
and ended like a ``cmd`` task: killable, and a crash or ``sys.exit`` ends only that process.

Each call is written ahead to the engine's run journal (``nbflow.engine.journal``): if the
engine dies before the run's rows are committed, the next start records it as lost and
retries it under the task's policy, instead of running it again without a trace.
"""

from __future__ import annotations

import json
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

import trio

from .base import RunContext, RunResult
from .pyfunc import load_error, resolve

_local = threading.local()


def current_context() -> RunContext | None:
    """The run context of the Python task running in this thread, if any."""
    return getattr(_local, "ctx", None)


def _call(func: Callable[..., Any], nargs: int, ctx: RunContext, event: Any) -> Any:
    _local.ctx = ctx
    try:
        return func(*(event, ctx)[:nargs])
    finally:
        _local.ctx = None


async def run(ctx: RunContext) -> RunResult:
    """Call the task's function: in this process, or in a child process with ``process: true``."""
    if ctx.task.process:
        return await _run_in_child(ctx)
    try:
        func, nargs, is_async = resolve(ctx.task.python, ctx.task.base_dir)
    except Exception as exc:
        return RunResult(False, detail=load_error(ctx.task.python, exc))
    event = ctx.event
    journal = ctx.journal
    if journal is not None:
        journal.calling(ctx.run_id)
    try:
        if is_async:
            _local.ctx = ctx
            try:
                result = await func(*(event, ctx)[:nargs])
            finally:
                _local.ctx = None
        else:
            result = await trio.to_thread.run_sync(_call, func, nargs, ctx, event, abandon_on_cancel=True)
    except Exception:
        return RunResult(False, detail=traceback.format_exc(limit=-8))
    finally:
        if journal is not None:
            journal.ended(ctx.run_id)
    if result is False:
        return RunResult(False, detail="the function returned False")
    return RunResult(True, detail=None if result is None else repr(result)[:500])


#: How the child is started: ``-P`` keeps the working directory off ``sys.path`` (a ``json.py``
#: there must not shadow the standard library); the config's folder is put there on purpose.
_CHILD = (sys.executable, "-P", "-m", "nbflow.runners.python_child")
_types_json: dict[int, tuple[Any, dict[str, Any]]] = {}


def _type_json(event_type) -> dict[str, Any]:
    """The event type as JSON, made once per type (the child rebuilds typed values from it)."""
    found = _types_json.get(id(event_type))
    if found is None or found[0] is not event_type:
        from ..spec.serialize import types_to_json

        found = _types_json[id(event_type)] = (event_type, types_to_json([event_type])["types"][event_type.name])
    return found[1]


async def _run_in_child(ctx: RunContext) -> RunResult:
    from ..spec.values import to_json_value
    from .process import describe_exit, run_task_process
    from .python_child import CALL_ENV

    files = ctx.log_artifacts()
    ctx.outputs.extend(files)
    out, err = ctx.log_paths()
    result_path = out.with_name(out.name.removesuffix(".stdout.txt") + ".result.json")
    call = {
        "python": ctx.task.python, "base_dir": ctx.task.base_dir, "run_id": ctx.run_id,
        "event_type": ctx.event_type, "type": _type_json(ctx.event.event_type), "event_key": ctx.event_key,
        "values": {k: to_json_value(v) for k, v in ctx.values.items()}, "flow": ctx.flow,
        "task": ctx.task.name, "attempt": ctx.attempt, "home": str(ctx.home),
        "workdir": str(ctx.workdir_path), "result": str(result_path)}
    env = ctx.environb()
    env[CALL_ENV.encode()] = json.dumps(call).encode()
    try:
        code = await run_task_process(ctx, _CHILD, env)
        try:
            outcome = json.loads(result_path.read_bytes())
        except (OSError, ValueError):
            outcome = None
    except OSError as exc:  # the interpreter cannot start (a bad cwd)
        err.write_text(f"cannot start the python task's process: {exc}\n")
        return RunResult(False, detail=f"cannot start the python task's process: {exc}", artifacts=files)
    finally:
        result_path.unlink(missing_ok=True)
    if outcome is None:   # os._exit(), a signal, a crash in C: the function never returned
        return RunResult(False, exit_code=code, detail=f"{describe_exit(code)}: the function did not return",
                         artifacts=files)
    ok = bool(outcome.get("ok")) and code == 0
    detail = outcome.get("detail")
    if outcome.get("ok") and code != 0:   # it returned, then the interpreter's exit failed
        detail = f"{describe_exit(code)} after the function returned"
    return RunResult(ok, exit_code=code, detail=detail, artifacts=files)
