"""The events tab: filters, a pager and one page of events (a fixed pool of row widgets that
are updated in place, so paging never rebuilds the widget tree)."""

from __future__ import annotations

import ipywidgets as w

from . import render
from .format import parse_time
from .history import STATUSES, EventFilter, HistoryModel

ALL = "(all)"


class HistoryView(w.VBox):
    """A filtered, paged list of events; clicking one opens its page."""

    def __init__(self, app, page_size: int = 50) -> None:
        self.app = app
        self.model = HistoryModel(app.source, page_size)
        self.type = w.Dropdown(options=[ALL, *self.model.event_types()], value=ALL, description="type",
                               layout=w.Layout(width="220px"))
        self.status = w.Dropdown(options=[ALL, *STATUSES], value=ALL, description="status",
                                 layout=w.Layout(width="200px"))
        self.since = w.Text(placeholder="from: 2h, 2026-12-04 ...", layout=w.Layout(width="170px"),
                            continuous_update=False)
        self.until = w.Text(placeholder="to", layout=w.Layout(width="140px"), continuous_update=False)
        self.text = w.Text(placeholder="text in label", layout=w.Layout(width="160px"),
                           continuous_update=False)
        for box, cls in ((self.type, "type"), (self.status, "status"), (self.since, "since"),
                         (self.until, "until"), (self.text, "text")):
            box.add_class(f"nbflow-filter-{cls}")
            box.observe(app.callback(lambda _c: self.apply_filter()), names="value")
        self.first_b = w.Button(description="⏮ newest", layout=w.Layout(width="auto"))
        self.prev_b = w.Button(description="◀ newer", layout=w.Layout(width="auto"))
        self.next_b = w.Button(description="older ▶", layout=w.Layout(width="auto"))
        self.first_b.on_click(app.callback(lambda _b: self.show(self.model.first())))
        self.prev_b.on_click(app.callback(lambda _b: self.show(self.model.prev())))
        self.next_b.on_click(app.callback(lambda _b: self.show(self.model.next())))
        self.next_b.add_class("nbflow-page-next")
        self.prev_b.add_class("nbflow-page-prev")
        self.where = w.HTML()
        self.where.add_class("nbflow-page-info")
        self.rows: list[tuple[w.Button, w.HTML, w.HBox]] = []
        for _ in range(page_size):
            button = w.Button(layout=w.Layout(width="240px"))
            button.add_class("nbflow-event-open")
            line = w.HTML()
            box = w.HBox([button, line], layout=w.Layout(display="none"))
            box.add_class("nbflow-event-row")
            button.on_click(app.callback(lambda b: self.app.open_event(b.tooltip)))
            self.rows.append((button, line, box))
        filters = w.HBox([self.type, self.status, self.since, self.until, self.text],
                         layout=w.Layout(flex_flow="row wrap"))
        pager = w.HBox([self.first_b, self.prev_b, self.next_b, self.where])
        super().__init__([w.HTML(render.STYLE), filters, pager, w.VBox([b for _, _, b in self.rows])])
        self.add_class("nbflow-dash-history")

    def current_filter(self) -> EventFilter:
        return EventFilter(
            event_type=None if self.type.value == ALL else self.type.value,
            status=None if self.status.value == ALL else self.status.value,
            since=parse_time(self.since.value, field="from"),
            until=parse_time(self.until.value, field="to"),
            text=self.text.value)

    def apply_filter(self) -> None:
        self.show(self.model.set_filter(self.current_filter()))

    def refresh_types(self) -> None:
        """Offer the types of the config again (an engine started with another one)."""
        options = [ALL, *self.model.event_types()]
        if list(self.type.options) != options:
            keep = self.type.value
            self.type.options = options
            self.type.value = keep if keep in options else ALL

    def reload(self) -> None:
        """Re-read the current page (history moved on)."""
        self.show(self.model.load())

    def show(self, page) -> None:
        for i, (button, line, box) in enumerate(self.rows):
            if i < len(page.rows):
                row = page.rows[i]
                html = render.event_line(row)
                if button.tooltip != row.event_key or button.description != row.label:
                    button.description = row.label
                    button.tooltip = row.event_key
                if line.value != html:
                    line.value = html
                box.layout.display = "flex"
            elif box.layout.display != "none":
                box.layout.display = "none"
                button.tooltip = ""
        info = page.describe()
        if self.where.value != info:
            self.where.value = info
        self.prev_b.disabled = not page.has_prev
        self.first_b.disabled = not page.has_prev
        self.next_b.disabled = not page.has_next
