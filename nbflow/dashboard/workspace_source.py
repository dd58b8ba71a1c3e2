"""A workspace seen from another process: the dashboard of an engine that ``nbflow run`` runs
(in a terminal, under systemd or cron), or of one that does not run at the moment.

While an engine runs there, everything goes through its Unix socket: SQL answered as an Arrow
stream (types survive: aware datetimes, NULLs, integers), its live status, and control
commands answered once committed.  With no engine, history is read from the DuckDB file
through a read-only connection opened for one query and closed at once - a held connection
would keep an engine from starting on the workspace - status is empty, and commands are
queued in the inbox, where the next engine to start applies them.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import client
from ..errors import EngineNotRunning, NbflowError, UnknownNameError, WorkspaceError
from ..workspace import Workspace
from .recorded_config import latest, load_recorded
from .source import arrow_records

#: How long a read waits for a history file locked by an engine that is starting or stopping.
READ_WAIT = 10.0
#: A ping answers in a millisecond; longer means a stuck engine, not a stopped one.
PING_TIMEOUT = 2.0


def empty_status(home: Path) -> dict[str, Any]:
    """``engine.status()``'s shape when no engine runs: nothing active, nothing running."""
    return {"home": str(home), "pid": None, "max_parallel": 0, "running": 0, "paused_types": {},
            "pauses": [], "events": [], "counts": {}}


