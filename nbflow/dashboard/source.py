"""Where the dashboard reads and acts: a running engine's handle, behind a small surface.

Models talk to a ``Source`` only (or to a ``WorkspaceSource``: the same surface over a
workspace whose engine runs in another process, or not at all): ``sql`` for history (a fresh
DuckDB cursor per call, so the refresh thread and the kernel's thread never share one),
``status`` for what runs now, and ``command`` for control.  Rows come back as plain dicts
with ``None`` for SQL NULLs, so the models never deal with pandas' ``NaT``/``NaN``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import NbflowError


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ in ("NaTType", "NAType"):     # pandas' missing values
        return None
    if hasattr(value, "to_pydatetime"):      # pandas.Timestamp -> datetime (aware)
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):   # numpy scalars
        try:
            return value.item()
        except (ValueError, TypeError):
            return value
    return value


def records(frame) -> list[dict[str, Any]]:
    """The rows of a DataFrame as dicts of plain Python values (``None`` for NULL)."""
    columns = list(frame.columns)
    return [{c: _clean(v) for c, v in zip(columns, row)}
            for row in frame.itertuples(index=False, name=None)]


def _interval(value: Any) -> dt.timedelta | None:
    if value is None:
        return None
    return dt.timedelta(days=value.days + 30 * value.months, microseconds=value.nanoseconds // 1000)


def _converter(arrow_type) -> Any:
    """How a column's values become what ``records()`` gives for the same SQL type (pandas
    turns DECIMAL/HUGEINT into numbers and INTERVAL into timedelta), or None: as they are."""
    import pyarrow as pa

    if pa.types.is_decimal(arrow_type):
        cast = int if arrow_type.scale == 0 else float
        return lambda v: None if v is None else cast(v)
    if pa.types.is_interval(arrow_type):
        return _interval
    return None


def arrow_records(table) -> list[dict[str, Any]]:
    """The rows of a ``pyarrow.Table`` as dicts of plain Python values, as ``records()`` gives
    them: aware datetimes, ``None`` for NULL, numbers for DECIMAL/HUGEINT columns."""
    rows = table.to_pylist()
    converters = [(f.name, c) for f in table.schema if (c := _converter(f.type)) is not None]
    for row in rows if converters else ():
        for name, convert in converters:
            row[name] = convert(row[name])
    return rows


class Source:
    """A running engine seen through its handle (``nbflow.start(...)`` or ``%nbflow start``)."""

    #: The dashboard ends with this engine (a ``WorkspaceSource`` outlives the engines it sees).
    detached = False

    def __init__(self, handle) -> None:
        if handle is None:
            raise NbflowError(
                "no engine runs in this process: start one first with "
                "handle = nbflow.start('config.yaml') (or %nbflow start), then nbflow.dashboard(handle); "
                "or watch a workspace whose engine runs elsewhere (nbflow run): "
                "nbflow.dashboard(home='DIR') (or set $NBFLOW_HOME)")
        self.handle = handle

    @property
    def config(self):
        """The engine's validated config (event types, generators, flows)."""
        return self.handle.engine.config

    @property
    def home(self) -> Path:
        return Path(self.handle.home)

    @property
    def running(self) -> bool:
        return bool(self.handle.running)

    def sql(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a parameterized query on the history."""
        return records(self.handle.sql(query, list(params)))

    def status(self) -> dict[str, Any]:
        """The engine's live status: active events, flows, tasks, elapsed times, counts."""
        return self.handle.status()

    def command(self, command: dict[str, Any]) -> Any:
        """Apply a control command; returns once its effect is committed."""
        return self.handle.command(command)
