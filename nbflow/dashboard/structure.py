"""The structure view's model: event types and their vars, generators (triggers, next fire
time, state and status), and flows as layered DAGs with each task's runner."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from ..spec.values import format_value


@dataclass(frozen=True)
class VarInfo:
    name: str
    type: str
    rules: str          # "choices: us, eu; min 1" ...
    default: str        # "" when required


@dataclass(frozen=True)
class GeneratorInfo:
    """A generator as the structure view shows it."""

    qualified_name: str
    triggers: list[str]                  # "on_time 0 0 14 * * MON-FRI (America/New_York)", "subscribe x:final"
    next_fire: dt.datetime | None        # None: no timer, or its schedule ran out
    status: str                          # from the ``generators`` view; "new" before its first state
    state: dict[str, Any] | None
    updated_at: dt.datetime | None
    hold: str | None = None


@dataclass(frozen=True)
class TaskNode:
    name: str
    runner: str
    what: str               # the command, notebook or function it runs
    depends_on: tuple[str, ...]
    layer: int


@dataclass(frozen=True)
class FlowInfo:
    """A flow as a layered DAG: ``layers[i]`` holds the tasks whose longest path from a root is i."""

    event_type: str
    name: str
    on: str
    tasks: list[TaskNode]
    layers: list[list[str]]
    positions: dict[str, tuple[float, float]]

    def edges(self) -> list[tuple[str, str]]:
        return [(dep, t.name) for t in self.tasks for dep in t.depends_on]


@dataclass(frozen=True)
class TypeInfo:
    name: str
    description: str
    vars: list[VarInfo]
    generators: list[GeneratorInfo]
    flows: list[FlowInfo]
    deadline: str = ""
    paused: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _rules(var) -> str:
    return "; ".join(var.rule_texts())


def _what(task) -> str:
    if task.runner == "cmd":
        import shlex

        # templates stay readable: quote only the arguments a shell would split
        return " ".join(a if a and not any(c.isspace() for c in a) else shlex.quote(a)
                        for a in task.cmd or ())
    if task.runner == "notebook":
        return task.notebook or ""
    return task.python or ""


def flow_layout(flow, event_type: str = "") -> FlowInfo:
    """``flow`` with layers from networkx's topological generations and node positions from
    ``multipartite_layout`` (layers left to right)."""
    import networkx as nx

    graph = nx.DiGraph()
    for task in flow.tasks:
        graph.add_node(task.name)
        for dep in task.depends_on:
            graph.add_edge(dep, task.name)
    layers = [sorted(gen, key=[t.name for t in flow.tasks].index)
              for gen in nx.topological_generations(graph)]
    layer_of = {name: i for i, names in enumerate(layers) for name in names}
    for name, i in layer_of.items():
        graph.nodes[name]["layer"] = i
    if len(graph) > 1:
        raw = nx.multipartite_layout(graph, subset_key="layer", align="vertical")
        positions = {n: (float(x), float(y)) for n, (x, y) in raw.items()}
    else:
        positions = {n: (0.0, 0.0) for n in graph}
    tasks = [TaskNode(t.name, t.runner, _what(t), tuple(t.depends_on), layer_of[t.name]) for t in flow.tasks]
    return FlowInfo(event_type, flow.name, flow.on, tasks, layers, positions)


def _triggers(gen) -> list[str]:
    out = []
    if gen.on_time is not None:
        out.append(f"on_time {gen.on_time.onexp} ({gen.on_time.timezone})")
    out += [f"subscribe {s}" for s in gen.subscribe]
    return out


def _next_fire(gen, now: dt.datetime) -> dt.datetime | None:
    if gen.on_time is None:
        return None
    from ..onexp import OnExp

    return OnExp(gen.on_time.onexp, gen.on_time.timezone).next(now)


def generator_rows(source) -> dict[str, dict[str, Any]]:
    """The ``generators`` view by qualified name (empty until a generator saved its state)."""
    rows = source.sql("SELECT * FROM generators")
    return {r["qualified_name"]: r for r in rows}


def load_structure(source, now: dt.datetime | None = None,
                   paused_types: dict[str, Any] | None = None) -> list[TypeInfo]:
    """What the config declares, with each generator's live state from history."""
    now = now or dt.datetime.now(dt.UTC)
    states = generator_rows(source)
    out = []
    for et in source.config.event_types:
        gens = []
        for gen in et.generators:
            row = states.get(gen.qualified_name, {})
            state = row.get("state")
            if isinstance(state, str):
                try:
                    state = json.loads(state)
                except ValueError:
                    state = {"raw": state}
            gens.append(GeneratorInfo(gen.qualified_name, _triggers(gen), _next_fire(gen, now),
                                      row.get("status") or "new", state, row.get("updated_at"), gen.hold))
        deadline = ""
        if et.deadline is not None:
            if et.deadline.after is not None:
                from ..durations import format_duration

                deadline = f"after {format_duration(et.deadline.after)}"
            elif et.deadline.on_time is not None:
                deadline = f"on_time {et.deadline.on_time.onexp} ({et.deadline.on_time.timezone})"
        out.append(TypeInfo(
            et.name, et.description,
            [VarInfo(v.name, v.type, _rules(v), format_value(v.default) if v.has_default else "")
             for v in et.vars],
            gens, [flow_layout(f, et.name) for f in et.flows], deadline,
            paused=et.name in (paused_types or {})))
    return out