class WorkspaceSource:
    """The dashboard's ``Source`` surface over the workspace ``home``, whether an engine runs
    there (in another process) or not.  ``NbflowError`` when the workspace has no history."""

    #: The dashboard outlives the engines it sees: one may stop, and another start, meanwhile.
    detached = True

    def __init__(self, home: str | os.PathLike[str]) -> None:
        self.ws = Workspace.resolve(home, must_exist=True)
        self.engine: dict[str, Any] | None = None     # the engine's last ping answer
        self._recorded = None
        self._config = None
        self.reload_config()

    def __repr__(self) -> str:
        return f"<nbflow WorkspaceSource {self.ws.home} ({'engine running' if self.engine else 'no engine'})>"

    # -- the surface models use ---------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return self.ws.home

    @property
    def config(self):
        """The config the workspace last ran with (see ``recorded_config``)."""
        return self._config

    @property
    def running(self) -> bool:
        """Whether an engine answers on the workspace's socket now (one ping, no SQL)."""
        return self.ping() is not None

    def sql(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a parameterized query on the history: through the engine, else the file."""
        return arrow_records(self.table(query, params))

    def status(self) -> dict[str, Any]:
        """The engine's live status; an empty one (no active event) when no engine runs."""
        try:
            return client.request(self.ws, {"op": "status"}, timeout=10.0)
        except EngineNotRunning:
            self.engine = None
            return empty_status(self.ws.home)

    def command(self, command: dict[str, Any]) -> Any:
        """Apply a control command through the engine (answered once committed); with no engine,
        queue it in the inbox and say so (``queued``: the file; ``summary``: in words)."""
        try:
            return client.request(self.ws, {"op": "command", "command": command}, timeout=300.0)
        except client.NoAnswer as exc:
            raise NbflowError(f"{exc}: the command may or may not have been applied; look at the "
                              "history before sending it again") from None
        except EngineNotRunning:
            self.engine = None
            return self._queue(dict(command))

    # -- the engine ---------------------------------------------------------------------------------
    def ping(self) -> dict[str, Any] | None:
        """The running engine's ``{"pid", "home"}``, or None; no socket file means no engine,
        without even connecting."""
        if not self.ws.address_path.exists():
            self.engine = None
            return None
        try:
            self.engine = client.request(self.ws, {"op": "ping"}, timeout=PING_TIMEOUT)
        except EngineNotRunning:
            self.engine = None
        except (OSError, ValueError):       # it accepted but did not answer in time: busy, alive
            self.engine = self.engine or {"pid": None, "home": str(self.ws.home)}
        return self.engine

    def reload_config(self) -> bool:
        """Re-read which config the workspace last ran with; True when it changed (an engine
        started with another one)."""
        recorded = latest(self.sql) if self._has_history() else None
        if recorded is None:
            raise WorkspaceError(
                f"workspace {self.ws.home} has no history yet: no engine has run there "
                f"(start one: nbflow run CONFIG --home {self.ws.home})")
        if self._recorded is not None and recorded.config_id == self._recorded.config_id:
            return False
        self._config = load_recorded(recorded, self.ws.home)
        self._recorded = recorded
        return True

    def _has_history(self) -> bool:
        return self.ws.db_path.exists() or self.ws.address_path.exists()

    # -- reading --------------------------------------------------------------------------------------
    def table(self, query: str, params: Sequence[Any] = ()):
        """The result of ``query`` as a ``pyarrow.Table``, from the engine or the file.

        An engine that is starting or stopping holds the file before its socket answers (or
        after it went): such a read tries both again for up to ``READ_WAIT`` seconds."""
        deadline = time.monotonic() + READ_WAIT
        while True:
            try:
                table = client.sql_arrow(self.ws, query, params)
                self.engine = self.engine or {"pid": None, "home": str(self.ws.home)}
                return table
            except EngineNotRunning:       # NoAnswer too: a read is safe to repeat
                self.engine = None
            table = self._read_file(query, params)
            if table is not None:
                return table
            if time.monotonic() > deadline:
                raise WorkspaceError(
                    f"the history of {self.ws.home} stayed locked for {READ_WAIT:.0f} s while no engine "
                    f"answered on its socket: is an engine starting there?")
            time.sleep(0.05)

    def _read_file(self, query: str, params: Sequence[Any]):
        """One read-only connection for one query, closed at once; None while the file is locked."""
        import duckdb
        import pyarrow as pa

        from ..engine.store_open import connect

        if not self.ws.db_path.exists():
            raise WorkspaceError(f"workspace {self.ws.home} has no history yet (no engine has run there)")
        try:
            con = connect(self.ws, read_only=True, wait=0)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                return None
            raise WorkspaceError(f"cannot read the history of {self.ws.home}: {exc}") from None
        try:
            relation = con.sql(query, params=list(params) or None)
            return relation.to_arrow_table() if relation is not None else pa.table({})
        except duckdb.Error as exc:
            raise NbflowError(f"query failed: {exc}") from None
        finally:
            con.close()

    def history_stamp(self) -> tuple:
        """Size and modification time of the history file and its WAL (a ``stat``, never an
        open): what changes when an engine wrote to it."""
        stamp = []
        for path in (self.ws.db_path, self.ws.db_path.with_name(self.ws.db_path.name + ".wal")):
            try:
                st = path.stat()
                stamp.append((st.st_size, st.st_mtime_ns))
            except FileNotFoundError:
                stamp.append(None)
        return tuple(stamp)

    # -- the inbox ------------------------------------------------------------------------------------
    def queued(self) -> int:
        """Commands waiting in the inbox for an engine to start."""
        from ..inbox import pending

        return sum(1 for _ in pending(self.ws))

    def _queue(self, command: dict[str, Any]) -> dict[str, Any]:
        from .. import inbox

        self._check_offline(command)
        path = inbox.write_command(self.ws, command)
        client.wake(self.ws)       # an engine that started meanwhile applies it now
        what = (f"{command['op']} {command['target']}" if "target" in command
                else f"generator {command.get('action')} {command.get('name')}")
        at = dt.datetime.now().strftime("%H:%M:%S")
        return {"queued": str(path), "summary": (
            f"no engine runs on {self.ws.home}: {what} is queued in the inbox ({path.name}, {at}); "
            f"the next engine to start there applies it")}

    def _check_offline(self, command: dict[str, Any]) -> None:
        """Refuse what history and the config can tell is wrong now, not at the next start."""
        if command.get("op") == "generator":
            self.config.find_generator(str(command.get("name")))     # UnknownNameError lists them
            return
        target = str(command.get("target") or "")
        if target.startswith("event:"):
            key = target[len("event:"):].split("/", 1)[0]
            if not self.sql("SELECT 1 AS found FROM event_log WHERE event_key = ?", [key]):
                raise UnknownNameError(f"no event {key!r} in the history of {self.ws.home}")
        elif target.startswith("type:"):
            self.config.event_type(target[len("type:"):])
