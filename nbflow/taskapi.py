"""The task-side API: ``emit``, ``publish`` and ``artifact``, from tasks, notebooks and scripts.

Inside a task they record the task run as the parent of what they create, read from the
run's environment (``NBFLOW_HOME``, ``NBFLOW_RUN_ID``, ...), or, in a ``python`` task, from
its run context.  Out of process they write a command into the workspace's inbox, so they
work whether or not an engine runs.  This module stays light: no duckdb, no trio.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from .errors import NbflowError, UnknownNameError, ValidationError
from .workspace import Workspace

ARTIFACT_KINDS = ("stdout", "stderr", "notebook", "dataset", "report", "document", "image", "other")


def _python_task_context():
    # Only a Python task running in this process can have a context: never import the runner
    # (and trio with it) just to find out there is none.
    module = sys.modules.get("nbflow.runners.python")
    return module.current_context() if module else None


def _running_handle():
    module = sys.modules.get("nbflow.handle")
    return module.current_handle() if module else None


def emit(event_type: str, /, **values: Any) -> str:
    """Emit an event of ``event_type``; returns its key.

    Values are validated first (``ValidationError`` names the var and the rule) and nothing
    is queued if they fail.  Inside a task, the task run is recorded as the event's parent.
    """
    ctx = _python_task_context()
    if ctx is not None:
        return ctx.emit(event_type, **values)
    handle = _running_handle()
    if handle is not None and not os.environ.get("NBFLOW_RUN_ID"):
        return handle.emit(event_type, **values)
    return emit_to(Workspace.resolve(), event_type, values,
                   parent_run_id=os.environ.get("NBFLOW_RUN_ID") or None)


def load_types(ws: Workspace, configs: list[str] | None = None) -> dict[str, Any]:
    """Event types to validate against: from ``configs``, else the workspace's last run."""
    if configs:
        from .config import load_config

        return {et.name: et for et in load_config(*configs).event_types}
    data = ws.read_types()
    if data is None:
        raise NbflowError(
            f"cannot validate values: workspace {ws.home} has not run a config yet; "
            f"pass --config CONFIG (or run the engine once)")
    from .spec.serialize import types_from_json

    return {et.name: et for et in types_from_json(data)}


def emit_to(ws: Workspace, event_type: str, values: dict[str, Any], *,
            configs: list[str] | None = None, parent_run_id: str | None = None,
            source: str | None = None) -> str:
    """Validate ``values`` and queue an emit in ``ws``'s inbox; returns the new event key."""
    from . import client, inbox
    from .errors import did_you_mean
    from .keys import new_event_key
    from .spec.values import to_json_value

    types = load_types(ws, configs)
    if event_type not in types:
        raise UnknownNameError(
            f"no event type {event_type!r}{did_you_mean(event_type, types)}; "
            f"known types: {', '.join(sorted(types)) or '(none)'}")
    typed = types[event_type].validate(values)
    key = new_event_key()
    inbox.write_command(ws, {
        "op": "emit", "event_type": event_type, "event_key": key,
        "values": {k: to_json_value(v) for k, v in typed.items()},
        "parent_run_id": parent_run_id,
        "source": source or ("task" if parent_run_id else "user"),
        "created_at": time.time()})
    client.wake(ws)
    return key


def _safe_target(run_dir: Path, name: str) -> Path:
    if not name or name.startswith(("/", "\\")) or Path(name).is_absolute():
        raise NbflowError(f"artifact name {name!r} must be a relative path inside the run's folder")
    if ".." in Path(name).parts:
        raise NbflowError(f"artifact name {name!r} must not contain '..'")
    target = (run_dir / name)
    resolved = target.resolve()
    if not resolved.is_relative_to(run_dir.resolve()):
        raise NbflowError(f"artifact name {name!r} leads out of the run's folder (through a link)")
    return target


def store_artifact(run_dir: Path, obj: Any, kind: str, name: str | None) -> tuple[str, Path]:
    """Copy ``obj`` (a path, or a DataFrame written as Parquet) into ``run_dir``; (name, path)."""
    if kind not in ARTIFACT_KINDS:
        raise NbflowError(f"artifact kind {kind!r} is not one of: {', '.join(ARTIFACT_KINDS)}")
    run_dir.mkdir(parents=True, exist_ok=True)
    if hasattr(obj, "to_parquet"):
        name = name or "dataset.parquet"
        if not name.endswith(".parquet"):
            name += ".parquet"
        target = _safe_target(run_dir, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        obj.to_parquet(target)
        return name, target
    source = Path(obj)
    if not source.is_file():
        raise NbflowError(f"cannot publish {str(source)!r}: no such file")
    name = name or source.name
    target = _safe_target(run_dir, name)
    if target.exists() and target.resolve() == source.resolve():
        return name, target
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return name, target


def publish(obj: Any, kind: str = "other", name: str | None = None) -> Path:
    """Publish a file, or a DataFrame as a Parquet dataset, as an artifact of the current run.

    Returns the artifact's path (a copy inside the run's folder of the workspace).
    """
    ctx = _python_task_context()
    if ctx is not None:
        return ctx.publish(obj, kind=kind, name=name)
    run_id = os.environ.get("NBFLOW_RUN_ID")
    if not run_id:
        raise NbflowError("publish needs a task run: NBFLOW_RUN_ID is not set (call it from a task)")
    return publish_from_env(Workspace.resolve(), obj, kind, name, run_id)


def publish_from_env(ws: Workspace, obj: Any, kind: str, name: str | None, run_id: str) -> Path:
    from . import client, inbox
    from .keys import parse_run_id

    event_key, flow, task, attempt = parse_run_id(run_id)
    run_dir = Path(os.environ.get("NBFLOW_RUN_DIR") or ws.run_dir(event_key, flow, task, attempt))
    name, target = store_artifact(run_dir, obj, kind, name)
    inbox.write_command(ws, {
        "op": "publish", "run_id": run_id, "event_key": event_key, "name": name, "kind": kind,
        "path": str(target.resolve()), "size_bytes": target.stat().st_size, "created_at": time.time()})
    client.wake(ws)
    return target


def find_artifact(home: Path | str, name: str, event_key: str) -> Path:
    """The newest artifact called ``name`` published by ``event_key``'s runs."""
    root = Path(home) / "artifacts" / event_key
    found = [p for p in root.glob(f"*/{name}") if p.is_file()] if root.is_dir() else []
    if not found:
        existing = sorted({str(p.relative_to(d)) for d in root.glob("*") if d.is_dir()
                           for p in d.rglob("*") if p.is_file()}) if root.is_dir() else []
        raise UnknownNameError(
            f"event {event_key} has no artifact {name!r}; its artifacts: {', '.join(existing) or '(none)'}")
    return max(found, key=lambda p: p.stat().st_mtime_ns)


def artifact(name: str, event_key: str | None = None) -> Path:
    """The path of the artifact published as ``name`` by an event (default: the current one)."""
    ctx = _python_task_context()
    if ctx is not None:
        return ctx.artifact(name, event_key)
    key = event_key or os.environ.get("NBFLOW_EVENT_KEY")
    if not key:
        raise NbflowError("artifact() needs an event: pass event_key= or call it from a task")
    handle = _running_handle()
    if handle is not None and not os.environ.get("NBFLOW_RUN_ID"):  # a kernel running an engine
        return find_artifact(handle.home, name, key)
    return find_artifact(Workspace.resolve().home, name, key)


__all__ = ["ARTIFACT_KINDS", "ValidationError", "artifact", "emit", "publish"]
