"""Bokeh plots of the dashboard: flows as layered DAGs, an event's runs as a Gantt chart, and
its provenance as a graph.

How they reach the page: each view's plots become one standalone Bokeh document
(``bokeh.embed.file_html`` with BokehJS inlined) shown in a sandboxed ``<iframe srcdoc>``
inside an ``ipywidgets.HTML``.  That renders the same in JupyterLab 4, Notebook 7, VS Code
and a static export, needs no Jupyter extension (``jupyter_bokeh``) and no network (CDN),
and an update is just a new HTML value.  The price: Bokeh's Python callbacks need a Bokeh
server, so clicks that navigate (provenance) are ipywidgets buttons beside the graph, and
each document carries BokehJS (~1.3 MB), so plots are re-rendered only when their data changed.
"""

from __future__ import annotations

import datetime as dt

from .format import RUNNER_COLORS, color, esc, fmt_duration

PLOT_WIDTH = 900


def _graph_figure(title: str, height: int, x_range: tuple[float, float], y_range: tuple[float, float]):
    from bokeh.plotting import figure

    fig = figure(title=title, height=height, sizing_mode="stretch_width", x_range=x_range,
                 y_range=y_range, tools="pan,wheel_zoom,reset,hover", toolbar_location="right")
    fig.axis.visible = False
    fig.grid.visible = False
    fig.outline_line_color = None
    return fig


def _draw_graph(fig, nodes: dict[str, dict], edges: list[tuple[str, str, str]], tooltips):
    """Nodes (``x``, ``y``, ``color``, ``label`` and tooltip fields) and edges with arrows,
    drawn as a bokeh graph (``from_networkx``) with labels."""
    import networkx as nx
    from bokeh.models import Arrow, ColumnDataSource, HoverTool, LabelSet, NormalHead
    from bokeh.plotting import from_networkx

    graph = nx.DiGraph()
    for name, attrs in nodes.items():
        graph.add_node(name, **{k: v for k, v in attrs.items() if k not in ("x", "y")})
    for a, b, label in edges:
        graph.add_edge(a, b, label=label)
    layout = {n: (a["x"], a["y"]) for n, a in nodes.items()}
    renderer = from_networkx(graph, layout)
    renderer.node_renderer.glyph.update(size=22, fill_color="color", line_color="#37474f")
    renderer.edge_renderer.glyph.update(line_color="#90a4ae", line_width=2)
    fig.renderers.append(renderer)
    for a, b, _ in edges:
        (x0, y0), (x1, y1) = layout[a], layout[b]
        # stop the arrow short of the target node's circle
        fig.add_layout(Arrow(end=NormalHead(size=10, fill_color="#607d8b", line_color="#607d8b"),
                             x_start=x0, y_start=y0, x_end=x0 + (x1 - x0) * 0.86,
                             y_end=y0 + (y1 - y0) * 0.86, line_alpha=0))
    names = list(nodes)
    labels = ColumnDataSource({"x": [nodes[n]["x"] for n in names], "y": [nodes[n]["y"] for n in names],
                               "label": [nodes[n]["label"] for n in names]})
    fig.add_layout(LabelSet(x="x", y="y", text="label", source=labels, x_offset=0, y_offset=14,
                            text_font_size="10pt", text_align="center"))
    hover = fig.select_one(HoverTool)
    hover.renderers = [renderer.node_renderer]
    hover.tooltips = tooltips
    return renderer


def dag_figure(flow, statuses: dict[str, tuple[str, int]] | None = None, title: str | None = None):
    """A flow's DAG (a ``structure.FlowInfo``), layers left to right.

    Without ``statuses`` nodes are coloured by runner; with them (task -> (status, attempts)),
    by status, and labelled with the attempt count.
    """
    pos = flow.positions
    nodes = {}
    for t in flow.tasks:
        x, y = pos[t.name]
        if statuses is None:
            fill, label, status = RUNNER_COLORS.get(t.runner, "#757575"), f"{t.name} ({t.runner})", ""
        else:
            status, attempts = statuses.get(t.name, ("none", 0))
            fill = color(status)
            label = t.name + (f" #{attempts}" if attempts > 1 else "")
        nodes[t.name] = {"x": x, "y": y, "color": fill, "label": label, "task": t.name,
                         "runner": t.runner, "what": t.what[:120], "status": status}
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    height = 120 + 45 * max(len(layer) for layer in flow.layers) if flow.layers else 160
    fig = _graph_figure(title or f"{flow.event_type}/{flow.name}", min(height, 420),
                        (min(xs) - 0.35, max(xs) + 0.35), (min(ys) - 0.4, max(ys) + 0.5))
    tips = [("task", "@task"), ("runner", "@runner"), ("runs", "@what")]
    if statuses is not None:
        tips.append(("status", "@status"))
    _draw_graph(fig, nodes, [(a, b, "") for a, b in flow.edges()], tips)
    return fig


