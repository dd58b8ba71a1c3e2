"""``nbflow sql QUERY``: through the running engine's socket, else the DuckDB file read-only."""

from __future__ import annotations

from ..errors import EngineNotRunning, NbflowError, WorkspaceError
from ._common import print_table, workspace


def query(ws, sql: str) -> tuple[list[str], list[list]]:
    """Columns and rows of ``sql`` on ``ws``'s history, with or without an engine running."""
    from .. import client

    try:
        result = client.request(ws, {"op": "sql", "query": sql})
        return result["columns"], result["rows"]
    except EngineNotRunning:
        pass
    if not ws.db_path.exists():
        raise WorkspaceError(f"workspace {ws.home} has no history yet (no engine has run there)")
    import duckdb

    from ..engine.store_open import connect

    con = connect(ws, read_only=True)
    try:
        cur = con.execute(sql)
        columns = [d[0] for d in cur.description] if cur.description else []
        return columns, cur.fetchall()
    except duckdb.Error as exc:
        raise NbflowError(f"query failed: {exc}") from None
    finally:
        con.close()


def run(args) -> int:
    ws = workspace(args, must_exist=True)
    columns, rows = query(ws, args.query)
    print_table(columns, rows, args.format)
    return 0
