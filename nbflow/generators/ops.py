"""The ``generator`` command on every channel: the inbox (and ``Handle.command``), and the socket.

Inbox form (no answer): ``{"op": "generator", "action": "reset", "name": "price.us_close",
"reason": "...", "actor": "..."}``.  The socket op ``generator`` takes the same fields and
answers with the message and the state (``show`` adds the latest ticks), once the change is
committed.
"""

from __future__ import annotations

from typing import Any

from ..engine.commands import handler
from ..engine.server import op
from ..errors import NbflowError
from .actions import apply_command

#: How many of the latest ticks ``show`` returns.
SHOW_TICKS = 20


def service_of(engine):
    """The engine's generator service (``engine.generators``)."""
    svc = getattr(engine, "generators", None)
    if svc is None:
        raise NbflowError("this engine runs no generator service")
    return svc


@handler("generator")
def _inbox_generator(engine, cmd: dict[str, Any]) -> None:
    apply_command(service_of(engine), cmd)


@op("generator")
async def _socket_generator(engine, req: dict[str, Any]) -> Any:
    return await answer(engine, req)


async def answer(engine, cmd: dict[str, Any]) -> Any:
    """Apply ``cmd`` on the loop, wait for its rows to commit, add recent ticks to ``show``."""
    result = apply_command(service_of(engine), cmd)
    await engine.writer.durable()
    if cmd.get("action") == "show":
        columns, rows = await engine.sql(
            f"""SELECT tick_id, "at", fire_time, trigger, outcome, reason, event_key, idempotency_key
                FROM generator_ticks WHERE event_type = ? AND generator = ?
                ORDER BY tick_id DESC LIMIT {SHOW_TICKS}""",
            [result["event_type"], result["generator"]])
        result["ticks"] = [dict(zip(columns, (_plain(v) for v in row), strict=True)) for row in rows]
    return result


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