def gantt_figure(runs, now: dt.datetime | None = None, title: str = "runs"):
    """One bar per run (``event_page.Run``), from start to end (to now while running)."""
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    now = now or dt.datetime.now(dt.UTC)
    started = [r for r in runs if r.started_at is not None]
    names = [f"{r.flow}.{r.task} #{r.attempt}" for r in started]
    data = ColumnDataSource({
        "run": names, "left": [r.started_at for r in started],
        "right": [r.finished_at or now for r in started],
        "color": [color(r.status) for r in started], "status": [r.status for r in started],
        "duration": [fmt_duration(r.duration(now)) for r in started],
        "detail": [(r.detail or "")[:100] for r in started]})
    fig = figure(title=title, y_range=list(reversed(names)) or ["(no runs yet)"], x_axis_type="datetime",
                 height=70 + 26 * max(1, len(names)), sizing_mode="stretch_width",
                 tools="xpan,xwheel_zoom,reset,hover", toolbar_location="right",
                 tooltips=[("run", "@run"), ("status", "@status"), ("took", "@duration"),
                           ("detail", "@detail")])
    fig.hbar(y="run", left="left", right="right", height=0.6, color="color", source=data)
    fig.ygrid.grid_line_color = None
    return fig


def provenance_figure(prov):
    """Ancestors to the left, the event in the middle, the events its runs emitted to the right."""
    nodes: dict[str, dict] = {}
    chain = list(reversed(prov.ancestors))
    for i, a in enumerate(chain):
        nodes[a.event_key] = {"x": float(i - len(chain)), "y": 0.0, "color": color(a.status),
                              "label": a.label, "key": a.event_key, "status": a.status}
    nodes[prov.event_key] = {"x": 0.0, "y": 0.0, "color": "#263238", "label": prov.label,
                             "key": prov.event_key, "status": "this event"}
    if prov.generator and not prov.ancestors:
        nodes[f"generator:{prov.generator}"] = {
            "x": -1.0, "y": 0.0, "color": "#00897b", "label": f"generator {prov.generator}",
            "key": "", "status": "generator"}
    n = len(prov.children)
    for j, c in enumerate(prov.children):
        nodes[c.event_key] = {"x": 1.0, "y": (n - 1) / 2 - j if n > 1 else 0.0, "color": color(c.status),
                              "label": c.label, "key": c.event_key, "status": c.status}
    xs = [v["x"] for v in nodes.values()]
    ys = [v["y"] for v in nodes.values()]
    fig = _graph_figure("provenance", min(120 + 40 * max(1, n), 500),
                        (min(xs) - 0.6, max(xs) + 0.6), (min(ys) - 0.6, max(ys) + 0.8))
    edges = [(a, b, via) for a, b, via in prov.edges() if a in nodes and b in nodes]
    _draw_graph(fig, nodes, edges, [("event", "@label"), ("key", "@key"), ("status", "@status")])
    return fig


def standalone(models, title: str) -> str:
    """A whole HTML document holding ``models`` (stacked) with BokehJS inline."""
    from bokeh.embed import file_html
    from bokeh.layouts import column
    from bokeh.resources import INLINE

    layout = column(*models, sizing_mode="stretch_width") if len(models) != 1 else models[0]
    return file_html(layout, INLINE, title)


def iframe(document: str, height: int, css_class: str = "nbflow-plot", scripts: bool = True) -> str:
    """``document`` in an ``<iframe srcdoc>``: sandboxed (an opaque origin, so nothing in it can
    reach the notebook); ``scripts=False`` also forbids scripts (artifact HTML)."""
    sandbox = "allow-scripts" if scripts else ""
    return (f'<iframe class="{esc(css_class)}" sandbox="{sandbox}" srcdoc="{esc(document)}" '
            f'style="width:100%;height:{int(height)}px;border:1px solid #eceff1;background:#fff">'
            "</iframe>")


def figure_height(fig) -> int:
    return int(getattr(fig, "height", None) or 300)
