"""Subscription loops: generators whose events trigger, through subscriptions, more of their own.

A generator of type T subscribed to a stage of type S is an edge ``S -> T`` of the type graph;
a cycle in it (``T -> T``, or ``A -> B -> A``) means every event can emit the next one for
ever, filling the history at full speed. A loop may be intended (a ``where:`` that ends it, a
custom class that stops returning values), so these are warnings, never errors, worded by
what, if anything, stops the loop.

Called by ``nbflow check``, ``nbflow run`` and ``nbflow.start()``, never by ``load_config``:
``nbflow emit`` loads configs too and must stay light, so networkx is imported inside
:func:`loop_warnings`, and only when the graph can have a cycle at all.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from itertools import islice
from typing import IO, Any

from ..spec.model import Config, GeneratorSpec, Location, Subscription
from ..spec.templates import parse_template
from ..spec.values import format_value

#: At most this many loops are reported; a config with more gets one line saying so.
MAX_LOOPS = 20
#: Loops looked at before choosing which to report (a dense graph has very many).
MAX_SCANNED = 1000
#: Actions every event (or every flow it runs) reaches: a loop on them needs nothing to go wrong.
_ALWAYS = ("emitted", "invoked", "success", "final")
#: A val that is not the same on every fire (a template, a custom class's choice).
_UNKNOWN: Any = object()

log = logging.getLogger("nbflow.config")

#: One edge ``S -> T``: a generator of T with the subscriptions by which it follows S.
_Edge = tuple[GeneratorSpec, tuple[Subscription, ...]]


def loop_warnings(config: Config) -> list[str]:
    """One ``FILE:LINE: PATH: MESSAGE`` line per subscription loop of ``config`` (none: ``[]``).

    Each names the loop (``prices -> report -> prices``), every generator on it with the
    place of its subscription, and what limits or ends it, or that nothing does.
    """
    edges = _edges(config)
    core = _core(edges)
    if not core:
        return []
    import networkx as nx  # only here: ~0.1 s that `nbflow emit` and acyclic configs never pay

    graph = nx.DiGraph()
    graph.add_edges_from((s, t) for s, t in edges if s in core and t in core)
    rank = {et.name: i for i, et in enumerate(config.event_types)}
    # A dense graph has exponentially many cycles: look at a bounded number of them.
    found = list(islice(nx.simple_cycles(graph), MAX_SCANNED))
    cycles = sorted((_rotate(c, rank) for c in found), key=lambda c: [rank[n] for n in c])
    out = [_warning(config, cycle, edges) for cycle in cycles[:MAX_LOOPS]]
    if len(cycles) > MAX_LOOPS:
        more = f"{'at least ' if len(found) == MAX_SCANNED else ''}{len(cycles) - MAX_LOOPS}"
        out.append(f"{more} more subscription loops not listed")
    return out


def print_loop_warnings(config: Config, file: IO[str] | None = None) -> None:
    """Print each loop warning as one ``warning: ...`` line (``nbflow run``; default stderr)."""
    for line in loop_warnings(config):
        print(f"warning: {line}", file=file or sys.stderr, flush=True)


def log_loop_warnings(config: Config) -> None:
    """Log each loop warning on the ``nbflow.config`` logger (``nbflow.start``, ``%nbflow start``)."""
    for line in loop_warnings(config):
        log.warning("%s", line)


def _edges(config: Config) -> dict[tuple[str, str], list[_Edge]]:
    """``(S, T) -> [(generator of T, its subscriptions to S)]`` in config order."""
    edges: dict[tuple[str, str], list[_Edge]] = {}
    for gen in config.generators():
        by_source: dict[str, list[Subscription]] = {}
        for sub in gen.subscribe:
            by_source.setdefault(sub.event_type, []).append(sub)
        for source, subs in by_source.items():
            edges.setdefault((source, gen.event_type), []).append((gen, tuple(subs)))
    return edges


def _core(edges: Iterable[tuple[str, str]]) -> set[str]:
    """The types left after repeatedly dropping those with no edge in or none out.

    Every cycle lies inside what is left, so an empty result proves there is none without
    importing networkx (the common case: chains of subscriptions, or none at all).
    """
    pairs = set(edges)
    while True:
        sources = {s for s, _ in pairs}
        targets = {t for _, t in pairs}
        kept = {(s, t) for s, t in pairs if s in targets and t in sources}
        if kept == pairs:
            return sources | targets
        pairs = kept


def _rotate(cycle: list[str], rank: dict[str, int]) -> list[str]:
    # Start at the type declared first, so a loop reads the same on every run.
    first = min(range(len(cycle)), key=lambda i: rank[cycle[i]])
    return cycle[first:] + cycle[:first]


def _warning(config: Config, cycle: list[str], edges: dict[tuple[str, str], list[_Edge]]) -> str:
    hops = [(cycle[i], cycle[(i + 1) % len(cycle)]) for i in range(len(cycle))]
    parts: list[str] = []
    for hop in hops:
        for gen, subs in edges[hop]:
            patterns = ", ".join(str(s) for s in subs)
            here = "here" if not parts else _place(subs[0].location or gen.location)
            parts.append(f"{gen.qualified_name} subscribes to {patterns} ({here})")
    chain = " -> ".join([*cycle, cycle[0]])
    lead = edges[hops[0]][0]
    place = _place(lead[1][0].location or lead[0].location)
    return f"{place}: subscription loop {chain}: {'; '.join(parts)}; {_verdict(config, hops, edges)}"


def _place(where: Location | None) -> str:
    if where is None:
        return "(unknown place)"
    return f"{where.file}:{where.line}: {where.path}" if where.line else f"{where.file}: {where.path}"


def _verdict(config: Config, hops: list[tuple[str, str]], edges: dict[tuple[str, str], list[_Edge]]) -> str:
    """What ends or limits the loop, by case: a ``where:`` that provably stops it, ``where:``
    or a custom class that may, or nothing (then ``hold`` is named if it slows it)."""
    for i, hop in enumerate(hops):
        feeders = [gen for gen, _ in edges[hops[i - 1]]]   # the loop's makers of hop's source events
        stops = [_where_stop(config, gen, feeders) for gen, _ in edges[hop]]
        if all(stops):
            return "; ".join(stops) + ": the loop goes round at most once"
    maybe = []
    for hop in hops:
        if all(gen.where or gen.class_ for gen, _ in edges[hop]):
            maybe.extend(f"{gen.qualified_name}'s `where:` may end it" if gen.where else
                         f"{gen.qualified_name} is a custom class (`{gen.class_}`), which may end it "
                         "by returning no values" for gen, _ in edges[hop])
    if maybe:
        return "; ".join(maybe)
    held = [f"hold: {gen.hold} on {gen.qualified_name}" for hop in hops for gen, _ in edges[hop] if gen.hold]
    # A step whose every subscription waits for an action only some events reach (`failure`...)
    # keeps the loop going only while events keep reaching it.
    conditional: set[str] = set()
    for hop in hops:
        actions = {s.action for _, subs in edges[hop] for s in subs}
        if not actions & set(_ALWAYS):
            conditional |= actions
    text = "nothing in it stops it: each event will emit the next without end"
    if conditional:
        text += " (for as long as they reach " + " or ".join(f"`{a}`" for a in sorted(conditional)) + ")"
    if held:
        verb = "limits" if len(held) == 1 else "limit"
        text = f"{' and '.join(held)} {verb} it to one event at a time, but {text}"
    return text


def _where_stop(config: Config, gen: GeneratorSpec, feeders: list[GeneratorSpec]) -> str | None:
    """Why ``gen``'s ``where:`` refuses every event the loop's ``feeders`` make, or None."""
    reasons = []
    for feeder in feeders:
        reason = None
        for var, allowed in gen.where.items():
            value = _constant(config, feeder, var)
            if value is not _UNKNOWN and value not in allowed:
                shown = ", ".join(format_value(a) for a in allowed)
                reason = (f"{gen.qualified_name}'s `where: {var} in [{shown}]` refuses what "
                          f"{feeder.qualified_name} emits ({var}={format_value(value)})")
                break
        if reason is None:
            return None
        reasons.append(reason)
    return "; ".join(reasons) or None



def _constant(config: Config, gen: GeneratorSpec, var: str) -> Any:
    """The value ``gen`` always gives ``var`` (a constant val or the var's default), else _UNKNOWN."""
    if gen.class_ is not None:
        return _UNKNOWN   # the class's values override vals
    spec = config.event_type(gen.event_type).var(var)
    if var not in gen.vals:
        return spec.default if spec.has_default else _UNKNOWN
    val = gen.vals[var]
    if not isinstance(val, str):
        return val        # typed constants; templates of non-str vars stay text
    if spec.type != "str":
        return _UNKNOWN
    template = parse_template(val)
    return template.render({}) if template.is_constant else _UNKNOWN
