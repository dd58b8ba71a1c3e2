"""The spec model: typed, frozen objects that a validated config becomes.

Everything past the config loader trusts these objects: names are unique, dependencies
exist and are acyclic, templates reference only names that exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import UnknownNameError, ValidationError
from .values import convert, format_value

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Actions of the stage log, in the order a task run usually meets them.
STAGE_ACTIONS = ("emitted", "invoked", "success", "failure", "final",
                 "paused", "resumed", "skipped", "retried", "cancelled")
#: Actions a subscription may wait for.
SUBSCRIBABLE_ACTIONS = ("emitted", "invoked", "success", "failure", "final",
                        "skipped", "cancelled", "retried", "paused", "resumed")
RUNNER_KINDS = ("cmd", "notebook", "python")
ON_HOLD_POLICIES = ("coalesce", "queue", "skip", "cancel-running")
CATCHUP_POLICIES = ("none", "latest", "all")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: Marks a var without a default.
MISSING: Any = _Missing()


@dataclass(frozen=True)
class Location:
    """Where a spec object came from: its config path, file and line."""

    path: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Var:
    """One typed variable of an event type, with its rules."""

    name: str
    type: str = "str"
    choices: tuple[Any, ...] | None = None
    min: Any = None
    max: Any = None
    regex: str | None = None
    default: Any = MISSING
    description: str = ""

    @property
    def has_default(self) -> bool:
        return self.default is not MISSING

    def rule_texts(self) -> list[str]:
        """The var's rules as short texts (``choices [us, eu]``, ``min 1``, ...), for display."""
        parts = []
        if self.choices is not None:
            parts.append("choices [" + ", ".join(format_value(c) for c in self.choices) + "]")
        if self.min is not None:
            parts.append(f"min {format_value(self.min)}")
        if self.max is not None:
            parts.append(f"max {format_value(self.max)}")
        if self.regex is not None:
            parts.append(f"regex {self.regex!r}")
        return parts

    def validate(self, value: Any) -> Any:
        """``value`` converted to this var's type, checked against its rules."""
        typed = convert(self.type, value, self.name)
        if self.choices is not None and typed not in self.choices:
            shown = ", ".join(format_value(c) for c in self.choices)
            raise ValidationError(
                f"var {self.name!r}: {format_value(typed)!r} is not one of the choices [{shown}]",
                var=self.name, rule="choices")
        if self.min is not None and typed < self.min:
            raise ValidationError(
                f"var {self.name!r}: {format_value(typed)} is below the min {format_value(self.min)}",
                var=self.name, rule="min")
        if self.max is not None and typed > self.max:
            raise ValidationError(
                f"var {self.name!r}: {format_value(typed)} is above the max {format_value(self.max)}",
                var=self.name, rule="max")
        if self.regex is not None and not re.fullmatch(self.regex, format_value(typed)):
            raise ValidationError(
                f"var {self.name!r}: {format_value(typed)!r} does not match the regex {self.regex!r}",
                var=self.name, rule="regex")
        return typed


@dataclass(frozen=True)
class OnTime:
    """A timer trigger: an OnExp in an IANA timezone."""

    onexp: str
    timezone: str = "UTC"

    def schedule(self):  # -> OnExp; imported lazily, the CLI's fast paths never need it
        from ..onexp import OnExp

        return OnExp(self.onexp, self.timezone)


@dataclass(frozen=True)
class Subscription:
    """``<type>[/<flow>[.<task>]]:<action>``: fires when a matching stage is recorded."""

    event_type: str
    flow: str | None
    task: str | None
    action: str
    text: str = ""
    location: Location | None = field(default=None, compare=False)   # where the pattern is written

    @classmethod
    def parse(cls, text: str) -> Subscription:
        """Parse the pattern; raises ``ValueError`` with the expected form on a bad one."""
        m = re.fullmatch(r"\s*([A-Za-z_]\w*)(?:/([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?)?:([a-z]+)\s*", text)
        if not m:
            raise ValueError(
                f"{text!r} is not a stage pattern of the form <type>[/<flow>[.<task>]]:<action>")
        return cls(m.group(1), m.group(2), m.group(3), m.group(4), text.strip())

    def __str__(self) -> str:
        where = self.event_type + (f"/{self.flow}" if self.flow else "") + (f".{self.task}" if self.task else "")
        return f"{where}:{self.action}"


@dataclass(frozen=True)
class GeneratorSpec:
    """A generator of one event type: timer and/or subscriptions, vals, hold and state."""

    name: str
    event_type: str
    on_time: OnTime | None = None
    subscribe: tuple[Subscription, ...] = ()
    where: Mapping[str, Any] = field(default_factory=dict)
    vals: Mapping[str, Any] = field(default_factory=dict)
    hold: str | None = None
    on_hold: str = "coalesce"
    queue_limit: int = 100
    catchup: str = "none"
    catchup_limit: int = 100
    state: Mapping[str, Any] = field(default_factory=dict)
    class_: str | None = None
    location: Location | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.event_type}.{self.name}"


@dataclass(frozen=True)
class Task:
    """One task of a flow: exactly one runner (``cmd``, ``notebook`` or ``python``)."""

    name: str
    runner: str
    cmd: tuple[str, ...] | None = None       # argv templates, already split (never a shell)
    notebook: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    kernel: str | None = None
    python: str | None = None                 # "module:function"
    depends_on: tuple[str, ...] = ()
    retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    #: ``python`` tasks only: run the function in a child process of its own (killable);
    #: None means not set (the ``engine:`` block's ``python_process``, else in-process)
    process: bool | None = None
    base_dir: str = "."                       # the folder of the config file that declared it
    location: Location | None = None


