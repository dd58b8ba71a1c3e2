"""Building the spec of one config file: the top level, event types, deadlines and ``engine:``.

An event type is built in two steps. ``draft_type`` reads what needs nothing from other
types (vars, flows, deadline); ``finish_type`` adds the generators once every type of the
load is known, since subscriptions, ``where`` and ``{trigger.<var>}`` refer to other types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from ..spec.model import Deadline, EngineSettings, EventType, Flow, Location, Var
from . import yamlnodes as yn
from .generators import TypeShape, build_generators
from .ontime import build_on_time
from .tasks import build_flows, flag
from .vars import build_vars
from .yamlnodes import Node, Problems

TOP_KEYS = ("events", "engine")
TYPE_KEYS = ("name", "description", "vars", "generators", "flows", "deadline")
ENGINE_KEYS = ("max_parallel", "poll_interval", "kill_grace", "python_process")


@dataclass
class TypeDraft:
    """An event type without its generators yet."""

    name: str | None
    at: Node
    entries: Mapping[str, Node]
    vars: tuple[Var, ...]
    flows: tuple[Flow, ...]
    deadline: Deadline | None
    description: str

    def shape(self) -> TypeShape:
        return TypeShape(self.name or "?", {v.name: v for v in self.vars},
                         {f.name: tuple(t.name for t in f.tasks) for f in self.flows})


@dataclass
class FileDraft:
    """What one file declares: event type drafts and, optionally, engine settings."""

    types: list[TypeDraft]
    engine: EngineSettings | None = None
    engine_at: Node | None = None


def read_file(root: Node, base_dir: str, problems: Problems) -> FileDraft:
    """The drafts declared by the file whose YAML root is ``root``."""
    entries = yn.mapping(root, problems, TOP_KEYS, "the config")
    if entries is None:
        return FileDraft([])
    draft = FileDraft([])
    if "engine" in entries:
        draft.engine = build_engine(entries["engine"], problems)
        draft.engine_at = entries["engine"]
    events = yn.required(entries, "events", root, problems, "events: [{name: hello, flows: [...]}]")
    for item in (yn.sequence(events, problems, "events") if events else None) or ():
        typ = draft_type(item, base_dir, problems)
        if typ is not None:
            draft.types.append(typ)
    return draft


def draft_type(at: Node, base_dir: str, problems: Problems) -> TypeDraft | None:
    """An event type's name, vars, flows and deadline."""
    found = yn.named(at, problems, TYPE_KEYS, "an event type", "{name: price, vars: [...], flows: [...]}")
    if found is None:
        return None
    entries, _, name, description = found
    variables = build_vars(entries.get("vars"), problems)
    deadline = build_deadline(entries["deadline"], problems) if "deadline" in entries else None
    flows = build_flows(entries.get("flows"), [v.name for v in variables], base_dir,
                        "deadline" in entries, name or "?", problems)
    return TypeDraft(name, at, entries, variables, flows, deadline, description)


def finish_type(draft: TypeDraft, catalog: Mapping[str, TypeShape], problems: Problems) -> EventType:
    """The event type with its generators, checked against every type of the load."""
    generators = build_generators(draft.entries.get("generators"), draft.shape(), catalog, problems)
    return EventType(name=draft.name or "?", vars=draft.vars, generators=generators, flows=draft.flows,
                     deadline=draft.deadline, description=draft.description,
                     location=Location(draft.at.path, draft.at.file, draft.at.line))


def build_deadline(at: Node, problems: Problems) -> Deadline | None:
    """``deadline: 2h`` (after the event is emitted) or ``deadline: {onexp: ..., timezone: ...}``."""
    if isinstance(at.node, yaml.MappingNode):
        on_time = build_on_time(at, problems, "deadline")
        return Deadline(on_time=on_time) if on_time else None
    seconds = yn.duration(at, problems, "deadline", positive=True)
    return Deadline(after=seconds) if seconds is not None else None


def build_engine(at: Node, problems: Problems) -> EngineSettings | None:
    """The ``engine:`` section; every key is optional."""
    entries = yn.mapping(at, problems, ENGINE_KEYS, "engine")
    if entries is None:
        return None
    defaults = EngineSettings()
    max_parallel = defaults.max_parallel
    if "max_parallel" in entries:
        max_parallel = yn.integer(entries["max_parallel"], problems, "max_parallel", minimum=1)
    poll = defaults.poll_interval
    if "poll_interval" in entries:
        poll = yn.duration(entries["poll_interval"], problems, "poll_interval", positive=True) or poll
    grace = defaults.kill_grace
    if "kill_grace" in entries:
        seconds = yn.duration(entries["kill_grace"], problems, "kill_grace")
        grace = seconds if seconds is not None else grace
    python_process = defaults.python_process
    if "python_process" in entries:
        python_process = bool(flag(entries["python_process"], problems, "python_process"))
    return EngineSettings(max_parallel=max_parallel, poll_interval=poll, kill_grace=grace,
                          python_process=python_process)
