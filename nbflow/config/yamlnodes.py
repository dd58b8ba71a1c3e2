"""YAML nodes with their place in the config: paths, lines, and readers that collect errors.

The loader works on PyYAML's composed node tree (``yaml.compose`` with the safe loader)
rather than on plain Python values, because only nodes remember the line they came from.
Every reader here takes a :class:`Node` and a :class:`Problems` collector: when the node
has the wrong shape it records an error placed at the node and returns ``None``, so the
caller carries on with the node's siblings instead of stopping at the first mistake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import yaml

from ..errors import ConfigError, did_you_mean
from ..spec.model import IDENTIFIER

_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Node:
    """A YAML node at ``path`` (``events[0].flows[1].tasks[2]``) in ``file``."""

    node: yaml.Node
    path: str
    file: str

    @property
    def line(self) -> int:
        """The 1-based line where the node starts."""
        return self.node.start_mark.line + 1

    @property
    def kind(self) -> str:
        """``mapping``, ``list``, ``null``, or the Python type name of a scalar's value."""
        if isinstance(self.node, yaml.MappingNode):
            return "mapping"
        if isinstance(self.node, yaml.SequenceNode):
            return "list"
        if self.node.tag == _NULL:
            return "null"
        return {bool: "boolean", int: "number", float: "number", str: "string"}.get(
            type(self.value()), "date")

    @property
    def is_scalar(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode) and self.node.tag != _NULL

    @property
    def text(self) -> str:
        """A scalar's text as written: ``no`` stays ``no``, ``007`` stays ``007``."""
        return str(self.node.value)

    def key(self, name: str, node: yaml.Node) -> Node:
        return Node(node, f"{self.path}.{name}" if self.path else name, self.file)

    def name_node(self) -> Node:
        """The ``name:`` entry of a mapping node (where a duplicate name is reported), else itself."""
        if isinstance(self.node, yaml.MappingNode):
            for key, value in self.node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == "name":
                    return self.key("name", value)
        return self.key("name", self.node)

    def item(self, index: int, node: yaml.Node) -> Node:
        return Node(node, f"{self.path}[{index}]", self.file)

    def value(self) -> Any:
        """The plain Python value (safe loader semantics: no Python tags).

        A scalar YAML cannot construct (``2024-13-45`` looks like a date but is none) is
        returned as its text, so the var or field reading it reports the problem in its terms.
        """
        try:
            return yaml.constructor.SafeConstructor().construct_object(self.node, deep=True)
        except (ValueError, yaml.YAMLError):
            if isinstance(self.node, yaml.ScalarNode):
                return self.text
            raise

    def describe(self) -> str:
        """``a list``, ``the string 'abc'``...: how a wrong value is shown in a message."""
        kind = self.kind
        if kind in ("mapping", "list"):
            return f"a {kind}"
        if kind == "null":
            return "nothing (null)"
        return f"the {kind} {self.text!r}"


class Problems:
    """The errors of one load, collected rather than raised."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []

    def add(self, at: Node, message: str, path: str | None = None, line: int | None = None) -> None:
        """Record ``message`` at ``at`` (or at an explicit ``path``/``line`` in its file)."""
        where = path if path is not None else at.path
        self.errors.append(ConfigError(message, path=where or None, file=at.file,
                                       line=line if line is not None else at.line))

    def __bool__(self) -> bool:
        return bool(self.errors)


def compose(text: str, file: str, problems: Problems) -> Node | None:
    """The root node of ``text``, or ``None`` (with an error) when it is not one YAML document."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "malformed YAML"
        if exc.context and exc.problem:
            what = f"{exc.problem} ({exc.context}"
            if exc.context_mark is not None:
                what += f" on line {exc.context_mark.line + 1}"
            what += ")"
        problems.errors.append(ConfigError(f"malformed YAML: {what}", file=file,
                                           line=mark.line + 1 if mark else None))
        return None
    except yaml.YAMLError as exc:  # e.g. a control character in the stream: no mark
        problems.errors.append(ConfigError(f"malformed YAML: {exc}", file=file, line=None))
        return None
    if root is None:
        problems.errors.append(ConfigError(
            "the file is empty; a config is a mapping with an `events:` list", file=file, line=1))
        return None
    before = len(problems.errors)
    _check_tags(root, file, problems, set())
    return Node(root, "", file) if len(problems.errors) == before else None


