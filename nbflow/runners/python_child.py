"""The process of a ``python`` task run with ``process: true``.

The engine starts ``python -P -m nbflow.runners.python_child`` like a command task (its own
process group, stdout/stderr into the run's log files, the journal, SIGTERM then SIGKILL on a
timeout or cancel) with the call described in the ``NBFLOW_PYTHON_CALL`` environment variable
(JSON: the function, the event's type, key and values, and where to write the outcome).  This
module imports the function, rebuilds the event with typed values, calls ``func(event, ctx)``
and writes ``{"ok": ..., "detail": ...}`` to the result file, which the runner reads once the
process has exited.  ``async def`` functions run under ``trio.run``, as they run on the
engine's trio loop in-process.

Start-up stays light: nbflow's spec and task API only (no duckdb, pandas or papermill; trio
only for an async function).  ``nbflow.emit()``/``publish()`` inside the function go through
the workspace's inbox, as from a command task, with this run as parent.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from ..spec.model import Event, Task
from ..spec.serialize import types_from_json
from .base import EventFolders, RunContext
from .pyfunc import load_error, resolve

#: the environment variable that carries the call (removed before the function runs: processes
#: the function starts do not inherit it)
CALL_ENV = "NBFLOW_PYTHON_CALL"


def _context(call: dict[str, Any], event: Event, task: Task) -> RunContext:
    """The ``ctx`` the function gets: the same ``RunContext`` as in-process, whose ``emit``,
    ``publish`` and ``artifact`` go through the workspace's inbox, as from a command task."""
    from ..taskapi import emit_to, publish_from_env
    from ..workspace import Workspace

    ws = Workspace(Path(call["home"]))
    folders = EventFolders(Path(call["workdir"]), Path(call["result"]).parent)
    return RunContext(
        run_id=call["run_id"], event=event, flow=call["flow"], task=task, attempt=call["attempt"],
        home=ws.home, folders=folders,
        _emit=lambda event_type, values, parent_run_id: emit_to(ws, event_type, values,
                                                                 parent_run_id=parent_run_id),
        _publish=lambda ctx, obj, kind, name: publish_from_env(ws, obj, kind, name, ctx.run_id))


def _event(call: dict[str, Any]) -> Event:
    (etype,) = types_from_json({"types": {call["event_type"]: call["type"]}})
    # validate() turns the JSON values back into typed ones (dates, datetimes) in var order
    return Event(etype, call["event_key"], etype.validate(call["values"]))


def _exit_code(exc: SystemExit) -> int:
    """The exit code ``sys.exit(arg)`` means (a non-int argument is printed, as Python does)."""
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    print(exc.code, file=sys.stderr)
    return 1


def run_call(call: dict[str, Any]) -> tuple[bool, str | None, int]:
    """Import and call the function: (ok, detail, exit code)."""
    try:
        func, nargs, is_async = resolve(call["python"], call["base_dir"])
    except Exception as exc:
        return False, load_error(call["python"], exc), 2
    event = _event(call)
    task = Task(name=call["task"], runner="python", python=call["python"], base_dir=call["base_dir"],
                process=True)
    args = (event, _context(call, event, task))[:nargs]
    try:
        if is_async:
            import trio

            result = trio.run(func, *args)
        else:
            result = func(*args)
    except SystemExit as exc:
        code = _exit_code(exc)
        return code == 0, f"the function called sys.exit({exc.code!r})", code
    except Exception:
        return False, traceback.format_exc(limit=-8), 1
    if result is False:
        return False, "the function returned False", 1
    return True, None if result is None else repr(result)[:500], 0


def main() -> int:
    spec = json.loads(os.environ.pop(CALL_ENV))
    # Line-buffered: a run killed on a timeout keeps what it printed up to then.
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)
    ok, detail, code = run_call(spec)
    sys.stdout.flush()
    sys.stderr.flush()
    with open(spec["result"], "w") as f:   # a run killed mid-write leaves no valid result
        json.dump({"ok": ok, "detail": detail}, f)
    return code


if __name__ == "__main__":
    sys.exit(main())
