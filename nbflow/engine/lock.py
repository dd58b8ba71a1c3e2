"""One engine per workspace: an exclusive ``flock`` on ``engine.lock`` (released by the OS when
the engine dies, even by ``kill -9``)."""

from __future__ import annotations

import fcntl
import os

from ..errors import WorkspaceError
from ..workspace import Workspace


class EngineLock:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.ws.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.read(fd, 64).decode().strip() or "unknown"
            finally:
                os.close(fd)
            raise WorkspaceError(
                f"another engine (pid {holder}) is already running on workspace {self.ws.home}; "
                f"stop it first, or use another --home") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


def engine_running(ws: Workspace) -> bool:
    """True while some process holds the workspace's engine lock."""
    try:
        fd = os.open(ws.lock_path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
