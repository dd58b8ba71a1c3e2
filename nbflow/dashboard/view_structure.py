"""The structure tab: event types, vars, generators (with their actions) and flow DAGs."""

from __future__ import annotations

import json

import ipywidgets as w

from ..errors import ValidationError
from . import plots, render
from .actions import GENERATOR_OPS, generator_action
from .format import esc
from .structure import load_structure
from .view_actions import ActionBar


class StructureView(w.VBox):
    """Rendered once from the config; generator tables refresh with history."""

    def __init__(self, app) -> None:
        self.app = app
        self.types = load_structure(app.source, paused_types=app.paused_types())
        self._gen_tables: dict[str, w.HTML] = {}
        # the flows first, drawn (one bokeh document, so BokehJS is sent once); details below
        self.dags = w.HTML(self._dag_html())
        self.dags.add_class("nbflow-dags")
        children: list[w.Widget] = [w.HTML(render.STYLE), self.dags]
        for info in self.types:
            head = (f'<div class="nbflow-type">{render.heading("event type " + info.name, "nbflow-type-name")}'
                    + (f"<i>{esc(info.description)}</i><br>" if info.description else "")
                    + (f"deadline: {esc(info.deadline)}<br>" if info.deadline else "")
                    + render.vars_table(info) + "</div>")
            children.append(w.HTML(head))
            if info.generators:
                table = w.HTML(render.generators_table(info))
                self._gen_tables[info.name] = table
                children += [table, self._generator_bar(info)]
            for flow in info.flows:
                children.append(w.HTML(render.heading(f"flow {info.name}/{flow.name}"
                                                      + (f" (on {flow.on})" if flow.on != "event" else ""))
                                       + render.tasks_table(flow)))
        super().__init__(children)
        self.add_class("nbflow-dash-structure")

    def _dag_html(self) -> str:
        figures = [plots.dag_figure(f) for t in self.types for f in t.flows]
        if not figures:
            return render.muted("no flows")
        height = sum(plots.figure_height(f) for f in figures) + 20
        return plots.iframe(plots.standalone(figures, "nbflow flows"), height, "nbflow-plot nbflow-dag-plot")

    def _generator_bar(self, info) -> w.Widget:
        names = [g.qualified_name for g in info.generators]
        pick = w.Dropdown(options=names, value=names[0], layout=w.Layout(width="220px"))
        state = w.Text(placeholder='init state (JSON), e.g. {"last": 3}', layout=w.Layout(width="240px"))

        def make(op: str, reason: str | None):
            parsed = None
            if op == "init" and state.value.strip():
                try:
                    parsed = json.loads(state.value)
                except ValueError as exc:
                    raise ValidationError(f"init state: not JSON ({exc}): {state.value!r}",
                                          rule="json") from None
                if not isinstance(parsed, dict):
                    raise ValidationError(f"init state: expected a JSON object, got {state.value!r}",
                                          rule="json")
            return generator_action(op, pick.value, reason, parsed)

        return ActionBar(self.app, GENERATOR_OPS, make, "nbflow-generator-actions", extra=[pick, state])

    def refresh_generators(self) -> None:
        """Re-read generator state/status and next fire times (after history moved on)."""
        if not self._gen_tables:
            return
        self.types = load_structure(self.app.source, paused_types=self.app.paused_types())
        for info in self.types:
            table = self._gen_tables.get(info.name)
            if table is not None:
                html = render.generators_table(info)
                if table.value != html:
                    table.value = html
