"""``%load_ext nbflow``: the engine in a kernel thread, driven by ``%nbflow`` and ``%%nbflow_sql``.

``%nbflow start CONFIG`` runs the engine in one background thread of the kernel (through
``nbflow.start``) and returns at once; the other commands talk to it through its handle.
Shutting the kernel down (or restarting it) stops the engine first: history committed, task
processes ended.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

USAGE = """\
%nbflow start CONFIG... [--home DIR] [--max-parallel N]   start the engine in this kernel
%nbflow stop                                             stop it (history committed)
%nbflow status [--home DIR]                              what runs now, and the history's totals
%nbflow emit TYPE VAR=VALUE...                           emit an event; returns its key
%nbflow sql [--home DIR] QUERY                           a query on the history, as a DataFrame
%nbflow dashboard [--home DIR]                           the dashboard of this kernel's engine, or of
                                                         a workspace (an engine that `nbflow run` runs)
%%nbflow_sql [VAR] [--home DIR]                          the cell is the query (saved in VAR)"""

COMMANDS = ("start", "stop", "status", "emit", "sql", "dashboard", "help")
_HOME_PREFIX = re.compile(r"^\s*--home(?:\s+|=)(\"[^\"]*\"|'[^']*'|\S+)\s*(.*)$", re.S)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad line as an IPython ``UsageError`` instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}\nusage: {self.format_usage().strip()[7:]}")


def _parser(name: str) -> _Parser:
    return _Parser(prog=f"%nbflow {name}", add_help=False)


def split_home(text: str) -> tuple[str | None, str]:
    """``"--home DIR rest"`` -> ``("DIR", "rest")``; the home is optional."""
    match = _HOME_PREFIX.match(text)
    if not match:
        return None, text.strip()
    return shlex.split(match.group(1))[0], match.group(2).strip()


def history_frame(home: str, query: str):
    """``query`` on the history of ``home`` without an engine in this kernel: through the engine
    that runs there (another process), else the DuckDB file read-only."""
    import pandas as pd

    from .cli.sql import query as run_query
    from .workspace import Workspace

    columns, rows = run_query(Workspace.resolve(home, must_exist=True), query)
    return pd.DataFrame([list(r) for r in rows], columns=columns)


@magics_class
class NbflowMagics(Magics):
    """``%nbflow ...`` and ``%%nbflow_sql``; ``self.home`` remembers the last workspace used."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.home: str | None = None

    # -- plumbing -------------------------------------------------------------------------------
    def _handle(self):
        from .handle import current_handle

        return current_handle()

    def _running(self, what: str):
        handle = self._handle()
        if handle is None:
            raise UsageError(f"no nbflow engine runs in this kernel: `%nbflow start CONFIG` before {what}")
        return handle

    @line_magic
    def nbflow(self, line: str) -> Any:
        """Drive nbflow from a notebook; ``%nbflow help`` lists the commands."""
        command, _, rest = line.strip().partition(" ")
        if command in ("", "help", "-h", "--help"):
            print(USAGE)
            return None
        if command not in COMMANDS:
            from .errors import did_you_mean

            raise UsageError(f"unknown %nbflow command {command!r}{did_you_mean(command, COMMANDS)}; "
                             f"commands: {', '.join(COMMANDS)}")
        from .errors import NbflowError

        try:
            return getattr(self, f"_{command}")(rest)
        except NbflowError as exc:
            raise UsageError(str(exc)) from None

    # -- commands -------------------------------------------------------------------------------
    def _start(self, rest: str):
        import nbflow

        p = _parser("start")
        p.add_argument("configs", nargs="+", metavar="CONFIG")
        p.add_argument("--home", metavar="DIR")
        p.add_argument("--max-parallel", type=int, metavar="N")
        args = p.parse_args(shlex.split(rest))
        before = self._handle()
        handle = nbflow.start(*args.configs, home=args.home, max_parallel=args.max_parallel)
        self.home = str(handle.home)
        if handle is before:
            print(f"nbflow engine already running on {handle.home} "
                  f"(`%nbflow stop` first to start it with another config)")
        else:
            print(f"nbflow engine running on {handle.home}")
        return handle

    def _stop(self, rest: str) -> None:
        handle = self._handle()
        if handle is None:
            print("no nbflow engine runs in this kernel")
            return
        handle.stop()
        print(f"nbflow engine on {handle.home} stopped")

    def _status(self, rest: str) -> None:
        from .cli.status import render

        p = _parser("status")
        p.add_argument("--home", metavar="DIR")
        args = p.parse_args(shlex.split(rest))
        handle = self._handle()
        if args.home or handle is None:
            from .client import request
            from .errors import EngineNotRunning
            from .workspace import Workspace

            home = args.home or self.home
            if home is None:
                print("no nbflow engine runs in this kernel (start one with `%nbflow start CONFIG`)")
                return
            try:
                print(render(request(Workspace.resolve(home), {"op": "status"})))
            except EngineNotRunning as exc:
                print(exc)
            return
        print(render(handle.status()))
        totals = handle.sql("SELECT status, count(*) AS n FROM events GROUP BY status ORDER BY status")
        if len(totals):
            print("history: " + ", ".join(f"{n} {s}" for s, n in zip(totals["status"], totals["n"])))

    def _emit(self, rest: str) -> str:
        from .cli._common import parse_assignments

        argv = shlex.split(rest)
        if not argv:
            raise UsageError("%nbflow emit TYPE VAR=VALUE...: give the event type")
        handle = self._running("emitting")
        return handle.emit(argv[0], **parse_assignments(argv[1:]))

    def _sql(self, rest: str):
        home, query = split_home(rest)
        if not query:
            raise UsageError("%nbflow sql [--home DIR] QUERY: give the query")
        return self._query(query, home)

    def _query(self, query: str, home: str | None):
        handle = self._handle()
        if handle is not None and (home is None or _same_home(home, handle.home)):
            return _sql_or_usage(lambda: handle.sql(query))
        home = home or self.home
        if home is None:
            raise UsageError("no nbflow engine runs in this kernel: `%nbflow start CONFIG` first, "
                             "or give the workspace: `%nbflow sql --home DIR QUERY`")
        return _sql_or_usage(lambda: history_frame(home, query))

    def _dashboard(self, rest: str):
        import importlib

        try:
            show = getattr(importlib.import_module("nbflow.dashboard"), "show", None)
        except ModuleNotFoundError as exc:
            if exc.name != "nbflow.dashboard":
                raise
            show = None
        if show is None:
            print("the nbflow dashboard is not available in this installation; "
                  "`%nbflow status` and `%nbflow sql` show what runs")
            return None
        p = _parser("dashboard")
        p.add_argument("--home", metavar="DIR")
        args = p.parse_args(shlex.split(rest))
        if args.home:        # a workspace whose engine runs elsewhere (nbflow run), or not at all
            board = show(home=args.home)
            self.home = args.home
            return board
        handle = self._handle()
        fallback = self.home or os.environ.get("NBFLOW_HOME")   # the workspace used last, as %nbflow sql
        if handle is None and fallback:
            return show(home=fallback)
        if handle is None:
            raise UsageError("no nbflow engine runs in this kernel: `%nbflow start CONFIG` before opening "
                             "the dashboard, or watch a workspace whose engine runs elsewhere: "
                             "`%nbflow dashboard --home DIR` (or set $NBFLOW_HOME)")
        return show(handle)

    @cell_magic
    def nbflow_sql(self, line: str, cell: str):
        """The cell is a DuckDB query on the history; the result is a DataFrame (kept in VAR)."""
        home, var = split_home(line)
        if var and not var.isidentifier():
            raise UsageError(f"%%nbflow_sql [VAR] [--home DIR]: {var!r} is not a variable name")
        frame = self._query(cell, home)
        if var:
            self.shell.user_ns[var] = frame
        return frame


