"""The dashboard in a real browser: JupyterLab on loopback, ``notebooks/dashboard.ipynb`` run in
headless Chromium (Debian's, driven by playwright; never a downloaded browser), its views
checked, an event paused and cancelled from the Running tab, and the stages read back from
history through ``nbflow sql`` (the kernel's engine holds the DuckDB file; the CLI goes
through its socket).  Screenshots land in ``docs/img/``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, nbflow_cli, wait_for

CHROMIUM = "/usr/bin/chromium"
IMG = REPO / "docs" / "img"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_settings(root: Path) -> Path:
    """JupyterLab user settings: every cell rendered (no windowing), no news, no update check."""
    settings = root / "lab-settings"
    for rel, data in {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none",
                                                                      "autoStartDefaultKernel": True},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
    return settings


def processes_mentioning(marker: str) -> list[int]:
    """Live processes whose command line or environment mentions ``marker`` (kernels, tasks)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
            blob = Path(f"/proc/{entry}/cmdline").read_bytes() + Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in blob:
            found.append(int(entry))
    return found


def stop_lab(proc: subprocess.Popen, marker: str) -> list[int]:
    """End JupyterLab's process group (it shuts its kernels down, whose engines end their tasks);
    then kill whatever still mentions ``marker``.  Returns what had to be killed."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    left = wait_for_gone(lambda: processes_mentioning(marker), 20)
    for pid in left:
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return left


def wait_for_gone(fn, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if not value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def click(locator) -> None:
    """Scroll ``locator`` to the middle of its scroll containers, then click it: clicked at the
    very edge where playwright scrolls it, a button inside the dashboard's scrolling tab can
    miss (the click lands outside the document)."""
    locator.evaluate("e => e.scrollIntoView({block: 'center'})")
    locator.click()


def sql_json(home: Path, query: str) -> list[dict]:
    proc = nbflow_cli("sql", "--home", str(home), "--format", "json", query, timeout=60, check=True)
    return json.loads(proc.stdout)


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a copy of notebooks/ and configs/; yields (base url, token, home)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: the browser test needs Debian's chromium "
                    "(bash .ci/setup installs it)")
    root = tmp_path / "root"
    ignore = shutil.ignore_patterns(".nbflow", ".ipynb_checkpoints", "__pycache__")
    shutil.copytree(REPO / "notebooks", root / "notebooks", ignore=ignore)
    shutil.copytree(REPO / "configs", root / "configs", ignore=ignore)
    home = tmp_path / "home"
    token, port = secrets.token_hex(16), free_port()
    env = dict(os.environ, NBFLOW_HOME=str(home), JUPYTER_CONFIG_DIR=str(tmp_path / "jcfg"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "jrt"), JUPYTERLAB_SETTINGS_DIR=str(lab_settings(tmp_path)),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-ws"))
    env.pop("NBFLOW_RUN_ID", None)
    log = open(tmp_path / "lab.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--IdentityProvider.token={token}",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.root_dir={root}", *(["--allow-root"] if os.geteuid() == 0 else [])],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited {proc.returncode}:\n{(tmp_path / 'lab.log').read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    try:
        wait_for(up, timeout=60, interval=0.2, what="JupyterLab to answer")
        yield base, token, home
    finally:
        left = stop_lab(proc, str(tmp_path))
        log.close()
        assert not left, f"processes outlived JupyterLab and had to be killed: {left}"


def test_dashboard_notebook_in_jupyterlab(lab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base, token, home = lab
    IMG.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{base}/lab/tree/notebooks/dashboard.ipynb?token={token}")
            page.locator(".jp-NotebookPanel").first.wait_for()
            # the status bar names the kernel once it is connected, and says it is idle
            idle = page.locator(".jp-StatusBar-Widget", has_text="| Idle").first
            select = page.locator(".jp-Dialog .jp-mod-accept", has_text="Select")
            expect(idle.or_(select)).to_be_attached(timeout=90_000)
            if select.count():              # JupyterLab asks for a kernel: take the preferred one
                select.click()
            expect(idle).to_be_attached(timeout=90_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()

            board = page.locator(".nbflow-dashboard")
            expect(board).to_be_visible(timeout=180_000)
            board.scroll_into_view_if_needed()

            # -- structure: types, vars, generators and the DAGs drawn by bokeh
            structure = board.locator(".nbflow-dash-structure")
            expect(structure).to_contain_text("event type prices")
            expect(structure).to_contain_text("event type slow")
            expect(structure.locator(".nbflow-vars").first).to_contain_text("region")
            expect(structure.locator(".nbflow-tasks").first).to_contain_text("announce")
            dags = page.frame_locator("iframe.nbflow-dag-plot")
            expect(dags.locator(".bk-Figure, .bk-Column").first).to_be_attached(timeout=30_000)
            expect(dags.locator("canvas").first).to_be_attached(timeout=30_000)
            board.screenshot(path=str(IMG / "dashboard-structure.png"))

            # -- events: the list, then one event's page
            tab = board.locator(".nbflow-dash-tabs .lm-TabBar-tabLabel")
            click(tab.get_by_text("Events", exact=True))
            rows = board.locator(".nbflow-dash-history .nbflow-event-row")
            expect(rows.filter(has_text="report_ready:asia,90").first).to_be_visible()
            expect(board.locator(".nbflow-page-info")).to_have_text(re.compile(r"1-\d+ of \d+ events"))
            click(board.locator(".nbflow-event-open", has_text="prices:eu,60"))
            event = board.locator(".nbflow-dash-event")
            expect(event.locator(".nbflow-event-page-header")).to_contain_text("prices:eu,60")
            expect(event.locator(".nbflow-flows")).to_contain_text("announce")
            expect(event.locator(".nbflow-flows .nbflow-status-success").first).to_be_visible()
            expect(event.locator(".nbflow-runs")).to_contain_text("main.fetch")
            expect(event.locator(".nbflow-stages")).to_contain_text("emitted")
            expect(event.locator(".nbflow-prov-child")).to_contain_text("report_ready:eu,60")
            plots = page.frame_locator("iframe.nbflow-event-plot")
            expect(plots.locator("canvas").first).to_be_attached(timeout=30_000)
            report = page.frame_locator("iframe.nbflow-preview-html")
            expect(report.locator("h1")).to_contain_text("Prices eu")
            board.screenshot(path=str(IMG / "dashboard-event.png"))
            click(event.locator(".nbflow-prov-child").first)      # click through provenance
            expect(event.locator(".nbflow-event-page-header")).to_contain_text("report_ready:eu,60")
            expect(event.locator(".nbflow-provenance")).to_contain_text("main.announce#1")

            # -- running: the slow event, its elapsed time moving
            click(tab.get_by_text("Running", exact=True))
            row = board.locator(".nbflow-running-row", has_text="slow:300.0")
            expect(row).to_be_visible()
            expect(row.locator(".nbflow-status-running").first).to_be_visible()
            before = row.locator(".nbflow-elapsed").inner_text()
            expect(row.locator(".nbflow-elapsed")).not_to_have_text(before, timeout=5_000)
            board.screenshot(path=str(IMG / "dashboard-running.png"))

            (slow,) = sql_json(home, "SELECT event_key FROM events WHERE event_type = 'slow'")
            key = slow["event_key"]
            # -- pause it: the stage is in history, by the dashboard
            click(row.locator(".nbflow-act-pause"))
            expect(board.locator(".nbflow-dash-message")).to_contain_text(f"pause event:{key}")
            expect(board.locator(".nbflow-msg-ok")).to_be_visible()
            paused = sql_json(home, f"SELECT action, actor FROM stages WHERE event_key = '{key}' "
                                    "AND action = 'paused' AND flow IS NULL")
            assert paused == [{"action": "paused", "actor": "dashboard"}]
            expect(row.locator(".nbflow-status-paused").first).to_be_visible()
            # -- cancel it: asks first, then ends the sleeping task
            click(row.locator(".nbflow-act-cancel"))
            expect(row.locator(".nbflow-confirm-box")).to_be_visible()
            assert sql_json(home, f"SELECT count(*) AS n FROM stages WHERE event_key = '{key}' "
                                  "AND action = 'cancelled'") == [{"n": 0}]
            click(row.locator(".nbflow-confirm"))
            expect(board.locator(".nbflow-dash-message")).to_contain_text(f"cancel event:{key}")
            wait_for(lambda: sql_json(home, f"SELECT status FROM events WHERE event_key = '{key}'")
                     [0]["status"] not in ("active", "paused"), timeout=30, interval=0.5,
                     what="the cancelled event to end")
            cancelled = sql_json(home, f"SELECT task, actor FROM stages WHERE event_key = '{key}' "
                                       "AND action = 'cancelled' AND task = 'sleep'")
            assert cancelled == [{"task": "sleep", "actor": "dashboard"}]
            expect(board.locator(".nbflow-running-row", has_text="slow:300.0")).to_have_count(0, timeout=10_000)
        except BaseException:
            page.screenshot(path=str(tmp_path / "failure.png"))     # evidence first
            raise
        finally:
            browser.close()
