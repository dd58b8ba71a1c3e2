"""Valid configs become the expected spec model: files, folders, several files, task order."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbflow.config import load_config, load_config_text
from nbflow.errors import ConfigError
from nbflow.spec.model import MISSING, Config, Deadline, EngineSettings, Location, OnTime, Subscription

FIXTURES = Path(__file__).parent / "fixtures" / "configs"


def load(text: str, **kwargs) -> Config:
    return load_config_text(textwrap.dedent(text).lstrip("\n"), name="t.yaml", **kwargs)


def test_design_example_becomes_the_model():
    config = load_config(FIXTURES / "valid.yaml")
    file = str(FIXTURES / "valid.yaml")
    assert [t.name for t in config.event_types] == ["price", "ingest"]
    price = config.event_type("price")
    assert price.location == Location("events[0]", file, 3)

    region, asof, horizon = price.vars
    assert (region.name, region.type, region.choices, region.default) == ("region", "str", ("us", "eu", "asia"), MISSING)
    assert (asof.type, asof.has_default) == ("date", False)
    assert (horizon.type, horizon.min, horizon.max, horizon.default) == ("int", 1, 30, 5)

    us_close, after_ingest = price.generators
    assert us_close.on_time == OnTime("0 0 14 * * MON-FRI", "America/New_York")
    assert us_close.vals == {"region": "us", "asof": "{fire_time:%Y-%m-%d}"}
    assert (us_close.hold, us_close.on_hold, us_close.subscribe) == ("final", "coalesce", ())
    assert us_close.location == Location("events[0].generators[0]", file, 9)
    assert after_ingest.subscribe == (Subscription("ingest", "main", "publish", "success",
                                                   "ingest/main.publish:success"),)
    assert after_ingest.on_time is None
    assert after_ingest.qualified_name == "price.after_ingest"

    (main,) = price.flows
    assert (main.name, main.on) == ("main", "event")
    assert [t.name for t in main.tasks] == ["download", "returns", "publish"]
    download, returns, publish = main.tasks
    assert download.runner == "cmd"
    assert download.cmd == ("python", "fetch.py", "--region", "{region}", "--asof", "{asof}")
    assert (download.retries, download.retry_delay, download.timeout) == (2, 30.0, None)
    assert download.base_dir == str(FIXTURES.resolve())
    assert download.location == Location("events[0].flows[0].tasks[0]", file, 19)
    assert (returns.runner, returns.notebook, returns.depends_on) == ("notebook", "notebooks/tasks/returns.ipynb",
                                                                      ("download",))
    assert (dict(returns.parameters), returns.timeout) == ({"window": "{horizon}"}, 600.0)
    assert (publish.runner, publish.python, publish.depends_on) == ("python", "mypkg.tasks:publish", ("returns",))
    # a YAML list cmd is taken as it is: one argv template per element
    assert config.event_type("ingest").flow("main").task("publish").cmd == ("echo", "{region} {asof}")

    assert config.sources == (FIXTURES.resolve() / "valid.yaml",)
    assert config.texts == {str(FIXTURES.resolve() / "valid.yaml"): (FIXTURES / "valid.yaml").read_text()}
    assert config.engine == EngineSettings()


def test_every_optional_field():
    config = load("""
        engine: {max_parallel: 2, poll_interval: 100ms, kill_grace: 1m}
        events:
          - name: t
            description: all the knobs
            deadline: 1h30m
            vars:
              - {name: d, type: date, min: 2024-01-01, max: "2024-12-31", description: the day}
              - {name: w, type: float, choices: [0.5, 1]}
              - {name: ok, type: bool, default: no}
              - {name: code, regex: "[A-Z]+", default: ABC}
              - {name: when, type: datetime, default: 2024-01-01T10:00:00}
              - {name: answer, default: no}
            generators:
              - name: g
                on_time: {onexp: "0 9 * * *", timezone: Europe/Paris}
                vals: {d: 2024-05-01, w: 0.5}
                hold: final
                on_hold: queue
                queue_limit: 7
                catchup: all
                catchup_limit: 3
                state: {count: 0, since: 2024-01-01, tags: [a]}
              - name: custom
                class: "mypkg.gens:Poller"
              - name: filtered
                subscribe: "t:final"
                where: {w: [0.5, 1], code: ABC}
                vals: {d: "{trigger.d}", w: "{trigger.w}"}
            flows:
              - name: main
                tasks:
                  - name: a
                    description: first
                    cmd: echo {d}
                    env: {A: "{d}", N: 5}
                    cwd: "{workdir}/sub"
                    retries: 0
                    timeout: 2.5
                  - {name: nb, notebook: n.ipynb, kernel: python3,
                     parameters: {when: 2024-01-02, n: 3, xs: [1, "{d}"]}}
              - name: late
                on: deadline
                tasks: [{name: alert, python: "pkg.mod:alert"}]
        """, base_dir="/tmp")
    assert config.engine == EngineSettings(max_parallel=2, poll_interval=0.1, kill_grace=60.0)
    t = config.event_type("t")
    assert (t.description, t.deadline) == ("all the knobs", Deadline(after=5400.0))
    d, w, ok, code, when, answer = t.vars
    assert (d.min, d.max, d.description) == (dt.date(2024, 1, 1), dt.date(2024, 12, 31), "the day")
    assert w.choices == (0.5, 1.0)
    assert ok.default is False
    assert code.regex == "[A-Z]+"
    assert when.default == dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC)
    assert answer.default == "no"          # a str var reads YAML's `no` as written
    g, custom, filtered = t.generators
    assert g.vals == {"d": dt.date(2024, 5, 1), "w": 0.5}
    assert (g.on_hold, g.queue_limit, g.catchup, g.catchup_limit) == ("queue", 7, "all", 3)
    assert g.state == {"count": 0, "since": "2024-01-01", "tags": ["a"]}
    assert (custom.class_, custom.on_time, custom.subscribe, custom.vals) == ("mypkg.gens:Poller", None, (), {})
    assert filtered.where == {"w": (0.5, 1.0), "code": ("ABC",)}
    a, nb = t.flow("main").tasks
    assert (a.env, a.cwd, a.retries, a.timeout, a.base_dir) == ({"A": "{d}", "N": "5"}, "{workdir}/sub", 0, 2.5, "/tmp")
    assert (nb.kernel, dict(nb.parameters)) == ("python3", {"when": "2024-01-02", "n": 3, "xs": [1, "{d}"]})
    assert t.flow("late").on == "deadline"


def test_onexp_deadline_and_on_time_shorthand():
    config = load("""
        events:
          - name: t
            deadline: {onexp: "0 0 18 * * MON-FRI", timezone: Asia/Tokyo}
            generators: [{name: g, on_time: "*/5 * * * *"}]
        """)
    t = config.event_type("t")
    assert t.deadline == Deadline(on_time=OnTime("0 0 18 * * MON-FRI", "Asia/Tokyo"))
    assert t.generators[0].on_time == OnTime("*/5 * * * *", "UTC")
    fire = t.generators[0].on_time.schedule().next(dt.datetime(2024, 1, 1, 0, 1, tzinfo=dt.UTC))
    assert fire == dt.datetime(2024, 1, 1, 0, 5, tzinfo=dt.UTC)


def test_yaml_merge_keys_and_anchors():
    config = load("""
        events:
          - name: t
            flows:
              - name: main
                tasks:
                  - &base {name: a, cmd: echo a, retries: 3, timeout: 1m}
                  - <<: *base
                    name: b
                    cmd: echo b
        """)
    a, b = config.event_type("t").flow("main").tasks
    assert (a.name, a.retries) == ("a", 3)
    assert (b.name, b.cmd, b.retries, b.timeout) == ("b", ("echo", "b"), 3, 60.0)


# --- dependency order ---------------------------------------------------------------------------

def order(tasks: str) -> list[str]:
    text = "events:\n  - name: t\n    flows:\n      - name: main\n        tasks:\n" + textwrap.indent(
        textwrap.dedent(tasks).lstrip("\n"), " " * 10)
    return [t.name for t in load(text).event_type("t").flow("main").tasks]


def test_tasks_in_order_stay_in_order():
    assert order("""
        - {name: a, cmd: x}
        - {name: b, cmd: x, depends_on: a}
        - {name: c, cmd: x}
        - {name: d, cmd: x, depends_on: [b, c]}
        """) == ["a", "b", "c", "d"]


def test_tasks_are_sorted_by_dependency_declaration_order_among_ready_ones():
    assert order("""
        - {name: report, cmd: x, depends_on: [clean, stats]}
        - {name: stats, cmd: x, depends_on: [clean]}
        - {name: clean, cmd: x, depends_on: [fetch]}
        - {name: other, cmd: x}
        - {name: fetch, cmd: x}
        """) == ["other", "fetch", "clean", "stats", "report"]


def test_diamond_order():
    assert order("""
        - {name: join, cmd: x, depends_on: [left, right]}
        - {name: right, cmd: x, depends_on: root}
        - {name: left, cmd: x, depends_on: root}
        - {name: root, cmd: x}
        """) == ["root", "right", "left", "join"]


# --- several files, folders ---------------------------------------------------------------------

def test_folder_loads_yaml_and_yml_files_in_name_order():
    config = load_config(FIXTURES / "multi")
    assert [t.name for t in config.event_types] == ["price", "ingest"]
    assert [p.name for p in config.sources] == ["a_prices.yaml", "b_ingest.yml"]
    assert all(p.is_absolute() for p in config.sources)
    assert set(config.texts) == {str(p) for p in config.sources}
    assert config.engine.max_parallel == 3
    sub = config.event_type("price").generators[0].subscribe[0]
    assert (sub.event_type, sub.flow, sub.task, sub.action) == ("ingest", "load", "store", "final")
    assert config.event_type("ingest").location.file == str(FIXTURES / "multi" / "b_ingest.yml")


def test_files_given_one_by_one_load_into_one_config():
    config = load_config(str(FIXTURES / "multi" / "b_ingest.yml"), FIXTURES / "multi" / "a_prices.yaml")
    assert [t.name for t in config.event_types] == ["ingest", "price"]


def test_a_file_named_twice_loads_once():
    config = load_config(FIXTURES / "multi", FIXTURES / "multi" / "a_prices.yaml")
    assert len(config.sources) == 2


def test_duplicate_type_across_files_names_both_places():
    with pytest.raises(ConfigError) as info:
        load_config(FIXTURES / "dup")
    error = info.value
    assert error.errors == [error]
    assert (error.file, error.line, error.path) == (str(FIXTURES / "dup" / "y.yaml"), 2, "events[0].name")
    assert f"the first is at events[1] ({FIXTURES / 'dup' / 'x.yaml'}:3)" in error.message


def test_errors_of_several_files_come_in_file_then_line_order():
    with pytest.raises(ConfigError) as info:
        load_config(FIXTURES / "bad")
    one, two = str(FIXTURES / "bad" / "one.yaml"), str(FIXTURES / "bad" / "two.yaml")
    assert [(e.file, e.line, e.path) for e in info.value.errors] == [
        (one, 4, "events[0].vars[0].type"),
        (one, 8, "events[0].flows[0].tasks[0].depends_on[0]"),
        (two, 4, "events[0].generators[0].subscribe"),     # a type of one.yaml, checked from two.yaml
    ]
    assert "flow t/main has no task 'c'" in info.value.errors[2].message


def test_engine_in_two_files_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text("engine: {max_parallel: 1}\nevents: []\n")
    (tmp_path / "b.yaml").write_text("events: []\nengine: {max_parallel: 2}\n")
    with pytest.raises(ConfigError, match="engine settings are already given in") as info:
        load_config(tmp_path)
    assert (info.value.path, info.value.line) == ("engine", 2)


def test_missing_file_and_empty_folder(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert info.value.location_line() == f"{tmp_path / 'nope.yaml'}: no such file or folder"
    with pytest.raises(ConfigError, match=r"the folder has no \*.yaml or \*.yml files"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match="no config given"):
        load_config()


def test_not_utf8(tmp_path):
    (tmp_path / "x.yaml").write_bytes(b"events: [\xff]\n")
    with pytest.raises(ConfigError, match="not a UTF-8 text file"):
        load_config(tmp_path / "x.yaml")


@pytest.mark.parametrize("tagged", ["!!python/object/apply:os.system [echo hi]", "!custom x"])
def test_python_and_custom_tags_are_refused(tagged):
    with pytest.raises(ConfigError, match="is not allowed: a config is plain YAML") as info:
        load(f"""
            events:
              - name: t
                description: {tagged}
            """)
    assert info.value.line == 3


def test_load_config_text_defaults():
    config = load_config_text("events: [{name: t}]\n")
    assert config.sources == ()
    assert config.texts == {"<string>": "events: [{name: t}]\n"}
    assert config.event_type("t").location == Location("events[0]", "<string>", 1)


def test_python_reference_may_name_a_method():
    config = load("""
        events:
          - name: t
            flows: [{name: f, tasks: [{name: a, python: "pkg.mod:Runner.go"}]}]
        """)
    assert config.event_type("t").flows[0].tasks[0].python == "pkg.mod:Runner.go"


@st.composite
def dags(draw):
    """A DAG of up to 8 tasks, declared in a random order: (declared names, deps per name)."""
    n = draw(st.integers(1, 8))
    names = [f"t{i}" for i in range(n)]
    deps = {name: sorted(draw(st.sets(st.sampled_from(names[:i]), max_size=3))) if i else []
            for i, name in enumerate(names)}
    declared = draw(st.permutations(names))
    return declared, deps


@settings(max_examples=60, deadline=None)
@given(dags())
def test_task_order_respects_dependencies_and_declaration(dag):
    declared, deps = dag
    lines = "".join(f"  - {{name: {n}, cmd: x, depends_on: [{', '.join(deps[n])}]}}\n" for n in declared)
    result = order(lines)
    assert sorted(result) == sorted(declared)
    position = {name: i for i, name in enumerate(result)}
    for name in declared:
        assert all(position[dep] < position[name] for dep in deps[name])
    # stable: each task comes as early as possible among those ready, by declaration index
    done: set[str] = set()
    for name in result:
        ready = [n for n in declared if n not in done and set(deps[n]) <= done]
        assert name == ready[0]
        done.add(name)


def test_str_vals_are_template_text_checked_as_rendered():
    config = load("""
        events:
          - name: t
            vars: [{name: s, regex: "[{}a]+"}, {name: n, type: int, default: 1}]
            generators: [{name: g, on_time: "0 * * * *", vals: {s: "{{a}}", n: "7"}}]
        """)
    assert config.event_type("t").generators[0].vals == {"s": "{{a}}", "n": 7}