def _same_home(home: str, other) -> bool:
    from pathlib import Path

    return Path(home).expanduser().resolve() == Path(other).resolve()


def _sql_or_usage(run):
    import duckdb

    try:
        return run()
    except duckdb.Error as exc:
        raise UsageError(f"query failed: {exc}") from None


# -- the extension ------------------------------------------------------------------------------
def _stop_engine() -> None:
    from .handle import current_handle

    handle = current_handle()
    if handle is not None:
        handle.stop()


def _kernel():
    """The ipykernel kernel this shell runs in, if any (not in a terminal IPython)."""
    try:
        from ipykernel.kernelapp import IPKernelApp
    except ImportError:
        return None
    return IPKernelApp.instance().kernel if IPKernelApp.initialized() else None


def _hook_kernel_shutdown() -> None:
    # The engine must stop while the kernel still runs: before the shutdown reply goes out,
    # so a frontend that waits for the reply finds history committed and tasks ended.
    # (nbflow.handle's atexit hook is the fallback for a Python that exits otherwise.)
    kernel = _kernel()
    if kernel is None or getattr(kernel.do_shutdown, "_nbflow", False):
        return
    original = kernel.do_shutdown

    def do_shutdown(restart: bool):
        try:
            _stop_engine()
        except Exception as exc:  # the kernel must shut down whatever the engine did
            kernel.log.error("nbflow: the engine did not stop cleanly: %s", exc)
        return original(restart)

    do_shutdown._nbflow = True  # type: ignore[attr-defined]
    do_shutdown._original = original  # type: ignore[attr-defined]
    kernel.do_shutdown = do_shutdown


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbflow``: register ``%nbflow`` and ``%%nbflow_sql``."""
    ipython.register_magics(NbflowMagics)
    _hook_kernel_shutdown()


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext nbflow``: stop the engine this kernel runs, and unhook the shutdown."""
    _stop_engine()
    kernel = _kernel()
    if kernel is not None and getattr(kernel.do_shutdown, "_nbflow", False):
        kernel.do_shutdown = kernel.do_shutdown._original
    magics = ipython.magics_manager.registry.get("NbflowMagics")
    if magics is not None:
        ipython.magics_manager.magics["line"].pop("nbflow", None)
        ipython.magics_manager.magics["cell"].pop("nbflow_sql", None)
        ipython.magics_manager.registry.pop("NbflowMagics", None)
