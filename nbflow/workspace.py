"""The workspace: the folder holding a config's history, artifacts, inbox, lock and socket.

Resolved from ``--home``, else ``$NBFLOW_HOME``, else ``.nbflow/`` beside the first config.
Light on purpose: task processes import it on every ``nbflow emit``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import WorkspaceError

HOME_ENV = "NBFLOW_HOME"


@dataclass(frozen=True)
class Workspace:
    """Paths inside one workspace folder; nothing is created until ``ensure()``."""

    home: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike | None = None, configs: list[str] | None = None,
                must_exist: bool = False) -> Workspace:
        """The workspace from ``home``, ``$NBFLOW_HOME``, or beside the first config."""
        if home:
            path = Path(home)
        elif os.environ.get(HOME_ENV):
            path = Path(os.environ[HOME_ENV])
        elif configs:
            first = Path(configs[0])
            path = (first if first.is_dir() else first.parent) / ".nbflow"
        else:
            raise WorkspaceError(
                "no workspace: pass --home DIR, set $NBFLOW_HOME, or give a config file "
                "(the workspace is then .nbflow/ beside it)")
        path = path.expanduser().resolve()
        if must_exist and not path.is_dir():
            raise WorkspaceError(f"workspace {path} does not exist (has an engine ever run there?)")
        return cls(path)

    @property
    def db_path(self) -> Path:
        return self.home / "history.duckdb"

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def rejected(self) -> Path:
        return self.home / "inbox" / "rejected"

    @property
    def artifacts(self) -> Path:
        return self.home / "artifacts"

    @property
    def work(self) -> Path:
        return self.home / "work"

    @property
    def logs(self) -> Path:
        """Where process runs' stdout and stderr go: one folder per day, files named by run."""
        return self.home / "logs"

    @property
    def lock_path(self) -> Path:
        return self.home / "engine.lock"

    @property
    def address_path(self) -> Path:
        """A file naming the engine's socket (the socket may live elsewhere if the path is long)."""
        return self.home / "engine.addr"

    @property
    def types_path(self) -> Path:
        """The event types the workspace last ran with, for validating emits without a config."""
        return self.home / "types.json"

    def workdir(self, event_key: str) -> Path:
        return self.work / event_key

    def run_dir(self, event_key: str, flow: str, task: str, attempt: int) -> Path:
        """A run's folder for the files it publishes (made on the first publish)."""
        return self.artifacts / event_key / f"{flow}.{task}.{attempt}"

    def log_dir(self, event_key: str) -> Path:
        """The day folder (the event's creation day, UTC) of its runs' stdout and stderr.

        One shared folder rather than a folder per run or per event: creating a file in a
        new directory cost 0.2-0.4 ms of kernel time on the ext4 disks we measured, in an
        existing one ~10-25 us (benchmarks/README.md, OS-command tasks).
        """
        day = event_key[:8]
        if len(day) == 8 and day.isdigit():
            return self.logs / f"{day[:4]}-{day[4:6]}-{day[6:]}"
        return self.logs / "other"

    def ensure(self) -> Workspace:
        for p in (self.home, self.inbox, self.rejected, self.artifacts, self.work, self.logs):
            p.mkdir(parents=True, exist_ok=True)
        return self

    def read_types(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.types_path.read_text())
        except FileNotFoundError:
            return None
