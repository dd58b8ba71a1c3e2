"""Identifiers: event keys (unique, sortable by creation time) and task run ids."""

from __future__ import annotations

import os
import time

_last = 0


def new_event_key() -> str:
    """``20261204T155959.123456-3f9a1c``: UTC time to the microsecond, then random bits.

    Sortable by creation time across processes; the random part keeps keys from concurrent
    emitters (20 ``nbflow emit`` processes in the same microsecond) apart.
    """
    global _last
    now = time.time_ns() // 1000
    if now <= _last:  # same process, same microsecond: keep keys strictly increasing
        now = _last + 1
    _last = now
    secs, micros = divmod(now, 1_000_000)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(secs))
    return f"{stamp}.{micros:06d}-{os.urandom(3).hex()}"


def run_id(event_key: str, flow: str, task: str, attempt: int) -> str:
    """The id of one attempt of one task for one event; tasks see it as ``NBFLOW_RUN_ID``."""
    return f"{event_key}/{flow}.{task}#{attempt}"


def parse_run_id(run_id: str) -> tuple[str, str, str, int]:
    """``(event_key, flow, task, attempt)`` from a run id."""
    event_key, rest = run_id.split("/", 1)
    flow_task, attempt = rest.rsplit("#", 1)
    flow, task = flow_task.split(".", 1)
    return event_key, flow, task, int(attempt)
