"""Helpers shared by the generator and deadline tests (this module holds no tests)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

import nbflow

from conftest import write_config


@contextmanager
def engine(tmp_path: Path, text: str, name: str = "gen.yaml") -> Iterator[nbflow.Handle]:
    """An engine on ``tmp_path/home`` running the config ``text``, stopped on exit."""
    config = write_config(tmp_path, text, name)
    handle = nbflow.start(config, home=tmp_path / "home")
    try:
        yield handle
    finally:
        handle.stop()


def rows(handle, sql: str, params: list | None = None) -> list[tuple]:
    """The committed rows of ``sql`` through a running engine's handle."""
    frame = handle.sql(sql, params)
    return [tuple(None if _isnull(v) else v for v in row) for row in frame.itertuples(index=False, name=None)]


def _isnull(value) -> bool:
    try:
        return value != value or value is None or str(value) == "NaT"
    except (TypeError, ValueError):
        return False


def wait_rows(handle, sql: str, count: int, timeout: float, params: list | None = None) -> list[tuple]:
    """Poll ``sql`` until it returns at least ``count`` rows; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = rows(handle, sql, params)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {len(found)} of {count} rows for {sql}")
        time.sleep(0.05)


def history(tmp_path: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of ``sql`` from the history file, read-only (no engine running)."""
    con = duckdb.connect(str(tmp_path / "home" / "history.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def ticks(tmp_path: Path, generator: str) -> list[dict]:
    """The tick log of ``generator`` (bare name), oldest first, as dicts."""
    cols = ["tick_id", "at", "fire_time", "trigger", "outcome", "reason", "event_key", "idempotency_key"]
    quoted = ", ".join(f'"{c}"' for c in cols)
    found = history(tmp_path, f"SELECT {quoted} FROM generator_ticks WHERE generator = ? ORDER BY tick_id",
                    [generator])
    return [dict(zip(cols, r, strict=True)) for r in found]
