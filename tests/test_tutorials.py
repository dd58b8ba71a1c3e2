"""Every tutorial notebook in notebooks/ runs top to bottom in a fresh kernel, as Binder opens
it: in a copy of the repository, with the extension and the demo configs it uses.

``notebooks/dashboard.ipynb`` has tests of its own; ``notebooks/tasks/`` holds notebooks that
configs run as tasks (tests/test_notebook_tasks.py and sql_history.ipynb run them).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import REPO

TUTORIALS = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb") if p.name != "dashboard.ipynb")
ALL_NOTEBOOKS = sorted(p for p in (REPO / "notebooks").rglob("*.ipynb") if p.name != "dashboard.ipynb")


@pytest.fixture
def workspace_copy(tmp_path) -> Path:
    """notebooks/ and configs/ copied as a checkout has them (no workspaces left by a run)."""
    ignore = shutil.ignore_patterns(".nbflow", ".ipynb_checkpoints", "__pycache__")
    for folder in ("notebooks", "configs"):
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=ignore)
    return tmp_path


def test_the_tutorials_are_found():
    assert {"quickstart.ipynb", "sql_history.ipynb"} <= set(TUTORIALS)


@pytest.mark.slow
@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_runs_top_to_bottom(name, workspace_copy, monkeypatch, no_leaked_children):
    import papermill

    for var in [v for v in os.environ if v.startswith("NBFLOW_")]:
        monkeypatch.delenv(var)
    notebooks = workspace_copy / "notebooks"
    executed = workspace_copy / f"executed-{name}"
    home = workspace_copy / "home"
    papermill.execute_notebook(str(notebooks / name), str(executed), parameters={"home": str(home)},
                               cwd=str(notebooks), kernel_name="python3", progress_bar=False,
                               log_output=False)
    cells = json.loads(executed.read_text())["cells"]
    errors = [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors
    # Each tutorial ran the engine in its kernel and left history behind, with the engine stopped.
    assert (home / "history.duckdb").exists()
    from nbflow.engine.lock import engine_running
    from nbflow.workspace import Workspace

    assert not engine_running(Workspace(home.resolve()))


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_notebooks_are_stored_clean(path):
    """Valid nbformat 4, no outputs or execution counts in the repository, a python3 kernelspec."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert nb.metadata.kernelspec.name == "python3"


def test_binder_installs_the_repository_for_the_tutorials():
    binder = REPO / "binder"
    assert (binder / "runtime.txt").read_text().strip() == "python-3.11"
    post_build = binder / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable"
    steps = [line.strip() for line in post_build.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert any("pip install" in s and s.endswith(" .") for s in steps), steps
