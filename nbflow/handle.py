"""Running the engine in a background thread (a Jupyter kernel, a script) behind a handle.

The engine stays one ``trio.run``, in one thread that the handle owns; the caller's thread
talks to it only through ``trio.from_thread`` with the run's token (the shape of APScheduler
4's sync facade).  Interpreter exit stops the engine cleanly: history committed, children
ended.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio

from .errors import NbflowError, WorkspaceError

_current: Handle | None = None
_lock = threading.Lock()


def current_handle() -> Handle | None:
    """The handle of the engine this process runs, if one is running."""
    return _current if _current is not None and _current.running else None


class Handle:
    """A running engine, seen from another thread: ``emit``, ``sql``, ``flush``, ``status``,
    ``stop``."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self._done = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------------
    def _start(self, timeout: float) -> None:
        self._thread = threading.Thread(target=self._main, name="nbflow-engine", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise NbflowError(f"the engine did not start within {timeout} s")
        if self._error is not None:
            from .errors import unwrap

            raise unwrap(self._error)

    def _main(self) -> None:
        async def main() -> None:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.engine.run)
                self._ready.set()

        try:
            trio.run(main)
        except BaseException as exc:  # reported to the starting thread, or kept for stop()
            self._error = exc
        finally:
            self._ready.set()
            self._done.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._done.is_set()

    @property
    def home(self) -> Path:
        return self.engine.ws.home

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the engine and wait for its thread: history committed, processes ended."""
        global _current
        if self.running:
            try:
                trio.from_thread.run_sync(self.engine.stop, trio_token=self.engine.token)
            except trio.RunFinishedError:
                pass
            self._thread.join(timeout)
        with _lock:
            if _current is self:
                _current = None
        if self._error is not None and not isinstance(self._error, (KeyboardInterrupt, SystemExit)):
            error, self._error = self._error, None
            raise error

    def __enter__(self) -> Handle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<nbflow engine {state} on {self.home}>"

    # -- calls into the engine --------------------------------------------------------------------
    def _call(self, afn, *args: Any) -> Any:
        if not self.running:
            raise NbflowError("the engine is not running (start it with nbflow.start(...))")
        return trio.from_thread.run(afn, *args, trio_token=self.engine.token)

    def _call_sync(self, fn, *args: Any) -> Any:
        if not self.running:
            raise NbflowError("the engine is not running (start it with nbflow.start(...))")
        return trio.from_thread.run_sync(fn, *args, trio_token=self.engine.token)

    def emit(self, event_type: str, /, **values: Any) -> str:
        """Emit an event; returns its key once it is committed to history."""
        return self._call(lambda: self.engine.emit(event_type, values))

    def sql(self, query: str, params: Sequence[Any] | None = None):
        """The result of a DuckDB query on the history, as a pandas DataFrame.

        It reads committed rows, which may lag the engine by one tick (at most 50 ms): call
        ``flush()`` first to read everything that happened before.
        """
        if not self.running:
            raise NbflowError("the engine is not running (start it with nbflow.start(...))")
        return self.engine.query(query, list(params or [])).df()

    def flush(self, timeout: float = 30.0) -> None:
        """Block until every row the engine appended so far is committed to the history file.

        The engine commits its rows in batches, once per tick; after ``flush()`` a ``sql()``
        query (or a reader of the DuckDB file) sees all that happened before the call - the
        ``invoked`` row of a task that ``status()`` shows running, the rows of a run that just
        ended.  ``NbflowError`` if the engine is not running or the commit takes longer than
        ``timeout`` seconds.
        """
        async def wait() -> None:
            with trio.fail_after(timeout):
                await self.engine.writer.durable()

        try:
            self._call(wait)
        except trio.TooSlowError:
            raise NbflowError(f"the history was not committed within {timeout} s") from None
        except trio.ClosedResourceError:
            raise NbflowError("the engine stopped before the history was committed") from None

    def status(self) -> dict[str, Any]:
        """What runs now: active events, flows, tasks and elapsed times."""
        return self._call_sync(self.engine.status)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Block until nothing is left to do (no active event, empty inbox)."""
        async def wait() -> None:
            with trio.fail_after(timeout):
                await self.engine.wait_idle()

        try:
            self._call(wait)
        except trio.TooSlowError:
            raise NbflowError(f"the engine was still busy after {timeout} s") from None

    def wait_settled(self, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Block until nothing can progress without someone acting (what ``nbflow run
        --until-idle`` waits for): unlike ``wait_idle``, work held by a pause does not keep it
        waiting.  Returns what is left held (``[]`` when all is done), one dict per paused
        target or held item: ``target``, ``label``, ``paused``, ``held_by``, ``reason``,
        ``actor``, ``until``, ``holds``, ``work`` (see ``nbflow.engine.settled.held_work``)."""
        from .engine import settled

        async def wait() -> list[dict[str, Any]]:
            with trio.fail_after(timeout):
                await settled.wait_settled(self.engine)
            return settled.held_work(self.engine)

        try:
            return self._call(wait)
        except trio.TooSlowError:
            raise NbflowError(f"the engine was still busy after {timeout} s") from None

    def command(self, command: dict[str, Any]) -> Any:
        """Apply a control command (the same ops as the inbox and the socket)."""
        from .engine.commands import apply_now

        return self._call(lambda: apply_now(self.engine, command))

    # -- control actions (nbflow.control; see docs/control.md) ------------------------------------
    # Targets: "type:NAME", "event:KEY[/FLOW[.TASK]]", "generator:[TYPE.]NAME".  Each method
    # returns the engine's summary once the action is committed, or raises ControlError (the
    # action does not apply to the target's state; nothing changed).
    def _control(self, op: str, target: str, reason: str | None, actor: str | None, **options: Any):
        from .control.command import make_command

        return self.command(make_command(op, target, reason=reason, actor=actor or "python", **options))

    def pause(self, target: str, reason: str | None = None, *, cancel_running: bool = False,
              until: Any = None, actor: str | None = None) -> dict[str, Any]:
        """Nothing new starts inside ``target``; ``until`` (a datetime, ISO text, ``"30m"``) ends it."""
        return self._control("pause", target, reason, actor, cancel_running=cancel_running, until=until)

    def resume(self, target: str, reason: str | None = None, *, actor: str | None = None) -> dict[str, Any]:
        """Undo a pause: what it held starts."""
        return self._control("resume", target, reason, actor)

    def retry(self, target: str, reason: str | None = None, *, tree: bool = False,
              actor: str | None = None) -> dict[str, Any]:
        """Run a task (or a flow's or an event's failed tasks) again; ``tree``: and its downstream."""
        return self._control("retry", target, reason, actor, tree=tree)

    def skip(self, target: str, reason: str | None = None, *, actor: str | None = None) -> dict[str, Any]:
        """Mark a task (or what remains of a flow or event) skipped; dependants proceed."""
        return self._control("skip", target, reason, actor)

    def cancel(self, target: str, reason: str | None = None, *, actor: str | None = None) -> dict[str, Any]:
        """Stop running processes and mark them (and what has not started) cancelled."""
        return self._control("cancel", target, reason, actor)

    def clone(self, target: str, reason: str | None = None, *, actor: str | None = None) -> str:
        """Emit a new event with the same values as ``target`` (``event:KEY``); its key."""
        return self._control("clone", target, reason, actor)["event_key"]
    # -- end of control actions -------------------------------------------------------------------


def start(*configs: str | Path, home: str | Path | None = None, max_parallel: int | None = None,
          timeout: float = 60.0) -> Handle:
    """Start an engine for ``configs`` in a background thread of this process; its handle.

    Starting a second engine in the same process while one runs returns the running one if
    it serves the same workspace, and raises ``WorkspaceError`` otherwise.
    """
    global _current
    from .config import load_config
    from .config.cycles import log_loop_warnings
    from .engine.core import Engine
    from .workspace import Workspace

    config = load_config(*configs)
    log_loop_warnings(config)   # subscription loops, on the "nbflow.config" logger
    ws = Workspace.resolve(home, [str(c) for c in configs])
    with _lock:
        if _current is not None and _current.running:
            if _current.home == ws.home:
                return _current
            raise WorkspaceError(
                f"an engine already runs in this process on {_current.home}; stop it first")
        handle = Handle(Engine(config, ws, max_parallel=max_parallel))
        handle._start(timeout)
        _current = handle
    return handle


@atexit.register
def _stop_at_exit() -> None:
    handle = _current
    if handle is not None and handle.running:
        try:
            handle.stop(timeout=10)
        except Exception:
            pass
