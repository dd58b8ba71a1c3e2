"""The fast paths stay light: ``nbflow emit`` (run inside every task that emits), the task API,
``nbflow --help`` and ``nbflow check --help`` never import the engine's heavy dependencies.

Each case runs in a fresh interpreter and looks at ``sys.modules`` after the real work was
done (an emit queued in a real workspace's inbox), so an import added anywhere on the path -
a module-level ``import duckdb`` in a helper, an eager re-export in ``nbflow/__init__`` - fails
here with the names of what got loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: What the fast paths must never load (each costs 0.1-1 s of start-up).
HEAVY = ("duckdb", "trio", "papermill", "bokeh", "ipywidgets", "pandas", "pyarrow", "networkx")

CONFIG = """\
events:
  - name: price
    vars:
      - {name: region, type: str, choices: [us, eu, asia]}
      - {name: days, type: int, min: 1, max: 365, default: 30}
    flows:
      - name: main
        tasks:
          - {name: fetch, cmd: "true"}
"""

# Runs in the child: do the work, then report the exit code and what got imported.
PROBE = """
import json, sys
HEAVY = {heavy!r}
try:
{body}
except SystemExit as exc:
    code = exc.code
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set(HEAVY))
print("\\n" + json.dumps({{"code": code, "loaded": loaded}}))
"""


def probe(body: str, env: dict[str, str] | None = None) -> tuple[int, list[str], str]:
    """Run ``body`` (which sets ``code``) in a fresh interpreter; (code, heavy modules, stdout)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NBFLOW_")}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    full_env.update(env or {})
    script = PROBE.format(heavy=HEAVY, body=textwrap.indent(textwrap.dedent(body), "    "))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env=full_env, cwd=REPO)
    assert proc.returncode == 0, f"the probe crashed:\n{proc.stdout}\n{proc.stderr}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return report["code"], report["loaded"], proc.stdout


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, Path]:
    """A config and a workspace whose ``types.json`` says what the engine last ran (as the
    engine writes it on start), with nothing in its inbox."""
    from nbflow.config import load_config
    from nbflow.spec.serialize import types_to_json

    config = tmp_path / "flow.yaml"
    config.write_text(CONFIG)
    home = tmp_path / "home"
    home.mkdir()
    (home / "types.json").write_text(json.dumps(types_to_json(load_config(str(config)).event_types)))
    return config, home


def queued(home: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((home / "inbox").glob("*.json"))]


def test_nbflow_emit_from_types_json_loads_nothing_heavy(workspace):
    _, home = workspace
    code, loaded, out = probe(f"""
        from nbflow.cli import main
        code = main(["emit", "--home", {str(home)!r}, "price", "region=eu", "days=7"])
    """)
    assert code == 0
    assert loaded == [], f"nbflow emit imported {loaded}"
    (cmd,) = queued(home)
    assert cmd["op"] == "emit" and cmd["values"] == {"region": "eu", "days": 7}
    assert cmd["event_key"] in out          # the key printed is the one queued


def test_nbflow_emit_with_config_loads_nothing_heavy(workspace):
    config, home = workspace
    code, loaded, _ = probe(f"""
        from nbflow.cli import main
        code = main(["emit", "--home", {str(home)!r}, "--config", {str(config)!r}, "price", "region=us"])
    """)
    assert code == 0
    assert loaded == [], f"nbflow emit --config imported {loaded}"
    assert [c["values"] for c in queued(home)] == [{"region": "us", "days": 30}]


def test_rejected_emit_loads_nothing_heavy_and_queues_nothing(workspace):
    _, home = workspace
    code, loaded, _ = probe(f"""
        from nbflow.cli import main
        code = main(["emit", "--home", {str(home)!r}, "price", "region=mars"])
    """)
    assert code == 2
    assert loaded == [], f"a rejected nbflow emit imported {loaded}"
    assert queued(home) == []


def test_task_api_emit_inside_a_task_loads_nothing_heavy(workspace):
    # What a script task does: NBFLOW_HOME / NBFLOW_RUN_ID come from the engine.
    _, home = workspace
    run_id = "20260101T000000.000000-abcdef/main.fetch#1"
    code, loaded, _ = probe("""
        import nbflow, nbflow.cli, nbflow.cli.emit, nbflow.taskapi
        key = nbflow.emit("price", region="asia")
        code = 0 if key else 1
    """, env={"NBFLOW_HOME": str(home), "NBFLOW_RUN_ID": run_id})
    assert code == 0
    assert loaded == [], f"nbflow.emit() in a task imported {loaded}"
    (cmd,) = queued(home)
    assert cmd["parent_run_id"] == run_id and cmd["source"] == "task"


def test_emit_to_loads_nothing_heavy(workspace):
    _, home = workspace
    code, loaded, _ = probe(f"""
        from nbflow.taskapi import emit_to
        from nbflow.workspace import Workspace
        emit_to(Workspace.resolve({str(home)!r}), "price", {{"region": "eu"}})
        code = 0
    """)
    assert code == 0
    assert loaded == [], f"emit_to imported {loaded}"
    assert len(queued(home)) == 1


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"], ["emit", "--help"]])
def test_help_loads_nothing_heavy(argv):
    code, loaded, out = probe(f"""
        from nbflow.cli import main
        code = main({argv!r})
    """)
    assert code == 0
    assert "usage: nbflow" in out
    assert loaded == [], f"nbflow {' '.join(argv)} imported {loaded}"


def test_nbflow_help_exits_0_and_lists_the_commands():
    script = Path(sys.executable).parent / "nbflow"
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "nbflow"]
    proc = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for command in ("check", "run", "emit", "publish", "sql", "status"):
        assert command in proc.stdout
