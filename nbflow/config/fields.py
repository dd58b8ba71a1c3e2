"""Checking the ``{fields}`` of config templates against the names a place offers.

Each place offers its own names (a task's ``cmd`` sees the event's vars and ``{workdir}``; a
generator's ``vals`` see ``{fire_time}`` or ``{trigger.<var>}``), so a typo or a name from the
wrong place is caught when the config loads rather than when an event first fires.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ConfigError, did_you_mean
from ..spec.templates import parse_template
from .yamlnodes import Node, Problems

#: Offered names: root -> ``None`` (any dotted sub-name) or the set of sub-names allowed
#: (an empty set: the root is used alone, as ``{workdir}``).
Offered = Mapping[str, "frozenset[str] | None"]


def check_template(at: Node, text: str, offered: Offered, problems: Problems,
                   reasons: Mapping[str, str] | None = None) -> bool:
    """Whether every field of ``text`` is offered; records one error per bad field.

    ``reasons`` explains names that exist elsewhere but not here, keyed by root
    (``fire_time``) or by ``root.sub`` (``trigger.region``): the message then says why.
    """
    try:
        template = parse_template(text)
    except ConfigError as exc:
        problems.add(at, exc.message)
        return False
    reasons = reasons or {}
    ok = True
    for field in template.fields:
        problem = _field_problem(field.name, offered, reasons)
        if problem:
            problems.add(at, f"template {text!r}: {problem}")
            ok = False
    return ok


def _field_problem(name: str, offered: Offered, reasons: Mapping[str, str]) -> str | None:
    root, *rest = name.split(".")
    if root not in offered:
        if root in reasons:
            return f"{{{name}}} is not offered here: {reasons[root]}"
        return (f"{{{name}}} does not exist{did_you_mean(root, offered)}; "
                f"names offered here: {_listing(offered)}")
    subs = offered[root]
    if subs is None:
        return None
    if not rest:
        if subs:
            return f"{{{root}}} is not a value; use one of {', '.join('{' + root + '.' + s + '}' for s in sorted(subs))}"
        return None
    if not subs:
        return f"{{{name}}}: {{{root}}} has no parts; write {{{root}}}"
    if rest[0] not in subs:
        key = f"{root}.{rest[0]}"
        if key in reasons:
            return f"{{{name}}} is not offered here: {reasons[key]}"
        return (f"{{{name}}}: {root} has no {rest[0]!r}{did_you_mean(rest[0], subs)}; "
                f"it offers: {', '.join(sorted(subs))}")
    if len(rest) > 1:
        return f"{{{name}}}: {{{root}.{rest[0]}}} has no parts"
    return None


def _listing(offered: Offered) -> str:
    shown = []
    for root, subs in offered.items():
        shown.append(f"{root}.<{'|'.join(sorted(subs))}>" if subs else
                     f"{root}.<anything>" if subs is None else root)
    return ", ".join(shown)
