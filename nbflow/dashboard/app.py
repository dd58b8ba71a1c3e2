"""The dashboard widget: a header, a message area and four tabs (structure, events, event,
running), kept live by one refresh thread.

Widgets stay thin: every view reads its models (``history``, ``event_page``, ``provenance``,
``structure``, ``running``, ``actions``) and writes their HTML; every callback goes through
``callback()``, which holds the dashboard's lock (the refresh thread updates the same
widgets) and turns an exception into a message instead of a lost traceback.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
import traceback
from typing import Any

import ipywidgets as w

from ..errors import NbflowError
from .engine_watch import EngineWatch
from .format import esc
from .live import Refresher
from .running import RunningModel
from .view_actions import close_tree

TAB_STRUCTURE, TAB_EVENTS, TAB_EVENT, TAB_RUNNING = range(4)
#: Tabs scroll inside this height, so the dashboard keeps one size in the notebook.
TAB_HEIGHT = "720px"
#: Generator tables are re-read at least this often (their state changes without any event).
GENERATOR_REFRESH = 5.0


class Dashboard(w.VBox):
    """nbflow's inline workbench over a ``Source`` (a running engine's handle) or a
    ``WorkspaceSource`` (a workspace whose engine runs in another process, or not at all).

    ``interval``: seconds between refreshes of the live views (0 turns the refresh thread
    off; call ``refresh()`` yourself).  ``close()`` stops the thread and the widgets.
    """

    def __init__(self, source, *, page_size: int = 50, interval: float = 0.5) -> None:
        from .view_event import EventView
        from .view_history import HistoryView
        from .view_running import RunningView
        from .view_structure import StructureView

        self.source = source
        self.lock = threading.RLock()
        self.running_model = RunningModel(source)
        self.watch = EngineWatch(source)
        self._signature: Any = None
        self._generators_at = 0.0
        self.last_snapshot = None
        self.header = w.HTML(self.watch.header_html())
        self.header.add_class("nbflow-dash-header")
        # Without an engine nothing refreshes by itself: this re-reads history on demand.
        self.reload_b = w.Button(description="↻ refresh", tooltip="re-read the history now",
                                 layout=w.Layout(width="auto"))
        self.reload_b.add_class("nbflow-dash-refresh")
        self.reload_b.on_click(self.callback(lambda _b: self.refresh(force=True)))
        self.message = w.HTML()
        self.message.add_class("nbflow-dash-message")
        self.structure = StructureView(self)
        self.history = HistoryView(self, page_size)
        self.event = EventView(self)
        self.running = RunningView(self)
        for view in (self.structure, self.history, self.event, self.running):
            _fit(view)
        self.tabs = w.Tab(children=[self.structure, self.history, self.event, self.running])
        self._titles()
        self.tabs.add_class("nbflow-dash-tabs")
        top = w.HBox([self.header, self.reload_b], layout=w.Layout(align_items="center"))
        super().__init__([top, self.message, self.tabs])
        self.add_class("nbflow-dashboard")
        self.history.apply_filter()
        self.refresh()
        self._refresher: Refresher | None = None
        self._seen = False
        self._view_count = 0          # counted by the front end: see _tick
        if interval:
            self._refresher = Refresher(self._tick, interval, on_error=self._tick_error).start()

    def _titles(self) -> None:
        for i, title in enumerate(("Structure", "Events", "Event", "Running")):
            self.tabs.set_title(i, title)

    # -- messages -----------------------------------------------------------------------------------
    def _set_header(self) -> None:
        html = self.watch.header_html()
        if self.header.value != html:
            self.header.value = html

    def say(self, text: str, ok: bool = True) -> None:
        """Show ``text`` in the message area (red when ``ok`` is false)."""
        colour = "#1b5e20" if ok else "#b71c1c"
        cls = "nbflow-msg-ok" if ok else "nbflow-msg-error"
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        self.message.value = (f'<div class="{cls}" style="color:{colour};white-space:pre-wrap">'
                              f"{stamp} {esc(text)}</div>")

    def callback(self, fn):
        """``fn`` for a widget event: under the lock, errors shown in the message area."""
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                try:
                    return fn(*args, **kwargs)
                except NbflowError as exc:
                    self.say(str(exc), ok=False)
                except Exception as exc:
                    last = traceback.extract_tb(exc.__traceback__)[-1]
                    self.say(f"{type(exc).__name__}: {exc} ({last.filename}:{last.lineno})", ok=False)
            return None

        return run

    # -- navigation and actions ---------------------------------------------------------------------
    def open_event(self, key: str) -> None:
        """Show ``key``'s page in the Event tab."""
        if not key:
            return
        with self.lock:
            self.event.show_event(key)
            self.tabs.selected_index = TAB_EVENT

    def after_action(self, outcome) -> None:
        """An action ended: say how, and show its effect at once."""
        self.say(outcome.message, ok=outcome.ok)
        if outcome.ok:
            self.refresh(force=True)
        if outcome.event_key:          # a clone: show the new event
            self.open_event(outcome.event_key)

    def paused_types(self) -> dict[str, Any]:
        try:
            return dict(self.source.status().get("paused_types") or {})
        except NbflowError:
            return {}

    # -- refreshing ---------------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> bool:
        """One refresh: the running view always; history, the event page and generators when
        the engine's state moved on.  False once the engine has stopped (a dashboard over a
        workspace goes on: without an engine it re-reads history only when ``force`` is set
        or the history file changed)."""
        with self.lock:
            was = self.watch.live
            live, changed = self.watch.check()
            if not live:
                if not self.watch.detached:
                    self._set_header()
                    self.say("the engine stopped: the dashboard no longer updates", ok=False)
                    return False
                if changed and was:
                    self.say("the engine stopped: showing history as it was; actions are queued "
                             "in the inbox until an engine starts", ok=True)
                return self._refresh_offline(force or changed)
            self._set_header()
            if changed and was is False:
                self._engine_started()
                force = True
            snapshot = self.running_model.snapshot()
            previous, self.last_snapshot = self.last_snapshot, snapshot
            self.running.show(snapshot)
            signature = snapshot.signature()
            if force or signature != self._signature:
                self._signature = signature
                self.history.reload()
                key = self.event.key
                if key and (snapshot.event(key) or (previous and previous.event(key)) or force):
                    self.event.reload()
            else:
                self.event.reload_plots_if_due()
            if force or time.monotonic() - self._generators_at > GENERATOR_REFRESH:
                self._generators_at = time.monotonic()
                self.structure.refresh_generators()
            return True

    def _refresh_offline(self, force: bool) -> bool:
        """No engine runs: read history once when asked to or when the file changed (an engine
        ran in between), never on every tick: an engine starting must find the file free."""
        if not (force or self.watch.history_moved()):
            return True
        self.watch.mark_read()
        self._set_header()
        snapshot = self.running_model.snapshot()        # an empty status: no SQL
        self.last_snapshot, self._signature = snapshot, None
        self.running.show(snapshot)
        self.running.summary.value = self.watch.offline_summary()
        self.history.reload()
        if self.event.key:
            self.event.reload()
        self._generators_at = time.monotonic()
        self.structure.refresh_generators()
        self._set_header()          # the count of queued commands may have changed meanwhile
        return True

    def _engine_started(self) -> None:
        """An engine started on the watched workspace: follow it, with its config."""
        from .view_structure import StructureView

        if self.source.reload_config():
            old, self.structure = self.structure, StructureView(self)
            _fit(self.structure)
            self.tabs.children = [self.structure, *self.tabs.children[1:]]
            self._titles()
            close_tree(old)
            self.history.refresh_types()
        pid = (getattr(self.source, "engine", None) or {}).get("pid")
        self.say(f"an engine runs on this workspace{f' (pid {pid})' if pid else ''}: the dashboard "
                 "follows it live", ok=True)

    def _tick(self) -> bool:
        # Once shown, nothing to do while no view shows it any more (its cell was cleared or
        # re-run): the thread idles instead of polling for a dashboard nobody sees.
        if self._view_count:
            self._seen = True
        elif self._view_count == 0 and self._seen:
            return True if self.watch.detached else self.source.running
        return self.refresh()

    def _tick_error(self, exc: BaseException) -> None:
        self.say(f"refresh failed: {type(exc).__name__}: {exc}", ok=False)

    @property
    def live(self) -> bool:
        """Whether the refresh thread runs."""
        return self._refresher is not None and self._refresher.alive

    def close(self) -> None:
        """Stop refreshing and close every widget of the dashboard."""
        refresher = getattr(self, "_refresher", None)    # also called by __del__, maybe half-built
        if refresher is not None:
            refresher.stop()
        lock = getattr(self, "lock", None)
        if lock is None:
            super().close()
            return
        with lock:
            close_tree(self)


def _fit(view: w.Box) -> None:
    """Tabs scroll inside ``TAB_HEIGHT``; shrunk flex children would overlap, not scroll."""
    view.layout.max_height = TAB_HEIGHT
    view.layout.overflow = "auto"
    for child in view.children:
        child.layout.flex = "0 0 auto"
