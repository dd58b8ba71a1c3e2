"""Talking to a running engine over its Unix socket: one JSON request, one JSON answer.

Light on purpose (socket and json only): ``nbflow emit`` nudges the engine through it.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from .errors import ControlError, EngineNotRunning, NbflowError, UnknownNameError
from .workspace import Workspace

#: Errors the engine reports by kind that keep their class on this side.
_ERRORS = {"ControlError": ControlError, "UnknownNameError": UnknownNameError}


def socket_path(ws: Workspace) -> str | None:
    try:
        return ws.address_path.read_text().strip() or None
    except FileNotFoundError:
        return None


def request(ws: Workspace, payload: dict[str, Any], timeout: float = 30.0) -> Any:
    """Send ``payload`` to the engine of ``ws``; its answer, or ``EngineNotRunning``."""
    path = socket_path(ws)
    if not path:
        raise EngineNotRunning(f"no engine is running on workspace {ws.home}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise EngineNotRunning(f"no engine is running on workspace {ws.home} ({exc.strerror})") from None
        sock.sendall(json.dumps(payload, default=str).encode() + b"\n")
        chunks = []
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                break
    finally:
        sock.close()
    if not chunks:
        raise EngineNotRunning(f"the engine on {ws.home} closed the connection without answering")
    answer = json.loads(b"".join(chunks))
    if not answer.get("ok"):
        raise _ERRORS.get(answer.get("kind"), NbflowError)(answer.get("error", "the engine refused the request"))
    return answer.get("result")


def wake(ws: Workspace) -> bool:
    """Tell a running engine to look at its inbox now; False when none answers (that's fine)."""
    try:
        request(ws, {"op": "wake"}, timeout=2.0)
        return True
    except (EngineNotRunning, OSError, NbflowError, ValueError):
        return False
