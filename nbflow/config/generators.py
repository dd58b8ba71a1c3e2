"""Building the generators of an event type: triggers, subscriptions, where, vals, hold, state.

Generators are built last, once every event type of the load is known, because a
subscription may name a type (and its flows, tasks and vars) declared in another file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..errors import ConfigError, did_you_mean
from ..spec.model import (
    CATCHUP_POLICIES,
    ON_HOLD_POLICIES,
    STAGE_ACTIONS,
    SUBSCRIBABLE_ACTIONS,
    GeneratorSpec,
    Location,
    Subscription,
    Var,
)
from ..spec.templates import parse_template
from ..spec.values import to_json_value
from . import yamlnodes as yn
from .fields import check_template
from .ontime import build_on_time
from .vars import check_value
from .yamlnodes import Node, Problems

GENERATOR_KEYS = ("name", "description", "class", "on_time", "subscribe", "where", "vals", "hold",
                  "on_hold", "queue_limit", "catchup", "catchup_limit", "state")
#: What ``{trigger.X}`` offers besides the subscribed type's vars.
TRIGGER_BUILTINS = ("event_key", "flow", "task", "action")

_CLASS_REF = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class TypeShape:
    """What other types may refer to: an event type's vars, and its flows with their tasks."""

    name: str
    vars: Mapping[str, Var]
    flows: Mapping[str, tuple[str, ...]]


def build_generators(at: Node | None, shape: TypeShape, catalog: Mapping[str, TypeShape],
                     problems: Problems) -> tuple[GeneratorSpec, ...]:
    """The generators of the event type ``shape``; ``catalog`` holds every type of the load."""
    if at is None:
        return ()
    out: list[GeneratorSpec] = []
    seen: dict[str, Node] = {}
    for item in yn.sequence(at, problems, "generators") or ():
        gen = build_generator(item, shape, catalog, problems)
        if gen is None:
            continue
        if gen.name in seen:
            yn.duplicate(problems, item.name_node(), "generator", gen.name, seen[gen.name])
            continue
        seen[gen.name] = item
        out.append(gen)
    return tuple(out)


def build_generator(at: Node, shape: TypeShape, catalog: Mapping[str, TypeShape],
                    problems: Problems) -> GeneratorSpec | None:
    """One generator, or ``None`` when it has no usable name (its other errors still reported)."""
    found = yn.named(at, problems, GENERATOR_KEYS, "a generator",
                     '{name: daily, on_time: {onexp: "0 6 * * *"}}')
    if found is None:
        return None
    entries, _, name, _ = found
    values: dict[str, Any] = {}
    if "class" in entries:
        ref = yn.text(entries["class"], problems, "class")
        if ref is not None and not _CLASS_REF.match(ref):
            problems.add(entries["class"], f"class {ref!r} must be `module:Class`, e.g. mypkg.gens:Poller")
        values["class_"] = ref
    if not ({"on_time", "subscribe", "class"} & entries.keys()):
        problems.add(at, "a generator needs a trigger: on_time (a timer) and/or subscribe "
                         "(stages of other events), or a custom class")
    on_time = build_on_time(entries["on_time"], problems) if "on_time" in entries else None
    subs: list[Subscription] = []
    sources: dict[str, TypeShape] = {}
    if "subscribe" in entries:
        patterns = yn.sequence(entries["subscribe"], problems, "subscribe", single_ok=True)
        if patterns == []:
            problems.add(entries["subscribe"], "subscribe lists no pattern; give at least one, "
                                               "e.g. ingest:final, or remove the key")
        for item in patterns or ():
            sub, source = _subscription(item, catalog, problems)
            if sub is not None:
                subs.append(sub)
            if source is not None:  # a known type with a bad flow still tells which vars exist
                sources.setdefault(source.name, source)
    if "where" in entries:
        values["where"] = _where(entries["where"], "subscribe" in entries, list(sources.values()), problems)
    values["vals"] = _vals(entries.get("vals"), at, shape, entries, list(sources.values()), problems)
    _policies(entries, values, problems)
    if "state" in entries:
        values["state"] = _state(entries["state"], problems)
    if name is None:
        return None
    return GeneratorSpec(name=name, event_type=shape.name, on_time=on_time, subscribe=tuple(subs),
                         location=Location(at.path, at.file, at.line),
                         **{k: v for k, v in values.items() if v is not None})


