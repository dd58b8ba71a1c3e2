"""Provenance: which run or generator emitted an event, and which events its runs emitted.

Up the chain, an event's parent is the event of the task run that emitted it
(``parent_run_id``), or an event named in its ``cause`` (a subscription's trigger); down, its
children are the events whose ``parent_run_id`` is one of its runs, or whose ``cause`` names
it.  The result is a small graph the event page draws and lets the user click through.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass, field

from ..keys import parse_run_id
from .history import fold_statuses

#: How far up the chain of parents the page goes, and how many children it lists.
MAX_ANCESTORS = 8
MAX_CHILDREN = 200
_KEY = re.compile(r"\d{8}T\d{6}\.\d{6}-[0-9a-f]{6}")


@dataclass(frozen=True)
class Link:
    """Another event related to the one shown, and how."""

    event_key: str
    label: str
    event_type: str
    status: str
    via: str            # the run id that emitted the child / the parent's run, or the cause
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class Provenance:
    """Where an event came from and what came of it."""

    event_key: str
    label: str
    origin: str                     # in words: "task run K/main.announce#1", "generator price.us"
    generator: str | None
    cause: str | None
    ancestors: list[Link] = field(default_factory=list)   # parent first, then its parent, ...
    children: list[Link] = field(default_factory=list)
    children_truncated: bool = False
    tick: dict | None = None        # the generator tick that emitted it, when one did

    @property
    def parent(self) -> Link | None:
        return self.ancestors[0] if self.ancestors else None

    def edges(self) -> list[tuple[str, str, str]]:
        """``(from_node, to_node, label)``: parent chain into the event, event into children;
        a generator is a node ``generator:NAME``."""
        out: list[tuple[str, str, str]] = []
        chain = [self.event_key] + [a.event_key for a in self.ancestors]
        for child, parent in itertools.pairwise(chain):
            via = next(a.via for a in self.ancestors if a.event_key == parent)
            out.append((parent, child, via))
        top = chain[-1]
        if self.generator and not self.ancestors:
            out.append((f"generator:{self.generator}", top, "fired"))
        for c in self.children:
            out.append((self.event_key, c.event_key, c.via))
        return out


def _short_via(run_id: str | None) -> str:
    if not run_id:
        return ""
    try:
        _, flow, task, attempt = parse_run_id(run_id)
    except ValueError:
        return run_id
    return f"{flow}.{task}#{attempt}"


def _parent_key(record: dict) -> tuple[str, str] | None:
    """``(parent event key, via)`` of an event record, if it has a parent event."""
    if record.get("parent_run_id"):
        try:
            return parse_run_id(record["parent_run_id"])[0], _short_via(record["parent_run_id"])
        except ValueError:
            return None
    found = _KEY.findall(record.get("cause") or "")
    found = [k for k in found if k != record["event_key"]]
    if found:
        gen = record.get("generator")
        return found[0], (f"generator {gen}" if gen else record["cause"])
    return None


def load_provenance(source, event_key: str) -> Provenance:
    """The provenance of ``event_key`` (which must exist)."""
    cols = "event_key, event_type, label, parent_run_id, generator, cause, created_at, source"
    record = source.sql(f"SELECT {cols} FROM event_log WHERE event_key = ?", [event_key])[0]
    ancestors: list[tuple[dict, str]] = []
    seen = {event_key}
    current = record
    for _ in range(MAX_ANCESTORS):
        up = _parent_key(current)
        if up is None or up[0] in seen:
            break
        rows = source.sql(f"SELECT {cols} FROM event_log WHERE event_key = ?", [up[0]])
        if not rows:
            break
        ancestors.append((rows[0], up[1]))
        seen.add(up[0])
        current = rows[0]
    children = source.sql(
        f"SELECT {cols} FROM event_log WHERE starts_with(parent_run_id, ?) "
        "OR (parent_run_id IS NULL AND contains(cause, ?)) "
        "ORDER BY created_at, event_key LIMIT ?", [event_key + "/", event_key, MAX_CHILDREN + 1])
    truncated = len(children) > MAX_CHILDREN
    children = children[:MAX_CHILDREN]
    statuses = fold_statuses(source, [r["event_key"] for r, _ in ancestors]
                             + [r["event_key"] for r in children])

    def link(r: dict, via: str) -> Link:
        return Link(r["event_key"], r["label"], r["event_type"],
                    statuses.get(r["event_key"], ("active", None))[0], via, r["created_at"])

    ticks = source.sql(
        'SELECT generator, "at", fire_time, trigger, outcome, reason FROM generator_ticks '
        "WHERE event_key = ? ORDER BY tick_id LIMIT 1", [event_key]) if record.get("generator") else []
    if record.get("parent_run_id"):
        origin = f"task run {record['parent_run_id']}"
    elif record.get("generator"):
        origin = f"generator {record['generator']}" + (f" ({record['cause']})" if record.get("cause") else "")
    else:
        origin = record.get("source") or "user"
    return Provenance(
        event_key, record["label"], origin, record.get("generator"), record.get("cause"),
        [link(r, via) for r, via in ancestors],
        [link(r, _short_via(r.get("parent_run_id")) or (r.get("cause") or "")) for r in children],
        truncated, ticks[0] if ticks else None)
