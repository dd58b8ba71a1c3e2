"""Opening a workspace's history for the engine: migrate, and record the config it runs."""

from __future__ import annotations

import hashlib
import json
import os
import time

from ..spec.model import Config
from ..spec.serialize import types_to_json
from ..store.schema import create_type_views, migrate
from ..workspace import Workspace


def connect(ws: Workspace, read_only: bool = False, wait: float = 10.0):
    """A DuckDB connection to the workspace's file, waiting out a reader's short-lived lock."""
    import duckdb

    deadline = time.monotonic() + wait
    while True:
        try:
            return duckdb.connect(str(ws.db_path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def open_history(ws: Workspace, config: Config):
    """The engine's connection: schema migrated, config version recorded, ``types.json`` written."""
    con = connect(ws)
    try:
        migrate(con)
        record_config(con, config)
        create_type_views(con, config.event_types)
    except BaseException:
        con.close()
        raise
    data = json.dumps(types_to_json(config.event_types), indent=1)
    tmp = ws.types_path.with_suffix(".tmp")
    tmp.write_text(data)
    os.replace(tmp, ws.types_path)
    return con


def record_config(con, config: Config) -> int:
    """Store the config's text if it differs from the last one recorded; returns its id."""
    texts = {str(k): v for k, v in config.texts.items()}
    digest = hashlib.sha256(json.dumps(texts, sort_keys=True).encode()).hexdigest()
    last = con.execute("SELECT config_id, digest FROM configs ORDER BY config_id DESC LIMIT 1").fetchone()
    if last and last[1] == digest:
        return int(last[0])
    config_id = (last[0] if last else 0) + 1
    con.execute("INSERT INTO configs VALUES (?, now(), ?, ?, ?)",
                [config_id, digest, json.dumps([str(s) for s in config.sources]), json.dumps(texts)])
    return config_id
