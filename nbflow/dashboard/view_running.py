"""The running tab: active events with their flows and tasks, elapsed times, and actions.

Rows are kept per event key and updated in place every tick, so a button stays put while
the user moves to click it."""

from __future__ import annotations

import ipywidgets as w

from . import render
from .actions import event_action
from .view_actions import ActionBar, close_tree

OPS = ("pause", "resume", "cancel")


class _Row(w.VBox):
    def __init__(self, app, key: str) -> None:
        self.key = key
        self.text = w.HTML()
        self.text.add_class("nbflow-running-text")
        opener = w.Button(description="open", layout=w.Layout(width="auto"), tooltip=key)
        opener.add_class("nbflow-running-open")
        opener.on_click(app.callback(lambda _b: app.open_event(key)))
        self.actions = ActionBar(app, OPS, lambda op, reason: event_action(op, key, reason=reason),
                                 "nbflow-running-actions", extra=[opener])
        super().__init__([self.text, self.actions], layout=w.Layout(border_bottom="1px solid #eceff1"))
        self.add_class("nbflow-running-row")


class RunningView(w.VBox):
    """What runs now, refreshed by the dashboard's loop."""

    def __init__(self, app) -> None:
        self.app = app
        self.summary = w.HTML(render.muted("waiting for the engine's status..."))
        self.summary.add_class("nbflow-running-summary-box")
        self.empty = w.HTML(render.muted("nothing runs now"))
        self.list = w.VBox()
        self._rows: dict[str, _Row] = {}
        super().__init__([w.HTML(render.STYLE), self.summary, self.empty, self.list])
        self.add_class("nbflow-dash-running")

    def show(self, snapshot) -> None:
        self.summary.value = render.running_summary(snapshot)
        keys = [e.event_key for e in snapshot.events]
        for ev in snapshot.events:
            row = self._rows.get(ev.event_key)
            if row is None:
                row = self._rows[ev.event_key] = _Row(self.app, ev.event_key)
            html = render.running_event(ev)
            if row.text.value != html:
                row.text.value = html
        gone = [k for k in self._rows if k not in keys]
        if gone or [r.key for r in self.list.children] != keys:
            self.list.children = [self._rows[k] for k in keys]
            for k in gone:
                close_tree(self._rows.pop(k))
        self.empty.layout.display = "none" if keys else "block"
