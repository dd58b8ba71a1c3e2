"""Generator state read from the history file when no engine runs (``nbflow generator show``).

Read-only: the DuckDB file is opened ``read_only`` and nothing is changed.  Changes asked
for while no engine runs are queued in the inbox; ``preview`` says what they will clear,
from the stored state document.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import UnknownNameError, WorkspaceError

SHOW_TICKS = 20


def _connect(ws):
    if not ws.db_path.exists():
        raise WorkspaceError(f"workspace {ws.home} has no history yet (no engine has run there)")
    from ..engine.store_open import connect

    return connect(ws, read_only=True)


def _rows(con) -> list[tuple]:
    return con.execute("SELECT qualified_name, event_type, name, status, state, updated_at "
                       "FROM generators ORDER BY qualified_name").fetchall()


def _entry(row) -> dict[str, Any]:
    qname, etype, name, status, state, updated = row
    doc = json.loads(state)
    return {"name": qname, "event_type": etype, "generator": name, "status": status,
            "pending": len(doc.get("pending") or []), "held_on": doc.get("held_on"),
            "next_fire": None, "state": doc, "updated_at": updated.isoformat() if updated else None}


def resolve(rows: list[tuple], name: str) -> tuple:
    """The row of ``[TYPE.]NAME`` among the generators the history knows."""
    found = [r for r in rows if r[0] == name] or [r for r in rows if "." not in name and r[2] == name]
    if len(found) == 1:
        return found[0]
    known = ", ".join(r[0] for r in rows) or "(none)"
    if not found:
        raise UnknownNameError(f"no generator {name!r} in the history of this workspace; known: {known}")
    raise UnknownNameError(f"generator name {name!r} is ambiguous; say one of: "
                           f"{', '.join(r[0] for r in found)}")


def list_generators(ws) -> list[dict[str, Any]]:
    con = _connect(ws)
    try:
        return [_entry(r) for r in _rows(con)]
    finally:
        con.close()


def show(ws, name: str) -> dict[str, Any]:
    con = _connect(ws)
    try:
        entry = _entry(resolve(_rows(con), name))
        cur = con.execute(
            f"""SELECT tick_id, "at", fire_time, trigger, outcome, reason, event_key, idempotency_key
                FROM generator_ticks WHERE event_type = ? AND generator = ?
                ORDER BY tick_id DESC LIMIT {SHOW_TICKS}""", [entry["event_type"], entry["generator"]])
        columns = [d[0] for d in cur.description]
        entry["ticks"] = [dict(zip(columns, (v.isoformat() if hasattr(v, "isoformat") else v for v in row), strict=True))
                          for row in cur.fetchall()]
        return entry
    finally:
        con.close()


def preview(ws, action: str, name: str) -> str | None:
    """What a queued change will clear, from the stored state; None without a history."""
    try:
        entry = show(ws, name)
    except (WorkspaceError, UnknownNameError):
        return None
    doc = entry["state"]
    pending = len(doc.get("pending") or [])
    if action == "reset":
        return (f"it will clear last_fire ({doc.get('last_fire') or 'none'}), last_event_key "
                f"({doc.get('last_event_key') or 'none'}), the hold ({doc.get('held_on') or 'none'}), "
                f"{pending} pending fire(s), and set the user state back to the config's; "
                "it keeps the idempotency keys of emitted fires")
    if action == "skip-to-now":
        return (f"it will forget {pending} pending fire(s) and every fire missed since last_fire "
                f"({doc.get('last_fire') or 'none'}) before catch-up runs")
    if action == "replay":
        return "it will clear the idempotency keys of fires at or after --from and fire them again"
    if action == "init":
        return f"it will replace the user state {json.dumps(doc.get('user') or {})}; nothing else"
    return None
