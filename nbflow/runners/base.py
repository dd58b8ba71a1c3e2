"""What every runner gets (a ``RunContext``) and gives back (a ``RunResult``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..spec.model import Event, Task
from ..spec.values import format_value
from ..workspace import Workspace


@dataclass(frozen=True)
class RunResult:
    """How a run ended: ``ok``, the process's exit code if any, and a short detail."""

    ok: bool
    exit_code: int | None = None
    detail: str | None = None
    #: (name, kind, path) of files the runner produced (stdout, stderr, executed notebook, ...)
    artifacts: tuple[tuple[str, str, Path], ...] = ()


@dataclass
class EventFolders:
    """The folders an event's process runs need: its work directory and the day folder of its
    runs' stdout/stderr.  Made the first time one of its runs needs them, once per event."""

    workdir: Path
    logs: Path
    made: bool = False
    workdir_made: bool = False

    def pending(self) -> tuple[Path, ...]:
        """What a process runner must create before it starts; nothing after the first call."""
        if self.made:
            return ()
        self.made = self.workdir_made = True
        return (self.workdir, self.logs)


@dataclass
class RunContext:
    """One attempt of one task for one event: what a runner needs, and what a Python task sees.

    Inside a ``python`` task, ``ctx.emit(...)``, ``ctx.publish(...)`` and ``ctx.artifact(...)``
    record this run as their parent (``nbflow.emit()`` and friends do the same through it).
    """

    run_id: str
    event: Event
    flow: str
    task: Task
    attempt: int
    home: Path
    folders: EventFolders
    kill_grace: float = 5.0
    #: (name, kind, path) of the files the runner will produce: recorded as artifacts when they
    #: exist after the run, however it ended (a cancelled run keeps its partial output).
    outputs: list[tuple[str, str, Path]] = field(default_factory=list)
    #: sizes of outputs the runner already knows (saves a stat per file)
    output_sizes: dict[Path, int] = field(default_factory=dict)
    # Set by the engine: thread-safe callables into the engine (emit, publish, artifact lookup).
    #: The environment task processes start from (the engine's, read once).
    base_envb: Mapping[bytes, bytes] | None = field(default=None, repr=False)
    #: the engine's run journal (``nbflow.engine.journal``): every run is written ahead there
    journal: Any = field(default=None, repr=False)
    _emit: Callable[..., str] | None = field(default=None, repr=False)
    _publish: Callable[..., Path] | None = field(default=None, repr=False)
    _artifact: Callable[..., Path] | None = field(default=None, repr=False)

    def pending_dirs(self) -> tuple[Path, ...]:
        """The folders a process runner must create before it starts (the event's work
        directory and log folder, the first time this event needs them); counts them as made."""
        return self.folders.pending()

    @cached_property
    def run_dir(self) -> Path:
        """The run's folder for what it publishes (``artifacts/<event>/<flow>.<task>.<attempt>``),
        made on the first publish (computed on first use: most runs never need it)."""
        return Workspace(self.home).run_dir(self.event_key, self.flow, self.task.name, self.attempt)

    def log_paths(self) -> tuple[Path, Path]:
        """Where this run's stdout and stderr go: ``logs/<day>/<event>.<flow>.<task>.<attempt>.*``."""
        stem = f"{self.event_key}.{self.flow}.{self.task.name}.{self.attempt}"
        return self.folders.logs / f"{stem}.stdout.txt", self.folders.logs / f"{stem}.stderr.txt"

    def log_artifacts(self) -> tuple[tuple[str, str, Path], tuple[str, str, Path]]:
        """This run's stdout and stderr as ``(name, kind, path)`` artifacts (``log_paths()``)."""
        out, err = self.log_paths()
        return ("stdout.txt", "stdout", out), ("stderr.txt", "stderr", err)

    @property
    def workdir_path(self) -> Path:
        """The event's work directory (not necessarily created yet)."""
        return self.folders.workdir

    @property
    def workdir(self) -> Path:
        """The event's work directory, shared by all its tasks (created on first use)."""
        if not self.folders.workdir_made:
            self.folders.workdir.mkdir(parents=True, exist_ok=True)
            self.folders.workdir_made = True
        return self.folders.workdir

    @property
    def event_key(self) -> str:
        return self.event.event_key

    @property
    def event_type(self) -> str:
        return self.event.event_type.name

    @property
    def values(self) -> Mapping[str, Any]:
        return self.event.values

    def template_context(self) -> dict[str, Any]:
        """The names templates of this task may use (``cmd``, ``parameters``, ``env``, ``cwd``)."""
        ctx = dict(self.values)
        ctx.update(event_key=self.event_key, event_type=self.event_type, run_id=self.run_id,
                   workdir=str(self.workdir_path), flow=self.flow, task=self.task.name,
                   attempt=self.attempt, home=str(self.home), config_dir=self.task.base_dir)
        return ctx

    def env_overrides(self) -> dict[str, str]:
        """What a task process's environment adds to the engine's: the task's ``env`` and the
        NBFLOW_* names."""
        from ..spec.templates import parse_template

        extra: dict[str, str] = {}
        if self.task.env:
            tctx = self.template_context()
            for key, value in self.task.env.items():
                extra[key] = parse_template(str(value)).render(tctx)
        extra.update(
            NBFLOW_HOME=str(self.home), NBFLOW_RUN_ID=self.run_id, NBFLOW_EVENT_KEY=self.event_key,
            NBFLOW_EVENT_TYPE=self.event_type, NBFLOW_FLOW=self.flow, NBFLOW_TASK=self.task.name,
            NBFLOW_ATTEMPT=str(self.attempt), NBFLOW_WORKDIR=str(self.workdir_path),
            NBFLOW_RUN_DIR=str(self.run_dir))
        for name, value in self.values.items():
            extra[f"NBFLOW_VAR_{name}"] = format_value(value)
        return extra

    def environb(self) -> dict[bytes, bytes]:
        """The environment of a task process, as bytes: the engine's (pre-encoded once: ``Popen``
        encodes every str key and value on each start, which cost more than the fork) plus
        ``env_overrides()``."""
        env = dict(self.base_envb if self.base_envb is not None else os.environb)
        for key, value in self.env_overrides().items():
            env[os.fsencode(key)] = os.fsencode(value)
        return env

    def cwd(self) -> str:
        """The task's working directory: ``cwd:`` (a template) or its config file's folder."""
        if self.task.cwd:
            from ..spec.templates import parse_template

            path = Path(parse_template(self.task.cwd).render(self.template_context()))
            return str(path if path.is_absolute() else Path(self.task.base_dir) / path)
        return self.task.base_dir

    # -- the task-side API, in-process --------------------------------------------------------
    def emit(self, event_type: str, **values: Any) -> str:
        """Emit an event with this run as its parent; returns the new event's key."""
        if self._emit is None:
            raise RuntimeError("this run context is not attached to an engine")
        return self._emit(event_type, values, parent_run_id=self.run_id)

    def publish(self, obj: Any, kind: str = "other", name: str | None = None) -> Path:
        """Publish a file (or a DataFrame, as a Parquet dataset) as an artifact of this run."""
        if self._publish is None:
            raise RuntimeError("this run context is not attached to an engine")
        return self._publish(self, obj, kind, name)

    def artifact(self, name: str, event_key: str | None = None) -> Path:
        """The path of an artifact published under ``name`` (default: by this event)."""
        from ..taskapi import find_artifact

        return find_artifact(self.home, name, event_key or self.event_key)
