"""The history writer: rows are buffered in memory and committed in one transaction per tick.

A single DuckDB ``INSERT`` costs ~1 ms whatever its size, while ``INSERT ... SELECT`` from an
Arrow table costs ~1 µs a row: so rows wait in plain lists, and one background job turns
everything pending into Arrow tables and commits them together, in a worker thread so the
engine's loop keeps going.  Whatever was appended while a flush ran goes into the next one.

Callers that must not act before their rows are durable (deleting an inbox file, starting a
process whose run must never be lost, answering a caller) ``await durable(seq)``.
"""

from __future__ import annotations

import time

import pyarrow as pa
import trio

_TS = pa.timestamp("us", tz="UTC")

#: table -> ordered (column, arrow type) of the rows the engine appends.
TABLES: dict[str, list[tuple[str, pa.DataType]]] = {
    "event_log": [("event_key", pa.string()), ("event_type", pa.string()), ("label", pa.string()),
                  ("vals", pa.string()), ("source", pa.string()), ("generator", pa.string()),
                  ("parent_run_id", pa.string()), ("cause", pa.string()), ("created_at", _TS),
                  ("command_id", pa.string())],
    "stages": [("stage_id", pa.int64()), ("event_key", pa.string()), ("flow", pa.string()),
               ("task", pa.string()), ("run", pa.int32()), ("action", pa.string()), ("at", _TS),
               ("detail", pa.string()), ("run_id", pa.string()), ("exit_code", pa.int32()),
               ("actor", pa.string()), ("target", pa.string())],
    "artifacts": [("artifact_id", pa.int64()), ("run_id", pa.string()), ("event_key", pa.string()),
                  ("name", pa.string()), ("kind", pa.string()), ("path", pa.string()),
                  ("size_bytes", pa.int64()), ("created_at", _TS)],
    "inbox_rejects": [("file", pa.string()), ("reason", pa.string()), ("rejected_at", _TS),
                      ("content", pa.string())],
    "generator_state": [("event_type", pa.string()), ("name", pa.string()), ("state", pa.string()),
                        ("status", pa.string()), ("updated_at", _TS), ("actor", pa.string()),
                        ("reason", pa.string())],
    "generator_ticks": [("tick_id", pa.int64()), ("event_type", pa.string()), ("generator", pa.string()),
                        ("at", _TS), ("fire_time", _TS), ("trigger", pa.string()), ("outcome", pa.string()),
                        ("reason", pa.string()), ("event_key", pa.string()),
                        ("idempotency_key", pa.string())],
}


def now_us() -> int:
    """Wall-clock time in microseconds since the epoch: how times are buffered."""
    return time.time_ns() // 1000


class HistoryWriter:
    """Buffers rows per table and commits them in batches from one background job."""

    #: Least time between two commits while nobody waits for one: rows of a burst share a
    #: transaction (a commit costs ~1-3 ms of CPU whatever its size).
    TICK = 0.05

    def __init__(self, con) -> None:
        self._con = con
        self._urgent = trio.Event()
        self._waiting = 0        # callers inside durable(): they cut the tick short
        self._last_flush = -1e9
        self._rows: dict[str, list[tuple]] = {t: [] for t in TABLES}
        self._appended = 0       # rows appended so far (a sequence number)
        self._committed = 0      # rows known durable
        self._wakeup = trio.Event()
        self._flushed = trio.Event()
        self._closed = False
        self.flushes = 0
        self.rows_written = 0

    # -- appending (on the engine's loop; cheap, never blocks) ---------------------------------
    def append(self, table: str, row: tuple) -> int:
        """Buffer one row of ``table``; returns the sequence number to pass to ``durable``."""
        self._rows[table].append(row)
        self._appended += 1
        self._wakeup.set()
        return self._appended

    @property
    def pending(self) -> int:
        return self._appended - self._committed

    async def durable(self, seq: int | None = None) -> None:
        """Return once rows up to ``seq`` (default: all appended so far) are committed."""
        target = self._appended if seq is None else seq
        if self._committed >= target:
            return
        self._waiting += 1
        self._urgent.set()
        try:
            while self._committed < target:
                if self._closed:
                    raise trio.ClosedResourceError("the history writer is closed")
                await self._flushed.wait()
        finally:
            self._waiting -= 1

    # -- the background job --------------------------------------------------------------------
    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Flush whatever is pending, for ever; a final flush happens on cancellation."""
        task_status.started()
        try:
            while True:
                await self._wakeup.wait()
                if not self._waiting:
                    with trio.move_on_at(self._last_flush + self.TICK):
                        await self._urgent.wait()
                self._wakeup = trio.Event()
                self._urgent = trio.Event()
                await self._flush()
                self._last_flush = trio.current_time()
        finally:
            with trio.CancelScope(shield=True):
                await self._flush()
                self._closed = True
                self._flushed.set()

    async def _flush(self) -> None:
        if self._committed == self._appended:
            return
        batch, self._rows = self._rows, {t: [] for t in TABLES}
        upto = self._appended
        # Shielded: the batch is already out of the buffer, and to_thread checks for a cancel
        # before it starts; a stop landing here would silently drop these rows.
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(self._commit, batch)
        self.flushes += 1
        self.rows_written += upto - self._committed
        self._committed = upto
        flushed, self._flushed = self._flushed, trio.Event()
        flushed.set()

    def _commit(self, batch: dict[str, list[tuple]]) -> None:
        con = self._con
        con.execute("BEGIN")
        try:
            for table, rows in batch.items():
                if rows:
                    # from_arrow(...).insert_into is ~4x cheaper than register + INSERT ... SELECT
                    con.from_arrow(to_arrow(table, rows)).insert_into(table)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def flush_sync(self) -> None:
        """Commit everything pending now, from the calling thread (start-up and shutdown only)."""
        batch, self._rows = self._rows, {t: [] for t in TABLES}
        if any(batch.values()):
            self._commit(batch)
        self._committed = self._appended


def to_arrow(table: str, rows: list[tuple]) -> pa.Table:
    """``rows`` (tuples in ``TABLES[table]`` order) as an Arrow table."""
    schema = TABLES[table]
    columns = list(zip(*rows))
    return pa.table({name: pa.array(col, type=typ) for (name, typ), col in zip(schema, columns)})