def _check_tags(node: yaml.Node, file: str, problems: Problems, seen: set[int]) -> None:
    """Refuse tags the safe loader does not know (``!!python/...``, ``!custom``): plain YAML only."""
    if id(node) in seen:  # an alias points back at a node already walked
        return
    seen.add(id(node))
    if node.tag not in yaml.constructor.SafeConstructor.yaml_constructors and node.tag != _MERGE:
        problems.errors.append(ConfigError(
            f"the tag {node.tag!r} is not allowed: a config is plain YAML (strings, numbers, "
            "lists, mappings)", file=file, line=node.start_mark.line + 1))
        return
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            _check_tags(child, file, problems, seen)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _check_tags(key, file, problems, seen)
            _check_tags(value, file, problems, seen)


def mapping(at: Node, problems: Problems, allowed: Sequence[str] | None, what: str) -> dict[str, Node] | None:
    """The entries of a mapping node, keyed by their text.

    ``allowed`` lists the known keys (``None``: any key); an unknown key is an error with a
    did-you-mean.  Duplicate keys are errors too (YAML itself silently keeps the last).
    Merge keys (``<<: *defaults``) are honoured, and a key written out overrides a merged one.
    """
    if not isinstance(at.node, yaml.MappingNode):
        problems.add(at, f"{what} must be a mapping (key: value), got {at.describe()}")
        return None
    own: dict[str, yaml.Node] = {}
    merged: dict[str, yaml.Node] = {}
    out: dict[str, Node] = {}
    for key_node, value_node in at.node.value:
        if key_node.tag == _MERGE:
            merged.update(_merged_entries(at, value_node, problems))
            continue
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _NULL:
            problems.add(at, f"{what} has a key that is not a plain name", line=key_node.start_mark.line + 1)
            continue
        key = str(key_node.value)
        if key in own:
            problems.add(at.key(key, key_node),
                         f"key {key!r} appears twice (first on line {own[key].start_mark.line + 1}); "
                         "YAML would silently keep only the last: remove one")
            continue
        own[key] = key_node
        if allowed is not None and key not in allowed:
            problems.add(at.key(key, key_node),
                         f"unknown key {key!r}{did_you_mean(key, allowed)}; {what} takes: {', '.join(allowed)}")
            continue
        out[key] = at.key(key, value_node)
    for key, value_node in merged.items():
        if key not in own and (allowed is None or key in allowed):
            out[key] = at.key(key, value_node)
        elif allowed is not None and key not in allowed:
            problems.add(at.key(key, value_node),
                         f"unknown key {key!r} (merged in with <<){did_you_mean(key, allowed)}; "
                         f"{what} takes: {', '.join(allowed)}")
    return out


def _merged_entries(at: Node, value_node: yaml.Node, problems: Problems) -> dict[str, yaml.Node]:
    sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
    entries: dict[str, yaml.Node] = {}
    for source in reversed(sources):  # earlier sources win, as in YAML's merge rule
        if not isinstance(source, yaml.MappingNode):
            problems.add(at, "a merge key (<<) needs a mapping or a list of mappings",
                         line=source.start_mark.line + 1)
            continue
        for key_node, node in source.value:
            if isinstance(key_node, yaml.ScalarNode):
                entries[str(key_node.value)] = node
    return entries


def sequence(at: Node, problems: Problems, what: str, single_ok: bool = False) -> list[Node] | None:
    """The elements of a list node; with ``single_ok`` a lone scalar counts as a list of one.

    Elements are at ``path[i]``; a lone scalar keeps its own path (``depends_on``).
    """
    if isinstance(at.node, yaml.SequenceNode):
        return [at.item(i, n) for i, n in enumerate(at.node.value)]
    if single_ok and at.is_scalar:
        return [at]  # the string is the one element, and errors point at it as written
    hint = " (or a single string)" if single_ok else ""
    problems.add(at, f"{what} must be a list{hint}, got {at.describe()}")
    return None


