"""The declared surface: ``nbflow.__all__`` is pinned, every name in it resolves, and
importing ``nbflow`` stays light."""

from __future__ import annotations

import subprocess
import sys

import nbflow

PUBLIC = [
    "Config", "ConfigError", "ControlError", "EngineNotRunning", "Event", "EventType", "Flow",
    "GeneratorSpec", "Handle", "NbflowError", "OnExp", "Task", "UnknownNameError",
    "ValidationError", "Var", "WorkspaceError", "artifact", "dashboard", "emit", "load_config",
    "load_ipython_extension", "publish", "start", "unload_ipython_extension",
]


def test_all_is_pinned_and_every_name_resolves():
    assert sorted(nbflow.__all__) == sorted(PUBLIC)
    for name in nbflow.__all__:
        assert getattr(nbflow, name) is not None, name


def test_errors_form_one_hierarchy():
    for name in ("ConfigError", "ValidationError", "UnknownNameError", "WorkspaceError",
                 "EngineNotRunning", "ControlError"):
        assert issubclass(getattr(nbflow, name), nbflow.NbflowError)
    assert issubclass(nbflow.UnknownNameError, LookupError)


def test_unknown_attribute_is_an_attribute_error():
    try:
        nbflow.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_nbflow_loads_nothing_heavy():
    code = ("import sys, nbflow; heavy = {'duckdb', 'trio', 'pandas', 'pyarrow', 'papermill', "
            "'bokeh', 'ipywidgets', 'yaml'} & {m.split('.')[0] for m in sys.modules}; print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
