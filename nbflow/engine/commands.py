"""Commands from the inbox: one handler per ``op``, registered in one place.

A command is applied, its rows committed, and only then is its file deleted: a crash in
between replays it, and the idempotency key (the event key an emitter chose, the command id)
makes the replay a no-op.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .. import inbox
from ..errors import NbflowError
from ..store.writer import now_us

Handler = Callable[[Any, dict[str, Any]], Awaitable[None] | None]
HANDLERS: dict[str, Handler] = {}


def handler(op: str):
    def register(fn: Handler) -> Handler:
        HANDLERS[op] = fn
        return fn

    return register


@handler("emit")
def _emit(engine, cmd: dict[str, Any]) -> None:
    key = cmd.get("event_key")
    if key and key in engine._known_keys:
        return  # replay after a crash between commit and delete
    etype = engine.event_type(cmd["event_type"])
    engine.create_event(etype, cmd.get("values") or {}, source=cmd.get("source") or "user",
                        event_key=key, parent_run_id=cmd.get("parent_run_id"),
                        command_id=cmd.get("id"))


@handler("publish")
def _publish(engine, cmd: dict[str, Any]) -> None:
    path = Path(cmd["path"])
    if not path.resolve().is_relative_to(engine.ws.artifacts.resolve()):
        raise NbflowError(f"artifact path {str(path)!r} is outside the workspace's artifacts")
    engine.add_artifact(cmd.get("run_id"), cmd.get("event_key"), cmd["name"], cmd["kind"],
                        str(path), cmd.get("size_bytes"))


def _known(engine, keys: list[str]) -> set[str]:
    """Which of ``keys`` the history already holds (a replayed inbox file)."""
    if not keys:
        return set()
    placeholders = ", ".join("?" for _ in keys)
    rows = engine.query(f"SELECT event_key FROM event_log WHERE event_key IN ({placeholders})",
                        keys).fetchall()
    return {r[0] for r in rows}


async def apply_inbox(engine) -> int:
    """Apply every command waiting in the inbox, in order; returns how many were applied."""
    if engine._inbox_busy:
        return 0
    engine._wakes_listed = engine._wakes
    files = list(inbox.pending(engine.ws))
    if not files:
        return 0
    engine._inbox_busy = True
    try:
        commands: list[tuple[Path, dict[str, Any] | None, str | None]] = []
        for path in files:
            try:
                commands.append((path, inbox.read_command(path), None))
            except FileNotFoundError:
                continue
            except (OSError, ValueError) as exc:
                commands.append((path, None, str(exc)))
        keys = [c.get("event_key") for _, c, _ in commands if c and c.get("op") == "emit" and c.get("event_key")]
        engine._known_keys |= _known(engine, [k for k in keys if k not in engine._known_keys])
        done: list[Path] = []
        for path, cmd, error in commands:
            if error is None:
                try:
                    fn = HANDLERS.get(cmd["op"])
                    if fn is None:
                        raise NbflowError(f"unknown op {cmd['op']!r}; known: {', '.join(sorted(HANDLERS))}")
                    result = fn(engine, cmd)
                    if result is not None:
                        await result
                    done.append(path)
                    continue
                except (NbflowError, KeyError, TypeError, ValueError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
            _reject(engine, path, error)
        if done:
            await engine.writer.durable()
            for path in done:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        return len(done)
    finally:
        engine._inbox_busy = False


def _reject(engine, path: Path, reason: str) -> None:
    try:
        content = path.read_bytes()[:10_000].decode("utf-8", "replace")
    except OSError:
        content = None
    engine.writer.append("inbox_rejects", (path.name, reason, now_us(), content))
    try:
        inbox.reject(engine.ws, path, reason)
    except FileNotFoundError:
        pass


async def apply_now(engine, cmd: dict[str, Any]) -> Any:
    """Apply one command that arrived over the socket (not through a file); what an async
    handler returned (a control action's summary), once its rows are committed."""
    fn = HANDLERS.get(cmd.get("op", ""))
    if fn is None:
        raise NbflowError(f"unknown op {cmd.get('op')!r}; known: {', '.join(sorted(HANDLERS))}")
    result = fn(engine, cmd)
    if result is not None:
        result = await result
    await engine.writer.durable()
    return result

