"""``nbflow check`` in a real subprocess: exit codes, the summary, the error lines, import weight."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "configs"
HEAVY = ("duckdb", "trio", "pandas", "papermill", "bokeh", "ipywidgets")


def nbflow(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "nbflow", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_valid_config_exits_0_with_a_summary():
    result = nbflow("check", "tests/fixtures/configs/valid.yaml")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("OK: tests/fixtures/configs/valid.yaml\n2 event types, 2 generators, 2 flows, 4 tasks\n")
    assert "event type price  (tests/fixtures/configs/valid.yaml:3)" in out
    assert "    region   str, choices [us, eu, asia], required\n" in out
    assert "    horizon  int, min 1, max 30, default 5\n" in out
    assert "us_close: on_time '0 0 14 * * MON-FRI' in America/New_York; hold until final (on_hold coalesce)" in out
    assert "after_ingest: subscribe ingest/main.publish:success" in out
    # the next 3 fire times, in the timer's zone (New York: -04:00 or -05:00)
    (nxt,) = re.findall(r"next: (.*)", out)
    fires = nxt.split(", ")
    assert len(fires) == 3
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d 14:00:00-0[45]:00", f) for f in fires), fires
    # tasks in dependency order, with runner and dependencies
    main = out[out.index("    main (runs on each event):"):]
    assert re.search(r"download +cmd: python fetch.py --region \{region\} --asof \{asof\}  \[retries 2 every 30s\]", main)
    assert re.search(r"returns +notebook: notebooks/tasks/returns.ipynb  \[after download; timeout 10m\]", main)
    assert re.search(r"publish +python: mypkg.tasks:publish  \[after returns\]", main)
    assert main.index("download") < main.index("returns") < main.index("publish")


def test_missing_notebook_is_a_warning_not_an_error():
    result = nbflow("check", "tests/fixtures/configs/valid.yaml")
    assert result.returncode == 0
    assert ("warning: tests/fixtures/configs/valid.yaml:20: events[0].flows[0].tasks[1].notebook: "
            "notebook 'notebooks/tasks/returns.ipynb' not found") in result.stderr


def test_invalid_config_exits_1_with_one_line_per_error():
    result = nbflow("check", "tests/fixtures/configs/bad")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines == [
        "tests/fixtures/configs/bad/one.yaml:4: events[0].vars[0].type: var type 'integer' is not one of: "
        "str, int, float, bool, date, datetime (did you mean 'int'?)",
        "tests/fixtures/configs/bad/one.yaml:8: events[0].flows[0].tasks[0].depends_on[0]: depends on 'b', "
        "which is not a task of flow 'main'; its tasks: a",
        "tests/fixtures/configs/bad/two.yaml:4: events[0].generators[0].subscribe: 't/main.c:success': "
        "flow t/main has no task 'c'; its tasks: a",
    ]


def test_error_lines_have_the_file_line_path_message_form(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("events:\n  - name: t\n    vars: [{name: 1x}, {name: y, type: int, min: 3, max: 1}]\n"
                   "    flows: [{name: f, tasks: [{name: a}]}]\n")
    result = nbflow("check", str(bad))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 3
    for line in lines:
        assert re.fullmatch(rf"{re.escape(str(bad))}:\d+: events\[0\]\.\S+: .+", line), line


def test_malformed_yaml_names_its_line(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("events:\n  - name: t\n    vars: [a, b\n  - name: u\n")
    result = nbflow("check", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{bad}:4: malformed YAML: ")
    assert len(result.stderr.splitlines()) == 1


def test_dash_is_not_stdin():
    result = nbflow("check", "-")
    assert result.returncode == 1  # '-' is no file: a clear error, not a traceback
    assert result.stderr.strip() == "-: no such file or folder"


def test_missing_file_exits_1():
    result = nbflow("check", "tests/fixtures/configs/valid.yaml", "no/such.yaml")
    assert result.returncode == 1
    assert result.stderr.strip() == "no/such.yaml: no such file or folder"
    assert "Traceback" not in result.stderr


def test_folder_of_several_files():
    result = nbflow("check", "tests/fixtures/configs/multi")
    assert result.returncode == 0, result.stderr
    assert "2 event types, 1 generator, 2 flows, 2 tasks" in result.stdout
    assert "after_ingest: subscribe ingest/load.store:final" in result.stdout


@pytest.mark.parametrize("config", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_config_passes(config):
    result = nbflow("check", str(config.relative_to(ROOT)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: ")
    assert "warning" not in result.stderr


def test_example_configs_exist():
    names = {p.name for p in (ROOT / "configs").glob("*.yaml")}
    assert {"timers.yaml", "subscriptions.yaml", "etl.yaml"} <= names


def test_help_is_quick_and_lists_the_argument():
    result = nbflow("check", "--help")
    assert result.returncode == 0
    assert "CONFIG" in result.stdout


def test_check_and_config_import_nothing_heavy():
    code = (
        "import sys\n"
        "import nbflow.cli.check, nbflow.config\n"
        "from nbflow.config import load_config\n"
        "from nbflow.cli.check import summarize\n"
        "summarize(load_config('configs/timers.yaml'))\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
