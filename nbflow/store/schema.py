"""The history schema (public: users write SQL against it) and its migrations.

Tables are append-only logs; ``events`` and ``task_runs`` are views that fold the
``stages`` log into current state, so the engine only ever inserts (fast, batchable) and
the log stays the single source of truth.  ``schema_version`` holds one row per applied
migration; a file written by a newer nbflow is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import WorkspaceError

SCHEMA_VERSION = 1

_V1 = [
    """CREATE TABLE IF NOT EXISTS schema_version (
        version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS event_log (
        event_key VARCHAR NOT NULL, event_type VARCHAR NOT NULL, label VARCHAR NOT NULL,
        vals JSON NOT NULL, source VARCHAR NOT NULL, generator VARCHAR,
        parent_run_id VARCHAR, cause VARCHAR, created_at TIMESTAMPTZ NOT NULL,
        command_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS stages (
        stage_id BIGINT NOT NULL, event_key VARCHAR, flow VARCHAR, task VARCHAR,
        run INTEGER, action VARCHAR NOT NULL, "at" TIMESTAMPTZ NOT NULL, detail VARCHAR,
        run_id VARCHAR, exit_code INTEGER, actor VARCHAR, target VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS artifacts (
        artifact_id BIGINT NOT NULL, run_id VARCHAR, event_key VARCHAR, name VARCHAR NOT NULL,
        kind VARCHAR NOT NULL, path VARCHAR NOT NULL, size_bytes BIGINT,
        created_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS configs (
        config_id INTEGER NOT NULL, loaded_at TIMESTAMPTZ NOT NULL, digest VARCHAR NOT NULL,
        sources JSON, texts JSON)""",
    """CREATE TABLE IF NOT EXISTS inbox_rejects (
        file VARCHAR NOT NULL, reason VARCHAR NOT NULL, rejected_at TIMESTAMPTZ NOT NULL,
        content VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS generator_state (
        event_type VARCHAR NOT NULL, name VARCHAR NOT NULL, state JSON NOT NULL,
        status VARCHAR NOT NULL, updated_at TIMESTAMPTZ NOT NULL, actor VARCHAR, reason VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS generator_ticks (
        tick_id BIGINT NOT NULL, event_type VARCHAR NOT NULL, generator VARCHAR NOT NULL,
        "at" TIMESTAMPTZ NOT NULL, fire_time TIMESTAMPTZ, trigger VARCHAR, outcome VARCHAR NOT NULL,
        reason VARCHAR, event_key VARCHAR, idempotency_key VARCHAR)""",
    # Current state as folds of the logs.
    """CREATE OR REPLACE VIEW events AS
        WITH last AS (
            SELECT event_key, arg_max(action, stage_id) AS action, arg_max(detail, stage_id) AS detail,
                   max(CASE WHEN action = 'final' THEN "at" END) AS final_at
            FROM stages
            WHERE task IS NULL AND flow IS NULL
              AND action IN ('emitted', 'final', 'paused', 'resumed', 'skipped', 'retried', 'cancelled')
            GROUP BY event_key)
        SELECT e.event_key, e.event_type, e.label, e.vals, e.source, e.generator, e.parent_run_id,
               e.created_at,
               CASE last.action
                   WHEN 'final' THEN coalesce(last.detail, 'success')
                   WHEN 'paused' THEN 'paused'
                   WHEN 'skipped' THEN 'skipped'
                   WHEN 'cancelled' THEN 'failure'
                   ELSE 'active' END AS status,
               e.cause, last.final_at AS finished_at
        FROM event_log e LEFT JOIN last USING (event_key)""",
    """CREATE OR REPLACE VIEW task_runs AS
        SELECT run_id, any_value(event_key) AS event_key, any_value(flow) AS flow,
               any_value(task) AS task, any_value(run) AS attempt,
               CASE arg_max(action, stage_id)
                   WHEN 'invoked' THEN 'running' WHEN 'retried' THEN 'queued'
                   ELSE arg_max(action, stage_id) END AS status,
               min(CASE WHEN action = 'invoked' THEN "at" END) AS started_at,
               max(CASE WHEN action IN ('success', 'failure', 'skipped', 'cancelled') THEN "at" END)
                   AS finished_at,
               arg_max(exit_code, stage_id) FILTER (WHERE exit_code IS NOT NULL) AS exit_code,
               arg_max(detail, stage_id) AS detail
        FROM stages
        WHERE run_id IS NOT NULL
          AND action IN ('invoked', 'retried', 'success', 'failure', 'skipped', 'cancelled')
        GROUP BY run_id""",
    """CREATE OR REPLACE VIEW event_vars AS
        SELECT e.event_key, e.event_type, j.key AS var, j.value ->> '$' AS value, j.value AS json_value
        FROM event_log e, json_each(e.vals) j""",
    """CREATE OR REPLACE VIEW generators AS
        SELECT event_type || '.' || name AS qualified_name, name, event_type,
               arg_max(state, updated_at) AS state, arg_max(status, updated_at) AS status,
               max(updated_at) AS updated_at
        FROM generator_state GROUP BY event_type, name""",
]

#: version -> statements that bring a workspace from version-1 to version.
MIGRATIONS: dict[int, list[str]] = {1: _V1}


def current_version(execute: Callable[[str], list]) -> int:
    """The newest applied version, 0 for a fresh file."""
    tables = {r[0] for r in execute("SELECT table_name FROM information_schema.tables")}
    if "schema_version" not in tables:
        return 0
    row = execute("SELECT max(version) FROM schema_version")
    return int(row[0][0] or 0)


def migrate(con) -> int:
    """Bring ``con``'s database to ``SCHEMA_VERSION``; returns the version found before.

    Refuses (``WorkspaceError``) a file whose version is newer than this nbflow knows.
    """
    found = current_version(lambda q: con.execute(q).fetchall())
    if found > SCHEMA_VERSION:
        raise WorkspaceError(
            f"the history file was written by a newer nbflow (schema version {found}; this nbflow "
            f"knows up to {SCHEMA_VERSION}); upgrade nbflow to read it")
    for version in range(found + 1, SCHEMA_VERSION + 1):
        con.execute("BEGIN")
        try:
            for statement in MIGRATIONS[version]:
                con.execute(statement)
            con.execute("INSERT INTO schema_version (version) VALUES (?)", [version])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return found


def create_type_views(con, event_types) -> None:
    """One view per event type, ``events_<type>``, with a typed column per var."""
    casts = {"str": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN",
             "date": "DATE", "datetime": "TIMESTAMPTZ"}
    for et in event_types:
        cols = ", ".join(
            f"CAST(vals ->> '$.{v.name}' AS {casts[v.type]}) AS \"{v.name}\"" for v in et.vars)
        cols = (", " + cols) if cols else ""
        con.execute(
            f'CREATE OR REPLACE VIEW "events_{et.name}" AS SELECT event_key, label, status, '
            f"created_at, finished_at, source, parent_run_id{cols} FROM events "
            f"WHERE event_type = '{et.name}'")
