"""Cancel requests written ahead: what a control action asked of a running attempt, durable
before its process is signalled, so that a crash cannot undo an acknowledged cancel.

A running attempt is cancelled in two steps: the request (SIGTERM, then SIGKILL after
``kill_grace``), and the run's end once its process is gone, when the ``cancelled`` row (and a
skip's ``skipped`` row, a ``pause --cancel-running``'s ``retried`` row) is written as before.
Between the two the engine may die.  So the request is one more row, written first: action
``cancelling``, at event level (``flow``, ``task`` and ``target`` NULL: the ``events`` and
``task_runs`` views, subscriptions, holds and the rows of the action itself do not see it),
``run_id`` the attempt's, ``actor`` who asked, ``detail`` a JSON object that holds all the
row's fold needs (so recovery reads it with the other columns it folds)::

    {"run_id": "KEY/flow.task#N", "then": "cancelled" | "skipped" | "requeued",
     "reason": str | null, "actor": "cli", "target": "event:..."}

Recovery (``engine/recovery.py``) ends a run left ``invoked`` behind such a row the way the
live path would have: ``cancelled``, then ``skipped`` on the next run number, or queued again
(``retried``) and held by the pause; no ``lost``, no retry.  Light: no trio, no duckdb.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

#: The action of a write-ahead cancel request (never subscribable: not a ``STAGE_ACTIONS`` one).
ACTION = "cancelling"
#: What becomes of the task once the run is gone.
THEN = ("cancelled", "skipped", "requeued")
#: The ``retried`` detail of a task queued again by ``pause --cancel-running``.
REQUEUED = "queued again: paused with --cancel-running"


@dataclass(frozen=True)
class CancelRequest:
    """A ``cancelling`` row as recovery reads it."""

    run_id: str
    then: str
    reason: str | None
    actor: str | None
    target: str | None

    def detail(self) -> str:
        """The ``detail`` of the row."""
        return json.dumps({"run_id": self.run_id, "then": self.then, "reason": self.reason,
                           "actor": self.actor, "target": self.target})

    @classmethod
    def read(cls, detail: str | None) -> CancelRequest | None:
        """The request a ``cancelling`` row's detail holds; None for one this nbflow cannot
        read."""
        try:
            doc = json.loads(detail or "")
        except ValueError:
            return None
        if not isinstance(doc, dict) or doc.get("then") not in THEN or not doc.get("run_id"):
            return None
        return cls(str(doc["run_id"]), doc["then"], doc.get("reason"), doc.get("actor"),
                   doc.get("target"))

    def ended_detail(self) -> str:
        """The ``detail`` of the run's ``cancelled`` row, as the live path writes it."""
        if self.then == "requeued":
            return self.reason or "paused"
        return self.reason or f"cancelled: {self.then} by {self.actor or 'user'}"
