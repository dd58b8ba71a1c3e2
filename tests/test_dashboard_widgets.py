"""The dashboard widget over a real engine, without a browser: what each tab shows, clicks
(through ``Button.click()``, which runs the same callbacks a browser click does), the live
refresh, and actions with their confirmation step ending up in history."""

from __future__ import annotations

import html
import subprocess
import sys
import threading
import time

import pytest

import nbflow
from nbflow.dashboard.app import TAB_EVENT, Dashboard
from nbflow.dashboard.live import Refresher
from nbflow.dashboard.source import Source

import dashboard_history
from conftest import wait_for


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    handle, keys = dashboard_history.build(tmp_path_factory.mktemp("dashw"))
    try:
        yield handle, keys
    finally:
        handle.stop()


@pytest.fixture
def dash(engine):
    handle, _ = engine
    board = Dashboard(Source(handle), page_size=10, interval=0)
    yield board
    board.close()


def said(board) -> str:
    """The message area's text (HTML entities decoded)."""
    return html.unescape(board.message.value)


def visible_rows(board) -> list[str]:
    return [b.description for b, _, box in board.history.rows if box.layout.display != "none"]


def test_the_events_tab_lists_the_newest_page(engine, dash):
    handle, _ = engine
    newest = handle.sql("SELECT label FROM events ORDER BY created_at DESC LIMIT 10")["label"].tolist()
    assert visible_rows(dash) == newest
    assert dash.history.where.value == "1-10 of 36 events"
    assert dash.history.prev_b.disabled and not dash.history.next_b.disabled


def test_filters_and_pager(dash):
    dash.history.type.value = "job"
    assert dash.history.where.value == "1-10 of 12 events"
    dash.history.next_b.click()
    assert dash.history.where.value == "11-12 of 12 events"
    assert visible_rows(dash) == ["job:a1,false", "job:a0,false"]
    assert dash.history.next_b.disabled and not dash.history.prev_b.disabled
    dash.history.status.value = "failure"
    assert sorted(visible_rows(dash)) == ["job:a3,true", "job:a8,true"]
    dash.history.since.value = "yesterday-ish"
    assert "nbflow-msg-error" in dash.message.value and "from: 'yesterday-ish' is not a time" in said(dash)
    assert sorted(visible_rows(dash)) == ["job:a3,true", "job:a8,true"]     # the list stays as it was


def test_opening_an_event_shows_its_page_and_provenance_links(engine, dash):
    _handle, keys = engine
    dash.history.text.value = "a3"
    dash.history.type.value = "job"
    button = dash.history.rows[0][0]
    assert button.description == "job:a3,true" and button.tooltip == keys[3]
    button.click()
    assert dash.tabs.selected_index == TAB_EVENT
    ev = dash.event
    assert "job:a3,true" in ev.header.value and "nbflow-status-failure" in ev.header.value
    assert "<td>shout</td>" in ev.flows.value and ev.flows.value.count("nbflow-status-failure") >= 2
    assert "<iframe" in ev.plots.value and 'sandbox="allow-scripts"' in ev.plots.value
    assert "runs of job:a3,true" in ev.plots.value           # the Gantt's title, in the bokeh doc
    assert ev.runs.value.count("<tr>") == 1 + 4              # header + make, shout x2, spawn
    assert "retried" in ev.stages.value
    # the report is previewed first, in an iframe that runs no script
    _note, body = ev.preview.children
    assert 'sandbox=""' in body.value and "Report for a3" in body.value
    targets = [label for label, _ in ev.target.options]
    assert targets == ["event", "flow main", "task main.make", "task main.shout", "task main.spawn"]
    # provenance: click through to the child, and on to the subscription's event
    (child_link,) = [b for b in ev.links.children if b.description == "→ child:a3"]
    child_link.click()
    assert "child:a3" in ev.header.value
    assert [b.description for b in ev.links.children] == ["← job:a3,true", "→ echo_sub:a3"]
    ev.links.children[1].click()
    assert "echo_sub:a3" in ev.header.value and "generator echo_sub.on_child" in ev.prov_text.value
    ev.pick.value = next(v for label, v in ev.pick.options if label.startswith("stdout.txt"))
    assert len(ev.preview.children) == 2 and "nbflow-preview-text" in ev.preview.children[1].value


def test_a_refused_action_is_shown_in_the_message_area(engine, dash):
    _, keys = engine
    dash.open_event(keys[0])
    dash.event.actions.buttons["pause"].click()
    assert "nbflow-msg-error" in dash.message.value
    assert f"pause event:{keys[0]} failed" in dash.message.value


