"""HTML fragments of the dashboard (pure functions of the models: what the user reads).

CSS classes (``nbflow-*``) mark each part so the browser test and user styles can find them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from .format import badge, esc, fmt_duration, fmt_time

STYLE = """<style>
.nbflow-table{border-collapse:collapse;font-size:12px;margin:2px 0 8px 0}
.nbflow-table th{background:#eceff1;text-align:left;padding:2px 8px;font-weight:600}
.nbflow-table td{border-top:1px solid #eceff1;padding:2px 8px;vertical-align:top}
.nbflow-pre{font-family:monospace;font-size:12px;white-space:pre-wrap;background:#fafafa;
  border:1px solid #eceff1;padding:6px;max-height:320px;overflow:auto;margin:0}
.nbflow-muted{color:#78909c}
.nbflow-h{font-weight:600;font-size:14px;margin:8px 0 2px 0}
</style>"""


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], css_class: str = "") -> str:
    """An HTML table; cells are already HTML (escape text with ``esc``)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="nbflow-table {esc(css_class)}"><tr>{head}</tr>{body}</table>'


def heading(text: str, css_class: str = "") -> str:
    return f'<div class="nbflow-h {esc(css_class)}">{esc(text)}</div>'


def pre(text: str, css_class: str = "") -> str:
    return f'<pre class="nbflow-pre {esc(css_class)}">{esc(text)}</pre>'


def muted(text: str) -> str:
    return f'<span class="nbflow-muted">{esc(text)}</span>'


# -- history ------------------------------------------------------------------------------------
def event_line(row, now: dt.datetime | None = None) -> str:
    """The text beside an event's button in the list: status, type, time, duration, origin."""
    took = fmt_duration(row.duration(now))
    return (f'<span class="nbflow-event-line">{badge(row.status)} '
            f"<code>{esc(row.event_type)}</code> {esc(fmt_time(row.created_at))} "
            f"{muted(took)} {muted('from ' + row.origin)}</span>")


# -- event page ---------------------------------------------------------------------------------
def event_header(page) -> str:
    ev = page.event
    values = ", ".join(f"{esc(k)}={esc(v)}" for k, v in page.values.items())
    return (f'<div class="nbflow-event-header">{heading(ev.label, "nbflow-event-title")}'
            f"{badge(ev.status)} <code>{esc(ev.event_key)}</code><br>"
            f"values: {values or muted('(none)')}<br>"
            f"emitted {esc(fmt_time(ev.created_at, ms=True))} from {esc(ev.origin)}"
            + (f"; finished {esc(fmt_time(ev.finished_at, ms=True))} after "
               f"{esc(fmt_duration(ev.duration()))}" if ev.finished_at else "")
            + "</div>")


def flows_table(page) -> str:
    rows = []
    for fs in page.flows:
        flow_cell = f"<b>{esc(fs.name)}</b>" + (" (paused)" if fs.paused else "")
        flow_cell += f" {muted('on ' + fs.on)}" if fs.on != "event" else ""
        for i, ts in enumerate(fs.tasks):
            rows.append([flow_cell + f" {badge(fs.status)}" if i == 0 else "",
                         esc(ts.task), esc(ts.runner or "?"),
                         badge(ts.status) + (" (paused)" if ts.paused else ""), str(ts.attempts),
                         esc(", ".join(ts.depends_on))])
    return table(["flow", "task", "runner", "status", "attempts", "after"], rows, "nbflow-flows")


def runs_table(runs, now: dt.datetime | None = None) -> str:
    rows = [[esc(f"{r.flow}.{r.task}"), str(r.attempt), badge(r.status), esc(fmt_time(r.started_at)),
             esc(fmt_duration(r.duration(now))), esc("" if r.exit_code is None else r.exit_code),
             esc((r.detail or "").strip().splitlines()[-1][:120] if r.detail else "")]
            for r in runs]
    return table(["task", "attempt", "status", "started", "took", "exit", "detail"], rows, "nbflow-runs")


def stages_table(stages, truncated: bool = False) -> str:
    rows = [[esc(fmt_time(s.at, ms=True)), esc(s.flow or ""), esc(s.task or ""),
             esc("" if s.run is None else s.run), f"<b>{esc(s.action)}</b>",
             esc((s.detail or "")[:160]), esc(s.actor or ""), esc(s.target or "")]
            for s in stages]
    note = muted(f" (first {len(stages)} stages shown)") if truncated else ""
    return table(["at", "flow", "task", "run", "action", "detail", "actor", "target"], rows,
                 "nbflow-stages") + note


def artifacts_table(artifacts) -> str:
    rows = [[esc(a.name), esc(a.kind), esc("" if a.size_bytes is None else f"{a.size_bytes:,}"),
             esc(_short_run(a.run_id)), f"<code>{esc(a.path)}</code>"] for a in artifacts]
    return table(["name", "kind", "bytes", "run", "path"], rows, "nbflow-artifacts")


def _short_run(run_id: str | None) -> str:
    return run_id.split("/", 1)[1] if run_id and "/" in run_id else (run_id or "")


def provenance_text(prov) -> str:
    parts = [f'<div class="nbflow-provenance">emitted by: <b>{esc(prov.origin)}</b>']
    if prov.tick:
        t = prov.tick
        parts.append(f"<br>generator tick: fire time {esc(fmt_time(t.get('fire_time')))}, "
                     f"trigger {esc(t.get('trigger') or '-')}, outcome {esc(t.get('outcome'))}")
    if prov.ancestors:
        chain = " &larr; ".join(f"{esc(a.label)} ({esc(a.via)})" for a in prov.ancestors)
        parts.append(f"<br>ancestors: {chain}")
    parts.append(f"<br>its runs emitted: {len(prov.children)} event(s)"
                 + (" (first ones shown)" if prov.children_truncated else ""))
    return "".join(parts) + "</div>"


# -- structure ----------------------------------------------------------------------------------
def vars_table(type_info) -> str:
    rows = [[f"<b>{esc(v.name)}</b>", esc(v.type), esc(v.rules), esc(v.default) if v.default else muted("required")]
            for v in type_info.vars]
    return table(["var", "type", "rules", "default"], rows, "nbflow-vars")


def generators_table(type_info) -> str:
    rows = [[f"<b>{esc(g.qualified_name)}</b>", "<br>".join(esc(t) for t in g.triggers),
             esc(fmt_time(g.next_fire)) if g.next_fire else muted("-"), badge(g.status),
             f"<code>{esc(g.state)}</code>" if g.state else muted("-"), esc(g.hold or "")]
            for g in type_info.generators]
    return table(["generator", "triggers", "next fire", "status", "state", "hold"], rows,
                 "nbflow-generators")


def tasks_table(flow_info) -> str:
    rows = [[f"<b>{esc(t.name)}</b>", esc(t.runner), f"<code>{esc(t.what)}</code>",
             esc(", ".join(t.depends_on)), str(t.layer)] for t in flow_info.tasks]
    return table(["task", "runner", "runs", "after", "layer"], rows, "nbflow-tasks")


# -- running ------------------------------------------------------------------------------------
def running_event(ev) -> str:
    """One running event: its flows and their tasks, with elapsed times."""
    lines = [f'<div class="nbflow-running-event"><b>{esc(ev.label)}</b> '
             f"{badge('paused' if ev.paused else 'active')} <code>{esc(ev.event_key)}</code> "
             f"elapsed <span class=\"nbflow-elapsed\">{esc(fmt_duration(ev.elapsed))}</span>"]
    for fs in ev.flows:
        tasks = " ".join(
            f'<span class="nbflow-running-task">{esc(t.task)} {badge("paused" if t.paused else t.status)}'
            + (f" #{t.attempt}" if t.attempt > 1 else "")
            + (f" {esc(fmt_duration(t.elapsed))}" if t.elapsed is not None else "") + "</span>"
            for t in fs.tasks)
        state = "done" if fs.done else ("paused" if fs.paused else "")
        lines.append(f'<div class="nbflow-running-flow" style="margin-left:14px">flow '
                     f"<b>{esc(fs.flow)}</b> {muted(state)} "
                     + (esc(fmt_duration(fs.elapsed)) if fs.elapsed is not None else "")
                     + f" &mdash; {tasks}</div>")
    return "".join(lines) + "</div>"


def running_summary(snapshot) -> str:
    paused = ", ".join(snapshot.paused_types) or "none"
    c = snapshot.counts
    return (f'<div class="nbflow-running-summary">{len(snapshot.events)} active event(s), '
            f"{snapshot.running_tasks} task(s) running of {snapshot.max_parallel} slots; "
            f"paused types: {esc(paused)}; since start: {c.get('events', 0)} events, "
            f"{c.get('success', 0)} succeeded, {c.get('failure', 0)} failed, {c.get('runs', 0)} runs"
            f' {muted("(updated " + dt.datetime.now().strftime("%H:%M:%S") + ")")}</div>')