def text(at: Node, problems: Problems, what: str) -> str | None:
    """A scalar's text as written (so ``on``, ``no`` or ``1.10`` are not read as bool or number)."""
    if not at.is_scalar:
        problems.add(at, f"{what} must be a string, got {at.describe()}")
        return None
    return at.text


def identifier(at: Node, problems: Problems, what: str) -> str | None:
    """A name: letters, digits and ``_``, not starting with a digit."""
    name = text(at, problems, what)
    if name is not None and not IDENTIFIER.match(name):
        problems.add(at, f"{what} {name!r} is not a valid name: use letters, digits and _, "
                         "not starting with a digit (e.g. daily_prices)")
        return None
    return name


def integer(at: Node, problems: Problems, what: str, minimum: int | None = None) -> int | None:
    """An integer, at least ``minimum``."""
    value = at.value() if at.is_scalar else None
    if not isinstance(value, int) or isinstance(value, bool):
        problems.add(at, f"{what} must be a whole number, got {at.describe()}")
        return None
    if minimum is not None and value < minimum:
        problems.add(at, f"{what} must be at least {minimum}, got {value}")
        return None
    return value


def duration(at: Node, problems: Problems, what: str, positive: bool = False) -> float | None:
    """Seconds, from a number or a string such as ``500ms``, ``30s``, ``5m``, ``1h30m``."""
    from ..durations import parse_duration

    try:
        seconds = parse_duration(at.value() if at.is_scalar else None)
    except ConfigError as exc:
        problems.add(at, f"{what}: {exc.message}")
        return None
    if positive and seconds <= 0:
        problems.add(at, f"{what} must be more than zero, got {at.text!r}")
        return None
    return seconds


def choice(at: Node, problems: Problems, what: str, choices: Sequence[str]) -> str | None:
    """One of ``choices``; otherwise an error listing them."""
    value = text(at, problems, what)
    if value is not None and value not in choices:
        problems.add(at, f"{what} {value!r} is not one of: {', '.join(choices)}{did_you_mean(value, choices)}")
        return None
    return value


def plain(at: Node, problems: Problems, what: str) -> Any:
    """Any plain YAML value (nested lists and mappings too); ``None`` with an error if unreadable."""
    try:
        return at.value()
    except yaml.YAMLError as exc:  # e.g. a list used as a mapping key
        problems.add(at, f"{what} cannot be read: {getattr(exc, 'problem', None) or exc}")
        return None


def duplicate(problems: Problems, at: Node, kind: str, name: str, first: Node) -> None:
    """Record that ``name`` was already declared at ``first`` (possibly in another file)."""
    where = f"{first.path} (line {first.line})"
    if first.file != at.file:
        where = f"{first.path} ({first.file}:{first.line})"
    problems.add(at, f"duplicate {kind} name {name!r}: the first is at {where}; names must be unique")


def required(entries: dict[str, Node], key: str, parent: Node, problems: Problems, example: str) -> Node | None:
    """``entries[key]``, or an error at ``parent.key`` saying it is missing (with an example)."""
    if key in entries:
        return entries[key]
    problems.add(parent, f"missing required key {key!r}, e.g. {example}",
                 path=f"{parent.path}.{key}" if parent.path else key)
    return None


class Named(NamedTuple):
    """A named config object's mapping: its entries, its ``name`` node and text, its description."""

    entries: dict[str, Node]
    name_at: Node | None
    name: str | None
    description: str


def named(at: Node, problems: Problems, allowed: Sequence[str], what: str, example: str) -> Named | None:
    """Read a mapping that must have an identifier ``name`` and may have a ``description``
    (event types, vars, generators, flows, tasks); ``None`` when ``at`` is no mapping at all.

    ``what`` is the object with its article ("a flow"): errors say "flow name".
    """
    entries = mapping(at, problems, allowed, what)
    if entries is None:
        return None
    name_at = required(entries, "name", at, problems, example)
    name = identifier(name_at, problems, f"{what.split(' ', 1)[1]} name") if name_at else None
    description = ""
    if "description" in entries:
        description = text(entries["description"], problems, "description") or ""
    return Named(entries, name_at, name, description)
