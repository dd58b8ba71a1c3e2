"""The ``python`` runner: ``module:function`` called with the event and a run context.

Plain functions run in a worker thread, off the engine's loop; ``async def`` functions run on
the loop itself (they must be trio-friendly).  A function may take ``(event, ctx)``,
``(event)`` or nothing.  A thread cannot be killed: a timed-out or cancelled Python task is
marked so and abandoned, and its thread runs on until the function returns — use a ``cmd``
task for work that must be killable.

Each call is written ahead to the engine's run journal (``nbflow.engine.journal``): if the
engine dies before the run's rows are committed, the next start records it as lost and
retries it under the task's policy, instead of running it again without a trace.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import threading
import traceback
from collections.abc import Callable
from functools import cache
from typing import Any

import trio

from .base import RunContext, RunResult

_local = threading.local()


def current_context() -> RunContext | None:
    """The run context of the Python task running in this thread, if any."""
    return getattr(_local, "ctx", None)


@cache
def resolve(ref: str, base_dir: str) -> tuple[Callable[..., Any], int, bool]:
    """The function named by ``module:function``, how many positional args it takes, and
    whether it is a coroutine function (found once: tasks call it thousands of times)."""
    if base_dir not in sys.path:
        sys.path.insert(0, base_dir)
    module_name, _, func_name = ref.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in func_name.split("."):
        obj = getattr(obj, part)
    try:
        params = [p for p in inspect.signature(obj).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        nargs = min(len(params), 2)
        if any(p.kind == p.VAR_POSITIONAL for p in inspect.signature(obj).parameters.values()):
            nargs = 2
    except (TypeError, ValueError):
        nargs = 2
    return obj, nargs, inspect.iscoroutinefunction(obj)


def _call(func: Callable[..., Any], nargs: int, ctx: RunContext, event: Any) -> Any:
    _local.ctx = ctx
    try:
        return func(*(event, ctx)[:nargs])
    finally:
        _local.ctx = None


async def run(ctx: RunContext) -> RunResult:
    try:
        func, nargs, is_async = resolve(ctx.task.python, ctx.task.base_dir)
    except Exception as exc:
        return RunResult(False, detail=f"cannot load {ctx.task.python!r}: {type(exc).__name__}: {exc}")
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
