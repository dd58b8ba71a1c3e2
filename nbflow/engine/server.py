"""The engine's Unix socket: queries and control commands that need an answer.

One JSON object per line in, one JSON object per line out (``{"ok": true, "result": ...}`` or
``{"ok": false, "error": "..."}``).  ``sql`` answers JSON rows, or with ``"format": "arrow"`` an
Arrow IPC stream (base64 in the answer's ``stream``) that keeps the columns' types.  The socket is mode 0600: only its owner gets in.  Its path
is written to ``engine.addr`` (a long workspace path gets a short socket under /tmp, since
Unix socket paths are limited to ~100 bytes).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from ..errors import NbflowError

Op = Callable[[Any, dict[str, Any]], Awaitable[Any]]
OPS: dict[str, Op] = {}
_MAX_REQUEST = 16 << 20


def op(name: str):
    def register(fn: Op) -> Op:
        OPS[name] = fn
        return fn

    return register


@op("ping")
async def _ping(engine, req):
    return {"pid": os.getpid(), "home": str(engine.ws.home)}


@op("wake")
async def _wake(engine, req):
    engine.wake_inbox()
    return True


@op("status")
async def _status(engine, req):
    return engine.status()


@op("sql")
async def _sql(engine, req):
    if req.get("format", "json") == "arrow":
        params = [_typed(p) for p in req.get("params") or ()]
        data = await trio.to_thread.run_sync(_arrow_stream, engine, req["query"], params)
        return {"format": "arrow", "stream": base64.b64encode(data).decode("ascii")}
    if req.get("format", "json") != "json":
        raise ValueError(f"sql: unknown format {req['format']!r}; formats: json, arrow")
    columns, rows = await engine.sql(req["query"], req.get("params"))
    return {"columns": columns, "rows": [[_jsonable(v) for v in row] for row in rows]}


def _typed(value: Any) -> Any:
    """A query parameter as ``nbflow.client`` sent it: datetimes and dates travel tagged."""
    from datetime import date, datetime

    from ..client import TYPED

    if isinstance(value, dict) and set(value) == {TYPED, "value"}:
        kind = value[TYPED]
        if kind == "datetime":
            return datetime.fromisoformat(value["value"])
        if kind == "date":
            return date.fromisoformat(value["value"])
        raise ValueError(f"sql: unknown parameter type {kind!r}; types: datetime, date")
    return value


def _arrow_stream(engine, query: str, params: list | None) -> bytes:
    """The result of ``query`` as an Arrow IPC stream: every type survives the trip (times
    with their zone, NULLs, integers), which JSON's strings and floats do not."""
    import pyarrow as pa

    cursor = engine.con.cursor()      # a fresh cursor per query: this runs in a worker thread
    try:
        relation = cursor.sql(query, params=params or None)
        table = relation.to_arrow_table() if relation is not None else pa.table({})
    finally:
        cursor.close()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


@op("command")
async def _command(engine, req):
    from .commands import apply_now

    result = await apply_now(engine, req["command"])
    return True if result is None else result


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def socket_path_for(home: Path) -> Path:
    path = home / "engine.sock"
    if len(os.fsencode(path)) < 100:
        return path
    short = Path(tempfile.gettempdir()) / f"nbflow-{os.getuid()}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short / (hashlib.sha1(os.fsencode(home)).hexdigest()[:16] + ".sock")


async def _handle(engine, stream: trio.SocketStream) -> None:
    buf = b""
    async with stream:
        while b"\n" not in buf:
            chunk = await stream.receive_some(1 << 16)
            if not chunk:
                return
            buf += chunk
            if len(buf) > _MAX_REQUEST:
                return
        line = buf.split(b"\n", 1)[0]
        try:
            req = json.loads(line)
            fn = OPS.get(req.get("op"))
            if fn is None:
                raise NbflowError(f"unknown op {req.get('op')!r}; known: {', '.join(sorted(OPS))}")
            answer = {"ok": True, "result": await fn(engine, req)}
        except (NbflowError, KeyError, ValueError, TypeError) as exc:
            answer = {"ok": False, "error": str(exc), "kind": type(exc).__name__}
        except Exception as exc:  # a query error from DuckDB, for instance
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "kind": type(exc).__name__}
        try:
            await stream.send_all(json.dumps(answer, default=str).encode() + b"\n")
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


async def serve(engine, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    path = socket_path_for(engine.ws.home)
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        await sock.bind(str(path))
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    sock.listen(64)
    listener = trio.SocketListener(sock)
    engine.ws.address_path.write_text(str(path))
    try:
        async with trio.open_nursery() as nursery:
            task_status.started(path)
            while True:
                stream = await listener.accept()
                nursery.start_soon(_handle, engine, stream)
    finally:
        with trio.CancelScope(shield=True):
            await listener.aclose()
        for p in (path, engine.ws.address_path):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
