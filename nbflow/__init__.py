"""nbflow: an event-driven, Jupyter-centric workflow engine.

Typed events, generators (timers and subscriptions), flows of tasks (OS commands, papermill
notebooks, Python callables), artifacts with provenance, and a history in DuckDB.

The public API is what ``__all__`` lists.  Importing ``nbflow`` stays light (no duckdb, trio or
papermill): ``nbflow.emit`` runs inside tasks, where start-up time counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    ConfigError,
    ControlError,
    EngineNotRunning,
    NbflowError,
    UnknownNameError,
    ValidationError,
    WorkspaceError,
)
from .taskapi import artifact, emit, publish

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .config import load_config
    from .handle import Handle, start
    from .onexp import OnExp
    from .spec.model import Config, Event, EventType, Flow, GeneratorSpec, Task, Var

# name -> module it lives in; imported on first use.
_LAZY = {
    "load_config": "nbflow.config",
    "OnExp": "nbflow.onexp",
    "start": "nbflow.handle",
    "Handle": "nbflow.handle",
    "Config": "nbflow.spec.model",
    "Event": "nbflow.spec.model",
    "EventType": "nbflow.spec.model",
    "Flow": "nbflow.spec.model",
    "GeneratorSpec": "nbflow.spec.model",
    "Task": "nbflow.spec.model",
    "Var": "nbflow.spec.model",
    "dashboard": "nbflow.dashboard",
    "load_ipython_extension": "nbflow.magics",
    "unload_ipython_extension": "nbflow.magics",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nbflow' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "Config",
    "ConfigError",
    "ControlError",
    "EngineNotRunning",
    "Event",
    "EventType",
    "Flow",
    "GeneratorSpec",
    "Handle",
    "NbflowError",
    "OnExp",
    "Task",
    "UnknownNameError",
    "ValidationError",
    "Var",
    "WorkspaceError",
    "artifact",
    "dashboard",
    "emit",
    "load_config",
    "load_ipython_extension",
    "publish",
    "start",
    "unload_ipython_extension",
]
