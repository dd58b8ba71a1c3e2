"""Runners: how a task runs. One registry; the built-ins are registered here, in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..errors import UnknownNameError
from .base import RunContext, RunResult

Runner = Callable[[RunContext], Awaitable[RunResult]]

_REGISTRY: dict[str, str | Runner] = {
    # name -> "module:function" (imported on first use: the notebook runner pulls in papermill
    # machinery that a config without notebooks never needs) or the runner itself.
    "cmd": "nbflow.runners.cmd:run",
    "python": "nbflow.runners.python:run",
    "notebook": "nbflow.runners.notebook:run",
}


def register(name: str, runner: Runner | str) -> None:
    """Make ``runner`` (an async callable taking a ``RunContext``) available as ``name``."""
    _REGISTRY[name] = runner


def get(name: str) -> Runner:
    """The runner registered as ``name``; ``UnknownNameError`` lists the valid names."""
    try:
        entry = _REGISTRY[name]
    except KeyError:
        raise UnknownNameError(
            f"no runner {name!r}; runners: {', '.join(sorted(_REGISTRY))}") from None
    if isinstance(entry, str):
        import importlib

        module, func = entry.split(":")
        entry = getattr(importlib.import_module(module), func)
        _REGISTRY[name] = entry
    return entry


__all__ = ["RunContext", "RunResult", "get", "register"]
