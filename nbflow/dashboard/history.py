"""The history list: a filtered, paged view of events that stays fast on large histories.

Filters (type, status, time range, text in the label) are pushed into SQL as parameters; a
page is fetched by keyset on ``(created_at, event_key)`` -- the newest first -- so page 1000
costs what page 1 does, and only the page's events get their status folded from the stage
log.  Only a status filter needs the fold of every event (the public ``events`` view).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..errors import ValidationError

#: Event statuses as the ``events`` view reports them.
STATUSES = ("active", "paused", "success", "failure", "skipped")

# The status fold of the ``events`` view (nbflow/store/schema.py), restricted to a set of
# keys: the view folds every event, which a page of 50 must not pay for.  A test checks that
# both agree on a real history.
_FOLD = """
    SELECT event_key, arg_max(action, stage_id) AS action, arg_max(detail, stage_id) AS detail,
           max(CASE WHEN action = 'final' THEN "at" END) AS final_at
    FROM stages
    WHERE event_key IN ({keys}) AND task IS NULL AND flow IS NULL
      AND action IN ('emitted', 'final', 'paused', 'resumed', 'skipped', 'retried', 'cancelled')
    GROUP BY event_key"""
_STATUS = """CASE last.action
        WHEN 'final' THEN coalesce(last.detail, 'success') WHEN 'paused' THEN 'paused'
        WHEN 'skipped' THEN 'skipped' WHEN 'cancelled' THEN 'failure' ELSE 'active' END"""
_COLUMNS = "event_key, event_type, label, source, generator, parent_run_id, cause, created_at"


@dataclass(frozen=True)
class EventFilter:
    """What the history list shows: every condition is optional."""

    event_type: str | None = None
    status: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    text: str = ""

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise ValidationError(
                f"status filter: {self.status!r} is not a status; statuses: {', '.join(STATUSES)}",
                rule="choices")
        if self.since and self.until and self.since > self.until:
            raise ValidationError(
                f"time range: from {self.since.isoformat()} is after to {self.until.isoformat()}",
                rule="range")

    def conditions(self) -> tuple[list[str], list[Any]]:
        """SQL conditions on ``event_log`` columns and their parameters (never inlined)."""
        where: list[str] = []
        params: list[Any] = []
        if self.event_type:
            where.append("event_type = ?")
            params.append(self.event_type)
        if self.since is not None:
            where.append("created_at >= ?")
            params.append(self.since)
        if self.until is not None:
            where.append("created_at <= ?")
            params.append(self.until)
        if self.text.strip():
            where.append("contains(lower(label), lower(?))")
            params.append(self.text.strip())
        return where, params


@dataclass(frozen=True)
class EventRow:
    """One event as the list and the event page show it."""

    event_key: str
    event_type: str
    label: str
    status: str
    source: str | None
    generator: str | None
    parent_run_id: str | None
    cause: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> EventRow:
        return cls(r["event_key"], r["event_type"], r["label"], r.get("status") or "active",
                   r.get("source"), r.get("generator"), r.get("parent_run_id"), r.get("cause"),
                   r["created_at"], r.get("finished_at"))

    def duration(self, now: dt.datetime | None = None) -> float | None:
        """Seconds from creation to final (to now while it is unfinished)."""
        end = self.finished_at or (now or dt.datetime.now(dt.UTC))
        return (end - self.created_at).total_seconds()

    @property
    def origin(self) -> str:
        """Who emitted it, in words."""
        if self.parent_run_id:
            return f"task run {self.parent_run_id}"
        if self.generator:
            return f"generator {self.generator}" + (f" ({self.cause})" if self.cause else "")
        return self.source or "user"


@dataclass(frozen=True)
class Page:
    """One page of the list: its rows, where it sits, and whether more follow."""

    rows: list[EventRow]
    index: int              # 0-based page number
    page_size: int
    total: int              # events matching the filter
    has_next: bool
    filter: EventFilter = field(default_factory=EventFilter)

    @property
    def has_prev(self) -> bool:
        return self.index > 0

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    def describe(self) -> str:
        """``51-100 of 100,000 events`` (or ``no events``)."""
        if not self.rows:
            return "no events" + (" match the filter" if self.filter != EventFilter() else " yet")
        first = self.index * self.page_size + 1
        return f"{first:,}-{first + len(self.rows) - 1:,} of {self.total:,} events"


def fold_statuses(source, keys: list[str]) -> dict[str, tuple[str, dt.datetime | None]]:
    """``key -> (status, finished_at)`` for a few events, folded from their stages only."""
    if not keys:
        return {}
    rows = source.sql(f"SELECT event_key, {_STATUS} AS status, final_at FROM ({_FOLD}) last"
                      .format(keys=", ".join("?" for _ in keys)), keys)
    return {r["event_key"]: (r["status"], r["final_at"]) for r in rows}


class HistoryModel:
    """Pages through the events matching a filter, newest first."""

    def __init__(self, source, page_size: int = 50) -> None:
        if page_size < 1:
            raise ValidationError(f"page_size must be at least 1, got {page_size}", rule="min")
        self.source = source
        self.page_size = page_size
        self.filter = EventFilter()
        # cursors[i]: (created_at, event_key) of the last row before page i; None for page 0.
        self._cursors: list[tuple[dt.datetime, str] | None] = [None]
        self.page: Page | None = None

    # -- navigation -------------------------------------------------------------------------------
    def set_filter(self, event_filter: EventFilter) -> Page:
        """Apply a filter and go back to the first page."""
        self.filter = event_filter
        self._cursors = [None]
        return self.load()

    def first(self) -> Page:
        self._cursors = [None]
        return self.load()

    def next(self) -> Page:
        page = self.page or self.load()
        if not page.has_next:
            return page
        last = page.rows[-1]
        self._cursors.append((last.created_at, last.event_key))
        return self.load()

    def prev(self) -> Page:
        if len(self._cursors) > 1:
            self._cursors.pop()
        return self.load()

    def load(self) -> Page:
        """(Re)load the current page: what a refresh calls when history moved on."""
        index = len(self._cursors) - 1
        rows, has_next = self._fetch(self._cursors[-1])
        if not rows and index > 0:        # the page emptied (filtered away): step back
            self._cursors.pop()
            return self.load()
        self.page = Page(rows, index, self.page_size, self.count(), has_next, self.filter)
        return self.page

    # -- queries ----------------------------------------------------------------------------------
    def _fetch(self, cursor: tuple[dt.datetime, str] | None) -> tuple[list[EventRow], bool]:
        where, params = self.filter.conditions()
        if cursor is not None:
            where.append("(created_at < ? OR (created_at = ? AND event_key < ?))")
            params += [cursor[0], cursor[0], cursor[1]]
        limit = self.page_size + 1
        if self.filter.status:
            sql = (f"SELECT {_COLUMNS}, status, finished_at FROM events "
                   f"WHERE {' AND '.join(['status = ?', *where])} "
                   "ORDER BY created_at DESC, event_key DESC LIMIT ?")
            rows = self.source.sql(sql, [self.filter.status, *params, limit])
        else:
            # Two queries: the page, then the fold of its keys as a literal list (DuckDB prunes
            # the stage log by key then; a semi-join on the page scans all of it, ~2x slower).
            cond = f"WHERE {' AND '.join(where)}" if where else ""
            rows = self.source.sql(f"SELECT {_COLUMNS} FROM event_log {cond} "
                                   "ORDER BY created_at DESC, event_key DESC LIMIT ?", [*params, limit])
            statuses = fold_statuses(self.source, [r["event_key"] for r in rows])
            for r in rows:
                r["status"], r["finished_at"] = statuses.get(r["event_key"], ("active", None))
        events = [EventRow.from_record(r) for r in rows]
        return events[: self.page_size], len(events) > self.page_size

    def count(self) -> int:
        """How many events match the filter."""
        where, params = self.filter.conditions()
        if self.filter.status:
            where.insert(0, "status = ?")
            params.insert(0, self.filter.status)
        table = "events" if self.filter.status else "event_log"
        cond = f" WHERE {' AND '.join(where)}" if where else ""
        return int(self.source.sql(f"SELECT count(*) AS n FROM {table}{cond}", params)[0]["n"])

    def event_types(self) -> list[str]:
        """Types to filter on: the config's, then any others the history holds."""
        names = [et.name for et in self.source.config.event_types]
        seen = {r["event_type"] for r in self.source.sql("SELECT DISTINCT event_type FROM event_log")}
        return names + sorted(seen - set(names))
