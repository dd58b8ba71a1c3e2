"""What a notebook task injects, and how a failing cell reads in history (no kernels)."""

from __future__ import annotations

import datetime as dt

import pytest

from nbflow.config import load_config
from nbflow.runners.base import EventFolders, RunContext
from nbflow.runners.notebook import cell_detail, notebook_path, parameters
from nbflow.spec.model import Event

from conftest import write_config

CONFIG = """
    events:
      - name: job
        vars:
          - {name: region, type: str}
          - {name: days, type: int}
          - {name: asof, type: date}
          - {name: moment, type: datetime, default: "2024-03-01T09:30:00+00:00"}
        flows:
          - name: main
            tasks:
              - name: nb
                notebook: notebooks/report.ipynb
                parameters:
                  days: "{days}"
                  window: "{days:03d}"
                  title: "Prices {region}"
                  asof: "{asof}"
                  data: "{workdir}/data.csv"
                  nested: {regions: ["{region}", "all"], limit: "{days}"}
                  plain: 3.5
                  region: "{region}"
"""


@pytest.fixture
def ctx(tmp_path):
    config = load_config(write_config(tmp_path, CONFIG))
    etype = config.event_type("job")
    values = etype.validate({"region": "eu", "days": "7", "asof": "2024-03-01"})
    task = etype.flows[0].tasks[0]
    key = "20240301T000000.000000-abcdef"
    return RunContext(run_id=f"{key}/main.nb#1", event=Event(etype, key, values), flow="main", task=task,
                      attempt=1, home=tmp_path / "home",
                      folders=EventFolders(tmp_path / "home" / "work" / key, tmp_path / "home" / "logs"))


def test_parameters_are_values_ids_then_rendered_templates(ctx, tmp_path):
    params = parameters(ctx)
    assert params == {
        "region": "eu", "days": 7, "asof": "2024-03-01", "moment": "2024-03-01T09:30:00+00:00",
        "event_key": ctx.event_key, "run_id": ctx.run_id,
        "window": "007", "title": "Prices eu", "data": f"{ctx.workdir_path}/data.csv",
        "nested": {"regions": ["eu", "all"], "limit": 7}, "plain": 3.5,
    }
    # a single-field template keeps the value's type; a date becomes ISO text
    assert type(params["days"]) is int and type(params["nested"]["limit"]) is int
    assert not any(isinstance(v, (dt.date, dt.datetime)) for v in params.values())
    assert list(params)[:6] == ["region", "days", "asof", "moment", "event_key", "run_id"]


def test_the_notebook_path_is_relative_to_the_config(ctx, tmp_path):
    assert notebook_path(ctx) == tmp_path / "notebooks" / "report.ipynb"


def test_a_failing_cell_reads_as_summary_source_and_traceback():
    detail = cell_detail({
        "kind": "cell", "cell_index": 2, "exec_count": 4, "ename": "KeyError", "evalue": "'price'",
        "source": "frame = load()\nframe['price'].mean()\n",
        "traceback": ["---------", "KeyError                Traceback (most recent call last)", "Cell In[4], line 2"],
    })
    assert detail.splitlines() == [
        "cell 2 (In [4]) raised KeyError: 'price'",
        "    frame = load()",
        "    frame['price'].mean()",
        "---------",
        "KeyError                Traceback (most recent call last)",
        "Cell In[4], line 2",
    ]


def test_a_long_traceback_keeps_its_end():
    tb = [f"frame {i}" for i in range(5000)]
    detail = cell_detail({"kind": "cell", "cell_index": 0, "exec_count": 1, "ename": "RecursionError",
                          "evalue": "too deep", "source": "f()", "traceback": tb})
    assert len(detail) < 7000 and detail.endswith("frame 4999") and "\n...\n" in detail


def test_a_notebook_that_could_not_run_reads_as_its_message():
    assert cell_detail({"kind": "error", "message": "no Jupyter kernel named 'r'"}) == "no Jupyter kernel named 'r'"