def _subscription(at: Node, catalog: Mapping[str, TypeShape],
                  problems: Problems) -> tuple[Subscription | None, TypeShape | None]:
    """The parsed pattern when it is fully valid, and its event type when that exists."""
    text = yn.text(at, problems, "a subscription")
    if text is None:
        return None, None
    try:
        sub = replace(Subscription.parse(text), location=Location(at.path, at.file, at.line))
    except ValueError as exc:
        problems.add(at, f"{exc}, e.g. ingest:final or ingest/main.publish:success")
        return None, None
    ok = True
    if sub.action not in SUBSCRIBABLE_ACTIONS:
        problems.add(at, f"{text!r}: action {sub.action!r} cannot be subscribed to"
                         f"{did_you_mean(sub.action, SUBSCRIBABLE_ACTIONS)}; actions: "
                         f"{', '.join(SUBSCRIBABLE_ACTIONS)}")
        ok = False
    source = catalog.get(sub.event_type)
    if source is None:
        problems.add(at, f"{text!r}: no event type {sub.event_type!r}{did_you_mean(sub.event_type, catalog)}"
                         f"; the config has: {', '.join(catalog) or '(none)'}")
        return None, None
    if sub.flow is not None and sub.flow not in source.flows:
        problems.add(at, f"{text!r}: event type {source.name!r} has no flow {sub.flow!r}"
                         f"{did_you_mean(sub.flow, source.flows)}; its flows: {', '.join(source.flows) or '(none)'}")
        ok = False
    elif sub.task is not None and sub.flow is not None and sub.task not in source.flows[sub.flow]:
        tasks = source.flows[sub.flow]
        problems.add(at, f"{text!r}: flow {source.name}/{sub.flow} has no task {sub.task!r}"
                         f"{did_you_mean(sub.task, tasks)}; its tasks: {', '.join(tasks)}")
        ok = False
    return (sub if ok else None), source


def _common_vars(sources: list[TypeShape]) -> list[str]:
    if not sources:
        return []
    return [v for v in sources[0].vars if all(v in s.vars for s in sources[1:])]


def _where(at: Node, has_subscribe: bool, sources: list[TypeShape],
           problems: Problems) -> dict[str, tuple[Any, ...]] | None:
    entries = yn.mapping(at, problems, None, "where")
    if entries is None:
        return None
    if not has_subscribe:
        problems.add(at, "where filters the events a generator subscribes to, but this one has no subscribe")
        return None
    common = _common_vars(sources)
    out: dict[str, tuple[Any, ...]] = {}
    for key, node in entries.items():
        if sources and key not in common:
            lacking = [s.name for s in sources if key not in s.vars]
            problems.add(node, f"where: {key!r} is not a var of the subscribed type "
                               f"{' and '.join(lacking)}{did_you_mean(key, common)}; vars to filter on: "
                               f"{', '.join(common) or '(none)'}")
            continue
        items = yn.sequence(node, problems, f"where.{key}") if not node.is_scalar else [node]
        allowed: list[Any] = []
        for item in items or ():
            checks = [check_value(s.vars[key], item, problems, f"where.{key} value") for s in sources]
            if checks and all(ok for ok, _ in checks):
                allowed.append(checks[0][1])
        out[key] = tuple(allowed)
    return out


