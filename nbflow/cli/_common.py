"""Helpers shared by CLI commands: the workspace, values from VAR=VALUE, printing tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import NbflowError
from ..workspace import Workspace


def workspace(args, configs: Sequence[str] | None = None, must_exist: bool = False) -> Workspace:
    return Workspace.resolve(getattr(args, "home", None), list(configs or []), must_exist=must_exist)


def parse_assignments(items: Sequence[str]) -> dict[str, str]:
    """``["region=us", "asof=2024-01-02"]`` as a dict; a malformed item is a clear error."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise NbflowError(f"expected VAR=VALUE, got {item!r}")
        if name in out:
            raise NbflowError(f"var {name!r} is given twice")
        out[name] = value
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return str(value)


def print_table(columns: list[str], rows: list[Sequence[Any]], fmt: str = "table", out=None,
                max_width: int = 60) -> None:
    """Rows as an aligned text table, CSV, or JSON (one object per row, in a list)."""
    out = out or sys.stdout
    if fmt == "json":
        json.dump([dict(zip(columns, row)) for row in rows], out, default=_cell, indent=1)
        out.write("\n")
        return
    if fmt == "csv":
        import csv

        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in row] for row in rows])
        return
    cells = [[_cell(v).replace("\n", "⏎") for v in row] for row in rows]
    cells = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in row] for row in cells]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")
