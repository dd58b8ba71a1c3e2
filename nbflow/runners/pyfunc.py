"""Finding a ``python`` task's function: ``module:function`` imported with the config file's
folder on ``sys.path``.  Shared by the in-process runner and the task's child process, so it
stays light (no trio): the child imports it on every start."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from functools import cache
from typing import Any


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


def load_error(ref: str, exc: BaseException) -> str:
    """The detail of a run whose function could not be imported."""
    return f"cannot load {ref!r}: {type(exc).__name__}: {exc}"