def _vals(at: Node | None, gen_at: Node, shape: TypeShape, entries: Mapping[str, Node],
          sources: list[TypeShape], problems: Problems) -> dict[str, Any]:
    offered: dict[str, frozenset[str] | None] = {"state": None, "now": frozenset(), "generator": frozenset()}
    reasons: dict[str, str] = {}
    if "on_time" in entries:
        offered["fire_time"] = frozenset()
    else:
        reasons["fire_time"] = "only generators with on_time have a fire time"
    if "subscribe" in entries:
        common = _common_vars(sources)
        offered["trigger"] = frozenset([*common, *TRIGGER_BUILTINS])
        for s in sources:
            for v in s.vars:
                if v not in common:
                    lacking = " and ".join(o.name for o in sources if v not in o.vars)
                    reasons[f"trigger.{v}"] = f"{lacking} has no var {v!r}; with several subscribed " \
                                              "types only their common vars can be used"
    else:
        reasons["trigger"] = "only generators with subscribe have a trigger"
    entries_vals = (yn.mapping(at, problems, None, "vals") or {}) if at is not None else {}
    out: dict[str, Any] = {}
    for key, node in entries_vals.items():
        var = shape.vars.get(key)
        if var is None:
            problems.add(node, f"event type {shape.name!r} has no var {key!r}{did_you_mean(key, shape.vars)}; "
                               f"its vars: {', '.join(shape.vars) or '(none)'}")
            continue
        if not node.is_scalar:
            problems.add(node, f"a val is one value (a constant or a template), got {node.describe()}")
            continue
        template = _template_or_none(node)
        if template is not None:
            if check_template(node, template, offered, problems, reasons):
                out[key] = template
            continue
        # A str val is template text: `{{`/`}}` are literal braces once rendered, so check that.
        rendered = parse_template(node.text).render({}) if var.type == "str" else None
        ok, typed = check_value(var, node, problems, f"val for {key!r}", rendered)
        if ok:
            # str vals stay template text (rendered at fire time); other constants are typed.
            out[key] = node.text if var.type == "str" else typed
    if "class" not in entries:
        missing = [v for v in shape.vars.values() if not v.has_default and v.name not in entries_vals]
        place = at if at is not None else gen_at
        for var in missing:
            problems.add(place, f"var {var.name!r} ({var.type}) has no default, so the generator must "
                                f"give it a val: add `{var.name}: ...` to vals", path=f"{gen_at.path}.vals")
    return out


def _template_or_none(node: Node) -> str | None:
    """The scalar's text when it has ``{fields}`` (or ``{{`` escapes): then it is a template."""
    if "{" not in node.text and "}" not in node.text:
        return None
    try:
        if parse_template(node.text).is_constant:
            return None
    except ConfigError:
        pass  # a malformed template: check_template reports it
    return node.text


def _policies(entries: Mapping[str, Node], values: dict[str, Any], problems: Problems) -> None:
    if "hold" in entries:
        values["hold"] = yn.choice(entries["hold"], problems, "hold", STAGE_ACTIONS)
    if "on_hold" in entries:
        values["on_hold"] = yn.choice(entries["on_hold"], problems, "on_hold", ON_HOLD_POLICIES)
        if "hold" not in entries:
            problems.add(entries["on_hold"], "on_hold says what to do while a hold is on, but this "
                                             "generator has no hold (e.g. `hold: final`)")
    if "queue_limit" in entries:
        values["queue_limit"] = yn.integer(entries["queue_limit"], problems, "queue_limit", minimum=1)
        if "on_hold" not in entries or values["on_hold"] not in ("queue", None):
            problems.add(entries["queue_limit"], "queue_limit applies only with `on_hold: queue`")
    for key in ("catchup", "catchup_limit"):
        if key in entries and "on_time" not in entries:
            problems.add(entries[key], f"{key} applies only to generators with on_time (missed timer fires)")
    if "catchup" in entries:
        values["catchup"] = yn.choice(entries["catchup"], problems, "catchup", CATCHUP_POLICIES)
    if "catchup_limit" in entries:
        values["catchup_limit"] = yn.integer(entries["catchup_limit"], problems, "catchup_limit", minimum=1)


def _state(at: Node, problems: Problems) -> dict[str, Any] | None:
    entries = yn.mapping(at, problems, None, "state")
    if entries is None:
        return None
    return {key: _json(yn.plain(node, problems, f"state {key!r}")) for key, node in entries.items()}


def _json(value: Any) -> Any:
    """State is stored as JSON: YAML dates become ISO strings."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return to_json_value(value)
