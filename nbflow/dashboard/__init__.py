"""nbflow's dashboard: an ipywidgets/bokeh workbench, inline in a notebook, live while the
engine runs.

    handle = nbflow.start("configs/demo.yaml")
    nbflow.dashboard(handle)            # the widget (the last expression of a cell shows it)
    nbflow.dashboard.show(handle)       # display it now (what ``%nbflow dashboard`` calls)
    nbflow.dashboard(home="jobs/.nbflow")   # a workspace whose engine ``nbflow run`` runs

Four tabs: Structure (event types, vars, generators, flow DAGs), Events (a filtered, paged
history), Event (one event's flows, runs, Gantt, stages, artifacts, provenance; actions) and
Running (what runs now, with elapsed times; actions).  See ``docs/dashboard.md``.

Importing this package is light: ipywidgets and bokeh load on the first call.
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

from ..errors import NbflowError
from ..workspace import HOME_ENV


def dashboard(handle: Any = None, *, home: str | os.PathLike[str] | None = None, page_size: int = 50,
              interval: float = 0.5):
    """The dashboard widget of ``handle``'s engine (default: the one this process runs), or of
    the workspace ``home``, whose engine runs in another process (``nbflow run``) or not at all.

    With neither, the engine this process runs; else ``$NBFLOW_HOME``.  ``page_size``: events
    per page of the history list; ``interval``: seconds between live refreshes (0: no refresh
    thread).  ``.close()`` the widget to stop its refresh thread.  Raises ``NbflowError`` when
    there is nothing to show (no engine here and no workspace, or a workspace without history).
    """
    from .app import Dashboard
    from .source import Source

    if handle is not None and home is not None:
        raise NbflowError("nbflow.dashboard: pass a handle (an engine in this process) or home= "
                          "(a workspace), not both")
    if handle is None and home is None:
        from ..handle import current_handle

        handle = current_handle()
        if handle is None:
            home = os.environ.get(HOME_ENV) or None
    if handle is None and home is not None:
        from .workspace_source import WorkspaceSource

        return Dashboard(WorkspaceSource(home), page_size=page_size, interval=interval)
    return Dashboard(Source(handle), page_size=page_size, interval=interval)


def show(handle: Any = None, **options: Any) -> None:
    """Display ``handle``'s dashboard (or ``home=``'s) in the current notebook output (what
    ``%nbflow dashboard`` calls).  Returns nothing, so a magic or a cell ending with it does not
    show it twice; keep ``nbflow.dashboard(handle)`` in a variable to ``.close()`` it later (it
    also goes quiet by itself once its output is cleared, and stops with the engine)."""
    from IPython.display import display

    display(dashboard(handle, **options))


dashboard.show = show   # nbflow.dashboard is this function once nbflow resolved the name lazily


class _CallableModule(types.ModuleType):
    """``import nbflow.dashboard`` binds the module where ``nbflow.dashboard`` (the function)
    is expected: calling the module calls the function, so both spellings work."""

    def __call__(self, handle: Any = None, **options: Any):
        return dashboard(handle, **options)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["dashboard", "show"]
