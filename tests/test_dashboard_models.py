"""The dashboard's models on a real history (a real engine ran a small config into tmp):
what the history list, an event's page, provenance, previews and the structure view show."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nbflow.dashboard.event_page import load_event
from nbflow.dashboard.history import EventFilter, HistoryModel, fold_statuses
from nbflow.dashboard.previews import TAIL_BYTES, preview, tail
from nbflow.dashboard.provenance import load_provenance
from nbflow.dashboard.source import Source
from nbflow.dashboard.structure import load_structure
from nbflow.errors import UnknownNameError, ValidationError

import dashboard_history


@pytest.fixture(scope="module")
def hist(tmp_path_factory):
    """(source, job keys) over a finished history of 12 jobs, 12 children, 12 echo_subs."""
    handle, keys = dashboard_history.build(tmp_path_factory.mktemp("dash"))
    try:
        yield Source(handle), keys
    finally:
        handle.stop()


def labels(page) -> list[str]:
    return [r.label for r in page.rows]


# -- the history list ---------------------------------------------------------------------------
def test_first_page_is_the_newest_events_with_their_status_and_total(hist):
    source, _keys = hist
    model = HistoryModel(source, page_size=5)
    page = model.first()
    assert page.total == 36
    assert len(page.rows) == 5 and page.has_next and not page.has_prev
    created = [r.created_at for r in page.rows]
    assert created == sorted(created, reverse=True)
    newest = source.sql("SELECT event_key FROM events ORDER BY created_at DESC LIMIT 5")
    assert [r.event_key for r in page.rows] == [r["event_key"] for r in newest]
    assert page.describe() == "1-5 of 36 events"
    assert all(r.status == "success" or r.label.startswith("job") for r in page.rows)


def test_paging_visits_every_event_once_and_back(hist):
    source, _ = hist
    model = HistoryModel(source, page_size=7)
    seen, pages = [], [model.first()]
    while pages[-1].has_next:
        pages.append(model.next())
    for p in pages:
        seen += [r.event_key for r in p.rows]
    assert len(seen) == len(set(seen)) == 36
    assert [p.index for p in pages] == list(range(6))
    assert pages[-1].describe() == "36-36 of 36 events"
    assert model.next().index == 5            # no page past the last
    back = model.prev()
    assert back.index == 4 and [r.event_key for r in back.rows] == [r.event_key for r in pages[4].rows]
    assert model.first().index == 0


def test_filters_by_type_status_text_and_time(hist):
    source, keys = hist
    model = HistoryModel(source, page_size=50)
    jobs = model.set_filter(EventFilter(event_type="job"))
    assert jobs.total == 12 and {r.event_type for r in jobs.rows} == {"job"}
    failed = model.set_filter(EventFilter(status="failure"))
    assert sorted(labels(failed)) == ["job:a3,true", "job:a8,true"]
    assert failed.total == 2
    text = model.set_filter(EventFilter(text="A1"))       # case-insensitive, in the label
    assert sorted(labels(text)) == ["child:a1", "child:a10", "child:a11", "echo_sub:a1", "echo_sub:a10",
                                    "echo_sub:a11", "job:a1,false", "job:a10,false", "job:a11,false"]
    both = model.set_filter(EventFilter(event_type="job", status="success", text="a1"))
    assert sorted(labels(both)) == ["job:a1,false", "job:a10,false", "job:a11,false"]
    first = load_event(source, keys[0]).event.created_at
    sixth = load_event(source, keys[5]).event.created_at
    window = model.set_filter(EventFilter(event_type="job", since=first, until=sixth))
    assert sorted(labels(window)) == sorted(f"job:a{i},{str(i == 3).lower()}" for i in range(6))
    none = model.set_filter(EventFilter(text="no such label"))
    assert none.rows == [] and none.total == 0 and none.describe() == "no events match the filter"


def test_filter_text_is_a_parameter_not_sql(hist):
    source, _ = hist
    model = HistoryModel(source, page_size=5)
    page = model.set_filter(EventFilter(text="' OR 1=1 --"))
    assert page.total == 0 and page.rows == []


def test_paging_with_a_status_filter(hist):
    source, _ = hist
    model = HistoryModel(source, page_size=5)
    first = model.set_filter(EventFilter(status="success"))
    second = model.next()
    assert first.total == 34 and second.index == 1
    assert not {r.event_key for r in first.rows} & {r.event_key for r in second.rows}
    assert all(r.status == "success" for r in first.rows + second.rows)


def test_bad_filters_are_clear_errors():
    with pytest.raises(ValidationError, match="status filter: 'done' is not a status; statuses: active"):
        EventFilter(status="done")
    later = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    with pytest.raises(ValidationError, match="time range: from 2026-01-02"):
        EventFilter(since=later, until=later - dt.timedelta(days=1))


def test_page_statuses_agree_with_the_events_view(hist):
    source, _ = hist
    view = {r["event_key"]: (r["status"], r["finished_at"]) for r in source.sql("SELECT * FROM events")}
    assert fold_statuses(source, list(view)) == view


def test_event_types_list_the_config_types_first(hist):
    source, _ = hist
    assert HistoryModel(source).event_types() == ["job", "child", "echo_sub", "slow"]


# -- an event's page ----------------------------------------------------------------------------
def test_event_page_of_a_failed_job(hist):
    source, keys = hist
    page = load_event(source, keys[3])
    assert page.event.label == "job:a3,true" and page.event.status == "failure"
    assert page.values == {"name": "a3", "fail": True}
    (main,) = page.flows
    assert main.name == "main" and main.status == "failure"
    tasks = {t.task: t for t in main.tasks}
    assert [t.task for t in main.tasks] == ["make", "shout", "spawn"]
    assert (tasks["make"].status, tasks["make"].attempts, tasks["make"].runner) == ("success", 1, "python")
    assert (tasks["shout"].status, tasks["shout"].attempts, tasks["shout"].runner) == ("failure", 2, "cmd")
    assert tasks["shout"].depends_on == ("make",)
    runs = [(r.task, r.attempt, r.status, r.exit_code) for r in page.runs]
    assert ("shout", 1, "failure", 1) in runs and ("shout", 2, "failure", 1) in runs
    assert all(r.started_at is not None and r.finished_at >= r.started_at for r in page.runs)
    actions = [(s.flow, s.task, s.run, s.action) for s in page.stages]
    assert actions[0] == (None, None, None, "emitted")
    assert ("main", "shout", 2, "retried") in actions
    assert actions[-2:] == [(None, None, None, "failure"), (None, None, None, "final")]
    names = sorted(a.name for a in page.artifacts)
    assert names.count("stdout.txt") == 2 and {"rows.parquet", "report.html", "dot.png", "nb.ipynb"} <= set(names)


def test_event_runs_agree_with_the_task_runs_view(hist):
    source, keys = hist
    for key in (keys[0], keys[3]):
        page = load_event(source, key)
        view = source.sql("SELECT run_id, flow, task, attempt, status, started_at, finished_at, exit_code, "
                          "detail FROM task_runs WHERE event_key = ?", [key])
        mine = {r.run_id: (r.flow, r.task, r.attempt, r.status, r.started_at, r.finished_at, r.exit_code,
                           r.detail) for r in page.runs}
        assert mine == {v["run_id"]: (v["flow"], v["task"], v["attempt"], v["status"], v["started_at"],
                                      v["finished_at"], v["exit_code"], v["detail"]) for v in view}


def test_unknown_event_is_a_clear_error(hist):
    source, _ = hist
    with pytest.raises(UnknownNameError, match="the history has no event 'nope'"):
        load_event(source, "nope")


# -- provenance ---------------------------------------------------------------------------------
def test_provenance_links_a_job_its_child_and_the_subscription_it_triggered(hist):
    source, keys = hist
    job = load_provenance(source, keys[1])
    assert job.origin == "user" and job.ancestors == []
    (child,) = job.children
    assert child.label == "child:a1" and child.via == "main.spawn#1" and child.status == "success"

    down = load_provenance(source, child.event_key)
    assert down.origin == f"task run {keys[1]}/main.spawn#1"
    assert [a.event_key for a in down.ancestors] == [keys[1]]
    (sub,) = down.children                       # fired by the subscription on child/log.echo
    assert sub.label == "echo_sub:a1" and sub.event_type == "echo_sub"

    leaf = load_provenance(source, sub.event_key)
    assert leaf.generator == "echo_sub.on_child" and child.event_key in (leaf.cause or "")
    assert [a.event_key for a in leaf.ancestors] == [child.event_key, keys[1]]   # parent first
    assert leaf.ancestors[0].via == "generator echo_sub.on_child"
    assert leaf.tick is not None and leaf.tick["outcome"]
    edges = leaf.edges()
    assert (keys[1], child.event_key, "main.spawn#1") in edges
    assert (child.event_key, sub.event_key, "generator echo_sub.on_child") in edges


# -- artifact previews --------------------------------------------------------------------------
def _artifact(page, name):
    return next(a for a in page.artifacts if a.name == name)


def test_previews_of_each_kind(hist):
    source, keys = hist
    page = load_event(source, keys[0])
    home = source.home
    table = preview(_artifact(page, "rows.parquet").path, "dataset", home)
    assert table.kind == "table" and table.columns == ["i", "name"]
    assert len(table.rows) == 20 and table.rows[0] == (0, "a0")
    report = preview(_artifact(page, "report.html").path, "report", home)
    assert report.kind == "html" and "<h1>Report for a0</h1>" in report.html
    image = preview(_artifact(page, "dot.png").path, "image", home)
    assert image.kind == "image" and image.format == "png" and image.data.startswith(b"\x89PNG")
    nb = preview(_artifact(page, "nb.ipynb").path, "notebook", home)
    assert nb.kind == "html" and "Notebook of a0" in nb.html
    shout = next(a for a in page.artifacts if a.name == "stdout.txt" and "shout" in a.run_id)
    out = preview(shout.path, "stdout", home)
    assert out.kind == "text" and out.text.endswith("line 1999\n")
    assert out.note == f"last 4,096 of {shout.size_bytes:,} bytes"


def test_text_preview_reads_only_the_tail_of_a_big_file(hist):
    source, keys = hist
    page = load_event(source, keys[0])
    big = _artifact(page, "big.log")
    assert big.size_bytes > 1_000_000
    pv = preview(big.path, "document", source.home)
    assert pv.kind == "text" and pv.text.endswith("log line 99999\n")
    assert len(pv.text.encode()) <= TAIL_BYTES
    assert pv.text.startswith("log line ")        # the cut first line is dropped
    text, size = tail(Path(big.path), 100)
    assert size == big.size_bytes and text.splitlines()[-1] == "log line 99999"


def test_previews_refuse_files_outside_the_workspace(hist, tmp_path):
    source, _ = hist
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours")
    pv = preview(outside, "stdout", source.home)
    assert pv.kind == "message" and "outside the workspace" in pv.text and "not yours" not in pv.text
    gone = preview(source.home / "artifacts" / "nope.txt", "stdout", source.home)
    assert gone.kind == "message" and "the file is gone" in gone.text


# -- structure ----------------------------------------------------------------------------------
def test_structure_lists_types_vars_generators_and_layered_flows(hist):
    source, _ = hist
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    types = {t.name: t for t in load_structure(source, now=now)}
    assert list(types) == ["job", "child", "echo_sub", "slow"]
    job = types["job"]
    assert [(v.name, v.type, v.default) for v in job.vars] == [("name", "str", ""), ("fail", "bool", "false")]
    (noon,) = job.generators
    assert noon.qualified_name == "job.noon"
    assert noon.triggers == ["on_time 0 0 12 1 1 * 2999 (UTC)"]
    assert noon.next_fire == dt.datetime(2999, 1, 1, 12, tzinfo=dt.UTC)
    assert noon.status == "active" and noon.state is not None
    (sub,) = types["echo_sub"].generators
    assert sub.triggers == ["subscribe child/log.echo:success"] and sub.next_fire is None
    (main,) = job.flows
    assert main.layers == [["make"], ["shout", "spawn"]]
    assert sorted(main.edges()) == [("make", "shout"), ("make", "spawn")]
    assert [(t.name, t.runner) for t in main.tasks] == [("make", "python"), ("shout", "cmd"), ("spawn", "python")]
    x = {n: p[0] for n, p in main.positions.items()}
    assert x["make"] < x["shout"] == x["spawn"]      # layers left to right
    (wait,) = types["slow"].flows
    assert wait.layers == [["sleep"], ["after"]]
