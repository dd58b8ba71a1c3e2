"""The inbox: commands from other processes, one JSON file each, durable before any engine runs.

Producers write a temp file and rename it into ``inbox/`` (atomic on POSIX), then nudge the
engine's socket if one answers. The engine applies a command, commits, and only then deletes
the file; a file it cannot read is moved to ``inbox/rejected/`` with its reason.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .workspace import Workspace


def write_command(ws: Workspace, command: dict[str, Any]) -> Path:
    """Queue ``command`` durably in the workspace's inbox; returns the file's path."""
    ws.inbox.mkdir(parents=True, exist_ok=True)
    command.setdefault("id", f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(4).hex()}")
    command.setdefault("queued_at", time.time())
    final = ws.inbox / f"{command['id']}.json"
    tmp = ws.inbox / f".{command['id']}.tmp"
    data = json.dumps(command, default=str).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, final)
    return final


def pending(ws: Workspace) -> Iterator[Path]:
    """Inbox files in the order they were queued (their names start with the time)."""
    try:
        names = sorted(n for n in os.listdir(ws.inbox) if n.endswith(".json"))
    except FileNotFoundError:
        return
    for name in names:
        yield ws.inbox / name


def read_command(path: Path) -> dict[str, Any]:
    """The command in ``path``; ``ValueError`` saying why it cannot be used."""
    try:
        command = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a JSON command: {exc}") from None
    if not isinstance(command, dict) or not isinstance(command.get("op"), str):
        raise ValueError("a command must be a JSON object with an 'op'")
    command.setdefault("id", path.stem)
    return command


def reject(ws: Workspace, path: Path, reason: str) -> Path:
    """Move an unusable inbox file aside, with its reason beside it."""
    ws.rejected.mkdir(parents=True, exist_ok=True)
    target = ws.rejected / path.name
    os.replace(path, target)
    target.with_suffix(".reason.txt").write_text(reason + "\n")
    return target
