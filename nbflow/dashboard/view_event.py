"""The event tab: one event's header, actions, flows and tasks, plots (Gantt, DAGs,
provenance), provenance links to click through, runs, stages log and artifact previews."""

from __future__ import annotations

import time

import ipywidgets as w

from . import plots, render
from .actions import EVENT_OPS, event_action
from .event_page import load_event
from .format import esc
from .previews import preview
from .provenance import load_provenance
from .view_actions import ActionBar, close_tree

#: At most one re-render of an event's plots per this many seconds while it runs.
PLOT_INTERVAL = 2.0
MAX_LINK_BUTTONS = 30


class EventView(w.VBox):
    """Shows the page of ``self.key`` (none until an event is opened)."""

    def __init__(self, app) -> None:
        self.app = app
        self.key: str | None = None
        self.page = None
        self.prov = None
        self._plot_digest = None
        self._plot_at = 0.0
        self._plots_due = False
        self.header = w.HTML(render.muted("open an event from the events list or the running view"))
        self.header.add_class("nbflow-event-page-header")
        self.target = w.Dropdown(options=[("event", (None, None))], layout=w.Layout(width="220px"))
        self.actions = ActionBar(app, EVENT_OPS, self._make, "nbflow-event-actions", extra=[self.target])
        self.flows = w.HTML()
        self.plots = w.HTML()
        self.plots.add_class("nbflow-event-plots")
        self.prov_text = w.HTML()
        self.links = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.links.add_class("nbflow-prov-links")
        self.runs = w.HTML()
        self.stages = w.HTML()
        self.artifacts = w.HTML()
        self.pick = w.Dropdown(description="preview", layout=w.Layout(width="480px"))
        self.pick.add_class("nbflow-artifact-pick")
        self._quiet = False       # set while the options change: one preview, not two
        self.pick.observe(app.callback(lambda _c: None if self._quiet else self._show_preview()),
                          names="value")
        self.preview = w.VBox()
        self.preview.add_class("nbflow-artifact-preview")
        self.body = w.VBox([
            self.actions, self.flows,
            w.HTML(render.heading("provenance")), self.prov_text, self.links, self.plots,
            w.HTML(render.heading("runs")), self.runs,
            w.HTML(render.heading("artifacts")), self.artifacts, self.pick, self.preview,
            w.HTML(render.heading("stages log")), self.stages],
            layout=w.Layout(display="none"))
        super().__init__([w.HTML(render.STYLE), self.header, self.body])
        self.add_class("nbflow-dash-event")

    # -- loading ------------------------------------------------------------------------------------
    def show_event(self, key: str) -> None:
        """Show ``key``'s page (``UnknownNameError`` if the history has no such event)."""
        page = load_event(self.app.source, key)
        self.key = key
        self._plot_digest = None
        self._show(page, force_plots=True)
        self.body.layout.display = "flex"

    def reload(self) -> None:
        """Re-read the page of the event shown (history moved on); plots are throttled."""
        if self.key is not None:
            self._show(load_event(self.app.source, self.key), force_plots=False)

    def _show(self, page, force_plots: bool) -> None:
        first = self.page is None or self.page.event.event_key != page.event.event_key
        self.page = page
        self.prov = load_provenance(self.app.source, page.event.event_key)
        self._set(self.header, render.event_header(page))
        self._set(self.flows, render.flows_table(page))
        self._set(self.runs, render.runs_table(page.runs))
        self._set(self.stages, render.stages_table(page.stages, page.stages_truncated))
        self._set(self.artifacts, render.artifacts_table(page.artifacts) if page.artifacts
                  else render.muted("no artifacts yet"))
        self._set(self.prov_text, render.provenance_text(self.prov))
        self._targets(page)
        self._links()
        self._artifact_options(page, first)
        self._plots(force_plots)

    @staticmethod
    def _set(widget, value: str) -> None:
        if widget.value != value:     # unchanged values are not sent to the browser again
            widget.value = value

    def _targets(self, page) -> None:
        options = [("event", (None, None))]
        for fs in page.flows:
            options.append((f"flow {fs.name}", (fs.name, None)))
            options += [(f"task {fs.name}.{ts.task}", (fs.name, ts.task)) for ts in fs.tasks]
        if [o[0] for o in self.target.options] != [o[0] for o in options]:
            keep = self.target.value
            self.target.options = options
            self.target.value = keep if keep in [o[1] for o in options] else (None, None)

    def _make(self, op: str, reason: str | None):
        if self.key is None:
            self.app.say("open an event first", ok=False)
            return None
        flow, task = self.target.value
        return event_action(op, self.key, flow, task, reason)

    # -- provenance links -----------------------------------------------------------------------------
    def _links(self) -> None:
        prov = self.prov
        wanted = [(f"← {a.label}", a.event_key, "parent" if i == 0 else "ancestor")
                  for i, a in enumerate(prov.ancestors)]
        wanted += [(f"→ {c.label}", c.event_key, "child") for c in prov.children[:MAX_LINK_BUTTONS]]
        current = [(b.description, b.tooltip) for b in self.links.children]
        if current == [(d, k) for d, k, _ in wanted]:
            return
        buttons = []
        for description, key, kind in wanted:
            b = w.Button(description=description, tooltip=key, layout=w.Layout(width="auto"))
            b.add_class("nbflow-prov-link")
            b.add_class(f"nbflow-prov-{kind}")
            b.on_click(self.app.callback(lambda btn: self.app.open_event(btn.tooltip)))
            buttons.append(b)
        old = self.links.children
        self.links.children = buttons
        for b in old:
            close_tree(b)

    # -- artifacts ------------------------------------------------------------------------------------
    def _artifact_options(self, page, first: bool) -> None:
        options = [(f"{a.name} ({a.kind}, {a.run_id.split('/', 1)[-1] if a.run_id else '-'})", a.artifact_id)
                   for a in page.artifacts]
        if list(self.pick.options) == options:
            return
        keep = None if first else self.pick.value
        self._quiet = True
        try:
            self.pick.options = options
            ids = [o[1] for o in options]
            if keep in ids:
                self.pick.value = keep
            elif options:
                # the most telling first: a report, notebook, dataset or image, else the last output
                rank = {"report": 0, "notebook": 1, "dataset": 2, "image": 3, "document": 4}
                best = min(page.artifacts, key=lambda a: (rank.get(a.kind, 9), -a.artifact_id))
                self.pick.value = best.artifact_id
        finally:
            self._quiet = False
        if first or keep not in ids:
            self._show_preview()

    def _show_preview(self) -> None:
        art = next((a for a in (self.page.artifacts if self.page else []) if a.artifact_id == self.pick.value), None)
        if art is None:
            self._replace_preview([])
            return
        pv = preview(art.path, art.kind, self.app.source.home)
        note = w.HTML(render.muted(f"{art.name}: {pv.note}") if pv.note else "")
        if pv.kind == "text":
            body = w.HTML(render.pre(pv.text or "(empty)", "nbflow-preview-text"))
        elif pv.kind == "html":
            body = w.HTML(plots.iframe(pv.html, 420, "nbflow-preview-html", scripts=False))
        elif pv.kind == "table":
            body = w.HTML(render.table(pv.columns, [[esc(v) for v in row] for row in pv.rows],
                                       "nbflow-preview-table"))
        elif pv.kind == "image":
            body = w.Image(value=pv.data, format=pv.format, layout=w.Layout(max_width="100%"))
            body.add_class("nbflow-preview-image")
        else:
            body = w.HTML(f'<div class="nbflow-preview-message">{esc(pv.text)}</div>')
        self._replace_preview([note, body])

    def _replace_preview(self, children) -> None:
        old = self.preview.children
        self.preview.children = children
        for child in old:
            close_tree(child)

    # -- plots ----------------------------------------------------------------------------------------
    def _plots(self, force: bool) -> None:
        page, prov = self.page, self.prov
        digest = (tuple((r.run_id, r.status, r.finished_at) for r in page.runs),
                  tuple((t.task, t.status, t.attempts) for f in page.flows for t in f.tasks),
                  tuple((a.event_key, a.status) for a in prov.ancestors + prov.children))
        if digest == self._plot_digest:
            self._plots_due = False
            return
        if not force and time.monotonic() - self._plot_at < PLOT_INTERVAL:
            self._plots_due = True      # reload_plots_if_due() renders it on a later tick
            return
        figures = [plots.gantt_figure(page.runs, title=f"runs of {page.event.label}")]
        structure = {t.name: t for t in self.app.structure.types}.get(page.event.event_type)
        for fs in page.flows:
            info = next((f for f in structure.flows if f.name == fs.name), None) if structure else None
            if info is not None:
                figures.append(plots.dag_figure(
                    info, {t.task: (t.status, t.attempts) for t in fs.tasks}, f"flow {fs.name}"))
        figures.append(plots.provenance_figure(prov))
        height = sum(plots.figure_height(f) for f in figures) + 20
        self.plots.value = plots.iframe(plots.standalone(figures, page.event.label), height,
                                        "nbflow-plot nbflow-event-plot")
        self._plot_digest = digest
        self._plot_at = time.monotonic()
        self._plots_due = False

    def reload_plots_if_due(self) -> None:
        """Render plots a throttled reload left behind, once their interval has passed."""
        if self.page is not None and self._plots_due and time.monotonic() - self._plot_at >= PLOT_INTERVAL:
            self._plots(force=True)
