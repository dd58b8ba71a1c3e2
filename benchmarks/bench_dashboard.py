"""Dashboard latency on a large history: the first page of events and one event's page, on a
workspace of 100,000 events (~1.2 million stage rows, ~0.8 million artifact rows).

    python benchmarks/bench_dashboard.py [--quick] [--events N] [--rounds R]

The history is built fast: rows are inserted with DuckDB ``INSERT ... SELECT`` from
``range()`` straight into a workspace file created with nbflow's own schema
(``nbflow.store.schema.migrate``) -- a benchmark may write the file; the product never does.
Events are shaped like the demo's: ``prices`` (flow ``main``: fetch -> stats, report ->
announce; 14 stage rows) with 4% failing after a retry of ``fetch``, and ``report_ready``
(emitted by the previous ``prices`` event's ``announce`` run); the newest three are still
active.  Then a real engine is started on that workspace (``nbflow.start``, the demo config)
and the dashboard's models are timed through its handle, as in a notebook:

- first page: 50 newest events, unfiltered, with the total count (what opening the history
  tab runs), and its HTML rendering;
- filtered page: type + status + text filters (the status filter folds the stage log);
- deep page: page 1000 (offset 50,000), by keyset from page 999's last row;
- event page: one ``prices`` event's runs, stages, artifacts and provenance (parent run,
  child events), and rendering its plots (bokeh Gantt + DAG + provenance) to HTML.

Each is run ``--rounds`` times (default 7) after one warm-up round; the medians are reported.
The baseline, timed in the same rounds, is the naive query a dashboard could write: the first
page straight from the public ``events`` view (which folds every event's stages).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import _common as c

#: The demo's two event types, with no-op tasks (recovery re-runs what was left active).
CONFIG = """
events:
  - name: prices
    vars: [{name: region, type: str}, {name: days, type: int}]
    flows:
      - name: main
        tasks:
          - {name: fetch, python: "_common:noop_async"}
          - {name: stats, depends_on: [fetch], python: "_common:noop_async"}
          - {name: report, depends_on: [fetch], python: "_common:noop_async"}
          - {name: announce, depends_on: [stats, report], python: "_common:noop_async"}
  - name: report_ready
    vars: [{name: region, type: str}, {name: days, type: int}]
    flows:
      - name: notify
        tasks: [{name: log, python: "_common:noop_async"}]
