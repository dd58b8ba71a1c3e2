"""Talking to a running engine over its Unix socket: one JSON request, one JSON answer.

Light on purpose (socket and json only): ``nbflow emit`` nudges the engine through it.
``sql_arrow`` imports pyarrow when it is called, never at import.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Sequence
from typing import Any

from .errors import ControlError, EngineNotRunning, NbflowError, UnknownNameError
from .workspace import Workspace

#: The key that marks a typed query parameter (a datetime or date) in a JSON request.
TYPED = "$nbflow_type"
#: Errors the engine reports by kind that keep their class on this side.
_ERRORS = {"ControlError": ControlError, "UnknownNameError": UnknownNameError}


def socket_path(ws: Workspace) -> str | None:
    try:
        return ws.address_path.read_text().strip() or None
    except FileNotFoundError:
        return None


class NoAnswer(EngineNotRunning):
    """The engine took the request but closed the connection before answering (it stopped
    meanwhile): unlike a refused connection, the request may or may not have been applied."""


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
        raise NoAnswer(f"the engine on {ws.home} closed the connection without answering")
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


def _typed_param(value: Any) -> Any:
    # JSON has no time: a datetime would arrive as text, and ``SELECT ?`` would answer text
    if isinstance(value, dt.datetime):
        return {TYPED: "datetime", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {TYPED: "date", "value": value.isoformat()}
    return value


def sql_arrow(ws: Workspace, query: str, params: Sequence[Any] = (), timeout: float = 60.0):
    """``query`` (with ``?`` parameters) on the history, through the running engine, as a
    ``pyarrow.Table``: the columns keep their types (aware timestamps, NULLs, integers) where
    the JSON ``sql`` op turns them into text.  ``EngineNotRunning`` when no engine runs."""
    import base64

    import pyarrow as pa

    answer = request(ws, {"op": "sql", "format": "arrow", "query": query,
                          "params": [_typed_param(p) for p in params]}, timeout=timeout)
    if not isinstance(answer, dict) or answer.get("format") != "arrow":
        raise NbflowError(f"the engine on {ws.home} does not answer SQL as Arrow (an older nbflow?): "
                          "restart it with this version")
    with pa.ipc.open_stream(base64.b64decode(answer["stream"])) as reader:
        return reader.read_all()
