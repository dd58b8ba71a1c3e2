"""Building the vars of an event type, and checking config values against a var's rules.

Rule decisions (documented in docs/config.md):

- ``choices``, ``min``, ``max`` and ``default`` are converted to the var's type when the config
  loads, so ``min: 2024-01-01`` on a date var is a date and ``max: "3"`` on an int var is 3.
- ``min``/``max`` apply to ``int``, ``float``, ``date`` and ``datetime`` vars. On ``str`` they
  would compare letters (``"10" < "9"``) and on ``bool`` they mean nothing, so both are errors.
- ``regex`` must match the whole canonical text of the value (``format_value``): natural for
  ``str``, also usable on ``int``/``date`` (``\\d{4}``, ``\\d{4}-\\d{2}-01``); an error on ``bool``.
- every choice and the default must pass the other rules: a choice outside ``min``..``max`` could
  never be used, and a default that breaks a rule would fail every event.
- for ``str`` vars a YAML scalar is read as written, so ``no`` stays ``"no"`` (YAML 1.1 would
  read a boolean) and ``007`` stays ``"007"``.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ValidationError
from ..spec.model import Var
from ..spec.values import VAR_TYPES, convert, format_value
from . import yamlnodes as yn
from .yamlnodes import Node, Problems

VAR_KEYS = ("name", "type", "description", "choices", "min", "max", "regex", "default")

#: Names every task template offers besides the vars (a var may not take one of them).
TASK_BUILTINS = ("event_key", "event_type", "run_id", "workdir", "flow", "task", "attempt",
                 "home", "config_dir")

_ORDERED = ("int", "float", "date", "datetime")


def raw_value(var: Var, at: Node) -> Any:
    """What ``at`` holds, read for ``var``: a scalar's text for ``str`` vars, else its YAML value."""
    if var.type == "str" and at.is_scalar:
        return at.text
    return at.value()


def check_value(var: Var, at: Node, problems: Problems, what: str, raw: Any = None) -> tuple[bool, Any]:
    """``(True, typed value)`` when ``at`` (or ``raw``, read from it) passes ``var``'s type and
    rules, else records an error placed at ``at``."""
    if var.type not in VAR_TYPES:
        return True, at.value()  # its unknown type is reported where the var is declared
    try:
        return True, var.validate(raw_value(var, at) if raw is None else raw)
    except ValidationError as exc:
        problems.add(at, f"{what} {_shown(at)} fails var {var.name!r} (rule: {exc.rule}): "
                         f"{str(exc).removeprefix(f'var {var.name!r}: ')}")
        return False, None


def _shown(at: Node) -> str:
    return repr(at.text) if at.is_scalar else at.describe()


def build_vars(at: Node | None, problems: Problems) -> tuple[Var, ...]:
    """The vars of an event type from its ``vars:`` list (bad vars are reported and left out)."""
    if at is None:
        return ()
    items = yn.sequence(at, problems, "vars")
    out: list[Var] = []
    seen: dict[str, Node] = {}
    for item in items or ():
        var = build_var(item, problems)
        if var is None:
            continue
        if var.name in seen:
            yn.duplicate(problems, item.name_node(), "var", var.name, seen[var.name])
            continue
        seen[var.name] = item
        out.append(var)
    return tuple(out)


def build_var(at: Node, problems: Problems) -> Var | None:
    """One var, or ``None`` when its name or type is unusable (its other errors still reported)."""
    found = yn.named(at, problems, VAR_KEYS, "a var", "{name: region, type: str}")
    if found is None:
        return None
    entries, name_at, name, description = found
    if name is not None and name in TASK_BUILTINS:
        problems.add(name_at, f"var name {name!r} is reserved: task templates offer {{{name}}} "
                              f"themselves (reserved: {', '.join(TASK_BUILTINS)}); rename the var")
        name = None
    var_type = "str"
    if "type" in entries:
        var_type = yn.choice(entries["type"], problems, "var type", VAR_TYPES)
    if var_type is None:
        # Keep the name (with the bad type) so uses of the var do not report it as unknown.
        return Var(name, entries["type"].text, description=description) if name else None
    label = name or "?"
    base = Var(label, var_type)
    low = _bound(entries.get("min"), base, problems, "min")
    high = _bound(entries.get("max"), base, problems, "max")
    if low is not None and high is not None and low > high:
        problems.add(entries["max"], f"min {format_value(low)} is above max {format_value(high)}: "
                                     "swap them or fix one")
        low = high = None
    regex = _regex(entries.get("regex"), var_type, problems)
    ruled = Var(label, var_type, min=low, max=high, regex=regex)
    choices = _choices(entries.get("choices"), ruled, problems)
    full = Var(label, var_type, choices=choices, min=low, max=high, regex=regex, description=description)
    default = full.default
    if "default" in entries:
        at_default = entries["default"]
        if at_default.kind == "null":
            problems.add(at_default, "default must be a value; leave `default` out to make the var required")
        else:
            ok, typed = check_value(full, at_default, problems, "default")
            default = typed if ok else default
    if name is None:
        return None
    return Var(name, var_type, choices=choices, min=low, max=high, regex=regex, default=default,
               description=description)


def _bound(at: Node | None, base: Var, problems: Problems, rule: str) -> Any:
    if at is None:
        return None
    if base.type not in _ORDERED:
        problems.add(at, f"{rule} applies only to {', '.join(_ORDERED)} vars, not to {base.type} vars"
                         + ("; use choices or regex instead" if base.type == "str" else ""))
        return None
    try:
        return convert(base.type, at.value(), base.name)
    except ValidationError as exc:
        problems.add(at, f"{rule} {_shown(at)} is not {article(base.type)}: {_reason(exc, base)}")
        return None


def _regex(at: Node | None, var_type: str, problems: Problems) -> str | None:
    if at is None:
        return None
    pattern = yn.text(at, problems, "regex")
    if pattern is None:
        return None
    if var_type == "bool":
        problems.add(at, "regex does not apply to bool vars")
        return None
    try:
        re.compile(pattern)
    except re.error as exc:
        problems.add(at, f"regex {pattern!r} does not compile: {exc}")
        return None
    return pattern


def _choices(at: Node | None, ruled: Var, problems: Problems) -> tuple[Any, ...] | None:
    if at is None:
        return None
    items = yn.sequence(at, problems, "choices")
    if items is None:
        return None
    if not items:
        problems.add(at, "choices must list at least one value (or leave `choices` out)")
        return None
    out: list[Any] = []
    for item in items:
        try:
            value = convert(ruled.type, raw_value(ruled, item), ruled.name)
        except ValidationError as exc:
            problems.add(item, f"choice {_shown(item)} is not {article(ruled.type)}: {_reason(exc, ruled)}")
            continue
        if value in out:
            problems.add(item, f"choice {format_value(value)!r} is listed twice")
            continue
        try:
            ruled.validate(value)
        except ValidationError as exc:
            problems.add(item, f"choice {format_value(value)!r} can never be used, it breaks the "
                               f"var's {exc.rule}: {_reason(exc, ruled)}")
            continue
        out.append(value)
    return tuple(out) if out else None


def article(var_type: str) -> str:
    """``an int``, ``a date``: a var type in a sentence."""
    return f"an {var_type}" if var_type == "int" else f"a {var_type}"


def _reason(exc: ValidationError, var: Var) -> str:
    return str(exc).removeprefix(f"var {var.name!r}: ")
