"""Config strings as templates: ``{var}``, ``{var:format}``, ``{trigger.var}``, ``{fire_time:%Y}``.

Templates are never ``eval``-ed and never handed to ``str.format``, which would walk
attributes (``{x.__class__}``): fields are resolved here, by dotted lookup into mappings
only, among the names a context offers.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..errors import ConfigError
from .values import format_value

_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class Field:
    """One ``{...}`` of a template: a dotted name and an optional format spec."""

    name: str
    format_spec: str

    @property
    def root(self) -> str:
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and fields, in order."""

    text: str
    parts: tuple[str | Field, ...]

    @property
    def fields(self) -> tuple[Field, ...]:
        return tuple(p for p in self.parts if isinstance(p, Field))

    @property
    def is_constant(self) -> bool:
        return not self.fields

    def render(self, context: Mapping[str, Any]) -> str:
        """The text with each field resolved in ``context`` and formatted."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(render_field(part, context))
        return "".join(out)

    def render_value(self, context: Mapping[str, Any]) -> Any:
        """Like ``render``, but a template that is exactly one field keeps the value's type."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Field) and not self.parts[0].format_spec:
            return resolve(self.parts[0].name, context)
        return self.render(context)


def resolve(name: str, context: Mapping[str, Any]) -> Any:
    """The value of dotted ``name`` in ``context``; ``KeyError`` naming what exists."""
    value: Any = context
    walked = []
    for piece in name.split("."):
        if not isinstance(value, Mapping) or piece not in value:
            offered = sorted(value) if isinstance(value, Mapping) else []
            where = ".".join(walked) or "the template context"
            raise KeyError(f"{{{name}}}: {where} has no {piece!r}; names offered: {', '.join(offered)}")
        value = value[piece]
        walked.append(piece)
    return value


def render_field(field: Field, context: Mapping[str, Any]) -> str:
    value = resolve(field.name, context)
    if field.format_spec:
        return format(value, field.format_spec)
    return format_value(value)


@lru_cache(maxsize=4096)
def parse_template(text: str) -> Template:
    """Parse ``text``; raises ``ConfigError`` on unbalanced braces, ``!r`` or indexing."""
    parts: list[str | Field] = []
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise ConfigError(f"bad template {text!r}: {exc} (write {{{{ and }}}} for literal braces)") from None
    for literal, name, spec, conversion in parsed:
        if literal:
            parts.append(literal)
        if name is None:
            continue
        if conversion is not None:
            raise ConfigError(f"bad template {text!r}: conversions such as !{conversion} are not supported")
        if not name:
            raise ConfigError(f"bad template {text!r}: empty field {{}}; name a var, e.g. {{region}}")
        if "[" in name or not all(p.isidentifier() for p in name.split(".")):
            raise ConfigError(f"bad template {text!r}: {{{name}}} is not a name or dotted name")
        if spec and "{" in spec:
            raise ConfigError(f"bad template {text!r}: nested fields in a format spec are not supported")
        parts.append(Field(name, spec or ""))
    return Template(text, tuple(parts))


def check_names(text: str, allowed: Mapping[str, Any] | set[str]) -> list[str]:
    """Problems with the fields of ``text`` against the names ``allowed``.

    ``allowed`` maps a root name to ``None`` (any sub-name) or to a set of allowed sub-names
    (``{"trigger": {"region", "asof", "event_key"}}``). Returns messages, empty when fine.
    """
    from ..errors import did_you_mean

    problems = []
    template = parse_template(text)
    roots = allowed if isinstance(allowed, Mapping) else dict.fromkeys(allowed)
    for f in template.fields:
        if f.root not in roots:
            problems.append(
                f"template {text!r} references {{{f.name}}}, which does not exist"
                f"{did_you_mean(f.root, roots)}; names offered: {', '.join(sorted(roots))}")
            continue
        subs = roots[f.root]
        rest = f.name.split(".")[1:]
        if subs is not None and rest and rest[0] not in subs:
            problems.append(
                f"template {text!r} references {{{f.name}}}: {f.root} has no {rest[0]!r}"
                f"{did_you_mean(rest[0], subs)}; it offers: {', '.join(sorted(subs))}")
    return problems