def test_generator_actions_change_its_status(engine, dash):
    handle, _ = engine
    bar = next(c for c in dash.structure.children if "nbflow-generator-actions" in c._dom_classes)
    assert bar.children[0].children[0].value == "job.noon"

    def status() -> str:
        return handle.sql("SELECT status FROM generators WHERE qualified_name = 'job.noon'")["status"][0]

    bar.buttons["pause"].click()
    assert "nbflow-msg-ok" in dash.message.value, dash.message.value
    assert status() == "paused"
    assert "nbflow-status-paused" in dash.structure._gen_tables["job"].value
    bar.buttons["reset"].click()                      # destructive: waits for a confirmation
    assert bar.confirm_box.layout.display == "flex" and "reset generator:job.noon?" in bar.prompt.value
    bar.no.click()
    assert bar.confirm_box.layout.display == "none" and "not done" in dash.message.value
    bar.buttons["resume"].click()
    assert status() == "active"
    bar.children[0].children[1].value = "{not json"
    bar.buttons["init"].click()
    assert "init state: not JSON" in dash.message.value


def test_live_running_view_then_pause_and_cancel_with_confirmation(engine, no_leaked_children):
    """The running view follows the engine within a second; pause lands in history with the
    dashboard as actor; cancel waits for Confirm, then ends the sleeping task."""
    handle, _ = engine
    board = Dashboard(Source(handle), page_size=10, interval=0.5)
    try:
        key = handle.emit("slow", seconds=60)
        wait_for(lambda: any(t["status"] == "running" for e in handle.status()["events"]
                             if e["event_key"] == key for f in e["flows"] for t in f["tasks"]),
                 timeout=20, interval=0.01, what="the slow task to run")
        seen = time.monotonic()
        row = wait_for(lambda: board.running._rows.get(key), timeout=5, interval=0.01, what="the row")
        wait_for(lambda: "nbflow-status-running" in row.text.value, timeout=5, interval=0.01,
                 what="the running task in the running view")
        assert time.monotonic() - seen < 1.0, "the running view lagged more than a second"
        assert "slow:60.0" in row.text.value and "sleep" in row.text.value

        row.actions.buttons["pause"].click()
        assert f"pause event:{key}" in board.message.value and "nbflow-msg-ok" in board.message.value
        paused = handle.sql("SELECT actor FROM stages WHERE event_key = ? AND action = 'paused' "
                            "AND task IS NULL AND flow IS NULL", [key])
        assert paused["actor"].tolist() == ["dashboard"]
        assert "nbflow-status-paused" in row.text.value
        board.history.status.value = "paused"
        assert [b.tooltip for b, _, box in board.history.rows if box.layout.display != "none"] == [key]

        row.actions.buttons["cancel"].click()
        assert row.actions.confirm_box.layout.display == "flex"
        assert handle.sql("SELECT count(*) AS n FROM stages WHERE event_key = ? AND action = 'cancelled'",
                          [key])["n"][0] == 0
        row.actions.yes.click()
        wait_for(lambda: handle.sql("SELECT status FROM events WHERE event_key = ?", [key])["status"][0]
                 not in ("active", "paused"), timeout=30, what="the cancelled event to end")
        handle.wait_idle(30)
        wait_for(lambda: key not in board.running._rows, timeout=5, what="the row to go")
        assert board.live
    finally:
        board.close()
    assert not board.live


def test_refresher_stops_when_tick_says_so_and_reports_errors():
    calls, errors = [], []

    def tick():
        calls.append(time.monotonic())
        if len(calls) == 2:
            raise RuntimeError("boom")
        return len(calls) < 4

    loop = Refresher(tick, interval=0.01, on_error=errors.append).start()
    wait_for(lambda: not loop.alive, timeout=5, what="the loop to end")
    assert len(calls) == 4 and [str(e) for e in errors] == ["boom"]
    with pytest.raises(ValueError, match="interval must be positive, got 0"):
        Refresher(tick, interval=0)
    assert threading.active_count() >= 1


def test_public_entry_points(engine, capsys):
    handle, _ = engine
    import nbflow.dashboard as module

    for make in (nbflow.dashboard, module, module.dashboard):
        board = make(handle, interval=0)
        try:
            assert isinstance(board, Dashboard) and board.source.home == handle.home
        finally:
            board.close()
    assert module.dashboard.show is module.show
    assert module.show(handle, interval=0) is None       # displayed (here: printed), not returned
    assert "Dashboard(" in capsys.readouterr().out
    default = module.dashboard(interval=0)              # the engine this process runs
    try:
        assert default.source.handle is handle
    finally:
        default.close()


def test_no_engine_is_a_clear_error():
    proc = subprocess.run([sys.executable, "-c", "import nbflow; nbflow.dashboard()"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "NbflowError: no engine runs in this process: start one first" in proc.stderr