"""

#: (variant, seq, flow, task, run, action, detail, ms after creation) of each event's stages.
_PRICES_OK = [
    ("emitted", None, None, None, "{label}", 0),
    ("invoked", "main", None, None, None, 1),
    ("invoked", "main", "fetch", 1, None, 2),
    ("success", "main", "fetch", 1, None, 250),
    ("invoked", "main", "report", 1, None, 251),
    ("invoked", "main", "stats", 1, None, 252),
    ("success", "main", "stats", 1, None, 300),
    ("success", "main", "report", 1, None, 370),
    ("invoked", "main", "announce", 1, None, 371),
    ("success", "main", "announce", 1, None, 560),
    ("success", "main", None, None, None, 561),
    ("final", "main", None, None, "success", 562),
    ("success", None, None, None, None, 563),
    ("final", None, None, None, "success", 564),
]
_PRICES_FAIL = [
    ("emitted", None, None, None, "{label}", 0),
    ("invoked", "main", None, None, None, 1),
    ("invoked", "main", "fetch", 1, None, 2),
    ("failure", "main", "fetch", 1, "exit code 1", 250),
    ("retried", "main", "fetch", 2, "attempt 2 of 2 in 1s", 251),
    ("invoked", "main", "fetch", 2, None, 1252),
    ("failure", "main", "fetch", 2, "exit code 1", 1500),
    ("failure", "main", None, None, None, 1501),
    ("final", "main", None, None, "failure", 1502),
    ("failure", None, None, None, None, 1503),
    ("final", None, None, None, "failure", 1504),
]
_PRICES_ACTIVE = _PRICES_OK[:5]
_READY_OK = [
    ("emitted", None, None, None, "{label}", 0),
    ("invoked", "notify", None, None, None, 1),
    ("invoked", "notify", "log", 1, None, 2),
    ("success", "notify", "log", 1, None, 60),
    ("success", "notify", None, None, None, 61),
    ("final", "notify", None, None, "success", 62),
    ("success", None, None, None, None, 63),
    ("final", None, None, None, "success", 64),
]
VARIANTS = {"prices_ok": _PRICES_OK, "prices_fail": _PRICES_FAIL, "prices_active": _PRICES_ACTIVE,
            "ready_ok": _READY_OK}
T0_US = 1_780_000_000_000_000   # 2026-05-28: events are one second apart from here


def build_history(home: Path, n_events: int) -> Path:
    """A workspace at ``home`` holding ``n_events`` demo-shaped events; returns the DB path."""
    import duckdb

    from nbflow.store.schema import migrate
    from nbflow.workspace import Workspace

    ws = Workspace(home).ensure()
    con = duckdb.connect(str(ws.db_path))
    try:
        con.execute("SET enable_progress_bar = false")
        migrate(con)
        con.execute("CREATE TEMP TABLE tmpl (variant VARCHAR, seq INT, action VARCHAR, flow VARCHAR, "
                    "task VARCHAR, run INT, detail VARCHAR, ms INT)")
        con.executemany("INSERT INTO tmpl VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [(v, i, *row) for v, rows in VARIANTS.items() for i, row in enumerate(rows)])
        # Every 5th event is a report_ready emitted by the previous (prices) event's announce;
        # 1 in 25 prices events fails; the last three are still running.
        con.execute(f"""CREATE TEMP TABLE ev AS
            SELECT i, strftime(make_timestamptz(({T0_US} + i * 1000000)::BIGINT) AT TIME ZONE 'UTC',
                               '%Y%m%dT%H%M%S') || '.' || lpad(((i * 7919) % 1000000)::VARCHAR, 6, '0')
                      || '-' || lpad(printf('%x', (i * 2654435761) % 16777216), 6, '0') AS event_key,
                   CASE WHEN i % 5 = 4 THEN 'report_ready' ELSE 'prices' END AS event_type,
                   CASE WHEN i % 5 = 4 THEN 'ready_ok' WHEN i >= {n_events} - 5 THEN 'prices_active'
                        WHEN i % 25 = 7 THEN 'prices_fail' ELSE 'prices_ok' END AS variant,
                   (['us', 'eu', 'asia'])[1 + i % 3] AS region, 5 + i % 300 AS days,
                   {T0_US} + i * 1000000 AS created_us
            FROM range({n_events}) t(i)""")
        con.execute("""CREATE TEMP TABLE ev2 AS SELECT e.*, CASE WHEN e.event_type = 'report_ready'
                THEN p.event_key || '/main.announce#1' END AS parent_run_id
            FROM ev e LEFT JOIN ev p ON p.i = e.i - 1 ORDER BY e.i""")
        con.execute("""INSERT INTO event_log SELECT event_key, event_type,
                event_type || ':' || region || ',' || days, json_object('region', region, 'days', days),
                CASE WHEN parent_run_id IS NULL THEN 'user' ELSE 'task' END, NULL, parent_run_id, NULL,
                make_timestamptz(created_us), NULL
            FROM ev2 ORDER BY i""")
        con.execute("""INSERT INTO stages SELECT e.i * 20 + t.seq + 1, e.event_key, t.flow, t.task, t.run,
                t.action, make_timestamptz(e.created_us + t.ms * 1000),
                replace(t.detail, '{label}', e.event_type || ':' || e.region || ',' || e.days),
                CASE WHEN t.task IS NOT NULL THEN e.event_key || '/' || t.flow || '.' || t.task || '#' || t.run END,
                CASE WHEN t.action IN ('success', 'failure') AND t.task IS NOT NULL
                     THEN (t.action = 'failure')::INT END,
                'engine', NULL
            FROM ev2 e JOIN tmpl t USING (variant) ORDER BY e.i, t.seq""")
        con.execute("""INSERT INTO artifacts SELECT row_number() OVER (ORDER BY s.stage_id, k.kind),
                s.run_id, s.event_key, k.kind || '.txt', k.kind,
                '{home}/artifacts/' || s.event_key || '/' || s.flow || '.' || s.task || '.' || s.run
                    || '/' || k.kind || '.txt', 100, s."at"
            FROM stages s, (VALUES ('stdout'), ('stderr')) k(kind)
            WHERE s.task IS NOT NULL AND s.action IN ('success', 'failure')
            ORDER BY s.stage_id, k.kind""".replace("{home}", str(ws.home)))
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return ws.db_path


#: Our own bars: a query a click waits for stays under 100 ms (a status filter folds every
#: event: 200 ms); a whole rendered view under half a second.
TARGETS = {"first page (model + HTML)": "<= 100 ms", "first page (widget)": "<= 500 ms",
           "filtered page (type+status+text)": "<= 200 ms", "page 1000 (keyset)": "<= 100 ms",
           "event page (model)": "<= 100 ms", "event page (+ bokeh HTML)": "<= 500 ms",
           "event page (widget)": "<= 500 ms"}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    args = c.arguments(__doc__.split("\n\n")[0],
                       **{"--events": {"type": int, "help": "events in the history (default 100,000)"}})
    n_events = args.events or (10_000 if args.quick else 100_000)
    rounds = args.rounds if args.rounds != 5 or args.quick else 7

    import nbflow
    from nbflow.dashboard import plots, render
    from nbflow.dashboard.app import Dashboard
    from nbflow.dashboard.event_page import load_event
    from nbflow.dashboard.history import EventFilter, HistoryModel
    from nbflow.dashboard.provenance import load_provenance
    from nbflow.dashboard.source import Source

    with c.Scratch() as root:
        start = time.perf_counter()
        build_history(root / "home", n_events)
        built = time.perf_counter() - start
        config = c.write_config(root, CONFIG)
        start = time.perf_counter()
        handle = nbflow.start(str(config), home=str(root / "home"))
        try:
            handle.wait_idle(120)
            started = time.perf_counter() - start
            source = Source(handle)
            counts = source.sql("SELECT (SELECT count(*) FROM event_log) AS events, "
                                "(SELECT count(*) FROM stages) AS stages, "
                                "(SELECT count(*) FROM artifacts) AS artifacts")[0]
            print(f"history: {counts['events']:,} events, {counts['stages']:,} stages, "
                  f"{counts['artifacts']:,} artifacts (built in {built:.1f} s; engine up in {started:.1f} s)",
                  file=c.sys.stderr)
            # a prices event from the middle of the history that emitted a report_ready
            mid = source.sql("SELECT split_part(parent_run_id, '/', 1) AS k FROM event_log "
                             "WHERE event_type = 'report_ready' ORDER BY created_at LIMIT 1 OFFSET ?",
                             [n_events // 10])[0]["k"]
            deep = source.sql("SELECT created_at, event_key FROM event_log "
                              "ORDER BY created_at DESC, event_key DESC LIMIT 1 OFFSET ?",
                              [min(49_999, n_events - 51)])[0]
            board = Dashboard(source, page_size=50, interval=0)
            model = HistoryModel(source, 50)

            def first_page():
                page = model.set_filter(EventFilter())
                assert len(page.rows) == 50
                "".join(render.event_line(r) for r in page.rows)

            def filtered_page():
                page = model.set_filter(EventFilter(event_type="prices", status="failure", text="eu"))
                assert page.rows and all(r.status == "failure" for r in page.rows)

            def deep_page():
                model.filter = EventFilter()
                model._cursors = [None] * 1000 + [(deep["created_at"], deep["event_key"])]
                page = model.load()
                assert page.index == 1000 and len(page.rows) == 50

            def event_model():
                page = load_event(source, mid)
                prov = load_provenance(source, mid)
                assert len(page.runs) >= 4 and prov.children

            def event_rendered():
                page = load_event(source, mid)
                prov = load_provenance(source, mid)
                types = {t.name: t for t in board.structure.types}
                flow = types["prices"].flows[0]
                figures = [plots.gantt_figure(page.runs),
                           plots.dag_figure(flow, {t.task: (t.status, t.attempts) for t in page.flows[0].tasks}),
                           plots.provenance_figure(prov)]
                html = plots.standalone(figures, page.event.label)
                render.flows_table(page) + render.runs_table(page.runs) + render.stages_table(page.stages)
                assert len(html) > 100_000

            def widget_first_page():
                board.history.apply_filter()
                assert board.history.where.value.startswith("1-50 of")

            def widget_event_page():
                board.open_event(mid)
                assert mid in board.event.header.value

            def naive_first_page():
                rows = source.sql("SELECT * FROM events ORDER BY created_at DESC, event_key DESC LIMIT 50")
                assert len(rows) == 50

            runs = {"first page (model + HTML)": first_page, "first page (widget)": widget_first_page,
                    "filtered page (type+status+text)": filtered_page, "page 1000 (keyset)": deep_page,
                    "event page (model)": event_model, "event page (+ bokeh HTML)": event_rendered,
                    "event page (widget)": widget_event_page,
                    "baseline: first page from events view": naive_first_page}
            c.side_by_side(1, {k: (lambda f=f: timed(f)) for k, f in runs.items()}, verbose=False)  # warm-up
            samples = c.side_by_side(rounds, {k: (lambda f=f: timed(f)) for k, f in runs.items()})
            board.close()
        finally:
            handle.stop()
    base = statistics.median(samples["baseline: first page from events view"])
    rows = []
    for name, values in samples.items():
        med = statistics.median(values)
        ratio = med / base if name.startswith("first page") else None
        target = TARGETS.get(name, "")
        met = None if not target else med <= float(target.split()[1])
        rows.append(c.Row(name, med, "ms", ratio, target, met,
                          note=f"min {min(values):.1f}, max {max(values):.1f}"))
    c.print_results("Dashboard on a large history", rows,
                    f"{n_events:,} events, {counts['stages']:,} stages, {counts['artifacts']:,} artifacts; "
                    f"{rounds} rounds; page size 50")


if __name__ == "__main__":
    main()