@dataclass(frozen=True)
class Flow:
    """A named DAG of tasks; ``tasks`` are in a dependency (topological) order."""

    name: str
    tasks: tuple[Task, ...]
    on: str = "event"                         # "event", or "deadline" for flows that run when late
    location: Location | None = None

    def task(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise UnknownNameError(
            f"flow {self.name!r} has no task {name!r}; its tasks: {', '.join(t.name for t in self.tasks)}")

    def downstream(self, name: str) -> list[str]:
        """Every task that depends, directly or not, on ``name`` (in flow order)."""
        found: set[str] = {name}
        for task in self.tasks:
            if any(dep in found for dep in task.depends_on):
                found.add(task.name)
        return [t.name for t in self.tasks if t.name in found and t.name != name]


@dataclass(frozen=True)
class Deadline:
    """When an event counts as late: a duration after it was emitted, or an OnExp."""

    after: float | None = None
    on_time: OnTime | None = None


@dataclass(frozen=True)
class EventType:
    """An event type: ordered typed vars, its generators and its flows."""

    name: str
    vars: tuple[Var, ...] = ()
    generators: tuple[GeneratorSpec, ...] = ()
    flows: tuple[Flow, ...] = ()
    deadline: Deadline | None = None
    description: str = ""
    location: Location | None = None

    def var(self, name: str) -> Var:
        for var in self.vars:
            if var.name == name:
                return var
        raise UnknownNameError(
            f"event type {self.name!r} has no var {name!r}; its vars: "
            f"{', '.join(v.name for v in self.vars) or '(none)'}")

    def flow(self, name: str) -> Flow:
        for flow in self.flows:
            if flow.name == name:
                return flow
        raise UnknownNameError(
            f"event type {self.name!r} has no flow {name!r}; its flows: "
            f"{', '.join(f.name for f in self.flows) or '(none)'}")

    def validate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Normalised values in var order: converts, applies defaults and rules.

        Raises ``ValidationError`` naming the var and the rule: an unknown var, a missing
        one without a default, a value of the wrong type, or one that breaks a rule.
        """
        known = self._var_names
        for name in values:
            if name not in known:
                from ..errors import did_you_mean

                raise ValidationError(
                    f"event type {self.name!r} has no var {name!r}{did_you_mean(name, known)}; "
                    f"its vars: {', '.join(v.name for v in self.vars) or '(none)'}",
                    var=name, rule="unknown", event_type=self.name)
        out: dict[str, Any] = {}
        for var in self.vars:
            if values.get(var.name) is None:
                if not var.has_default:
                    raise ValidationError(
                        f"event type {self.name!r}: var {var.name!r} ({var.type}) is required",
                        var=var.name, rule="required", event_type=self.name)
                out[var.name] = var.default
                continue
            try:
                out[var.name] = var.validate(values[var.name])
            except ValidationError as exc:
                exc.event_type = self.name
                raise
        return out

    @cached_property
    def _var_names(self) -> frozenset[str]:
        return frozenset(v.name for v in self.vars)

    def label(self, values: Mapping[str, Any]) -> str:
        """``type:val1,val2,...`` in var order: what ``str(event)`` shows."""
        return f"{self.name}:" + ",".join(format_value(values[v.name]) for v in self.vars)

    def generator(self, name: str) -> GeneratorSpec:
        for gen in self.generators:
            if gen.name == name:
                return gen
        raise UnknownNameError(
            f"event type {self.name!r} has no generator {name!r}; its generators: "
            f"{', '.join(g.name for g in self.generators) or '(none)'}")


@dataclass(frozen=True)
class Event:
    """One event: its key, type and validated values."""

    event_type: EventType
    event_key: str
    values: Mapping[str, Any]

    def __str__(self) -> str:
        return self.event_type.label(self.values)


@dataclass(frozen=True)
class EngineSettings:
    """The ``engine:`` section: how the engine runs this config."""

    max_parallel: int | None = None           # None: the machine's CPU count
    poll_interval: float = 0.5                # how often the inbox is scanned without a wake-up
    kill_grace: float = 5.0                   # SIGTERM -> SIGKILL delay for timeouts and cancels
    python_process: bool = False              # default of ``process:`` for python tasks


@dataclass(frozen=True)
class Config:
    """A whole validated config: every event type of every file it was loaded from."""

    event_types: tuple[EventType, ...]
    sources: tuple[Path, ...] = ()
    engine: EngineSettings = field(default_factory=EngineSettings)
    texts: Mapping[str, str] = field(default_factory=dict)   # file -> YAML text (snapshots)

    def event_type(self, name: str) -> EventType:
        for et in self.event_types:
            if et.name == name:
                return et
        from ..errors import did_you_mean

        names = [et.name for et in self.event_types]
        raise UnknownNameError(
            f"no event type {name!r}{did_you_mean(name, names)}; the config has: "
            f"{', '.join(names) or '(none)'}")

    @property
    def base_dir(self) -> Path:
        return self.sources[0].parent if self.sources else Path.cwd()

    def generators(self) -> list[GeneratorSpec]:
        return [g for et in self.event_types for g in et.generators]

    def find_generator(self, name: str) -> GeneratorSpec:
        """A generator by ``TYPE.NAME`` or by a bare name when that is unambiguous."""
        if "." in name:
            type_name, gen_name = name.split(".", 1)
            return self.event_type(type_name).generator(gen_name)
        found = [g for g in self.generators() if g.name == name]
        if len(found) == 1:
            return found[0]
        if not found:
            raise UnknownNameError(
                f"no generator {name!r}; generators: "
                f"{', '.join(g.qualified_name for g in self.generators()) or '(none)'}")
        raise UnknownNameError(
            f"generator name {name!r} is ambiguous; say one of: "
            f"{', '.join(g.qualified_name for g in found)}")
