"""Every kind of config error: its exact ``.path``, its line, and a message that teaches."""

from __future__ import annotations

import textwrap

import pytest

from nbflow.config import load_config_text
from nbflow.errors import ConfigError


def errors_of(text: str) -> list[ConfigError]:
    with pytest.raises(ConfigError) as info:
        load_config_text(textwrap.dedent(text).lstrip("\n"), name="t.yaml")
    return info.value.errors


def one_error(text: str) -> ConfigError:
    errors = errors_of(text)
    assert len(errors) == 1, "\n".join(e.location_line() for e in errors)
    assert errors[0].file == "t.yaml"
    return errors[0]


def check(text: str, path: str | None, line: int, *fragments: str) -> ConfigError:
    error = one_error(text)
    assert (error.path, error.line) == (path, line), error.location_line()
    for fragment in fragments:
        assert fragment in error.message, error.message
    return error


# --- the file itself ----------------------------------------------------------------------------

def test_malformed_yaml_names_its_line():
    check("""
        events:
          - name: t
            vars: [a, b
          - name: u
        """, None, 4, "malformed YAML")


def test_tabs_are_malformed_yaml():
    check("events:\n\t- name: t\n", None, 2, "malformed YAML")


def test_several_documents_are_an_error():
    check("events: []\n---\nevents: []\n", None, 2, "malformed YAML", "single document")


def test_top_level_must_be_a_mapping():
    check("- name: t\n- name: u\n", None, 1, "the config must be a mapping", "got a list")


def test_empty_file():
    check("# nothing\n", None, 1, "empty")


def test_events_is_required():
    check("engine: {max_parallel: 2}\n", "events", 1, "missing required key 'events'")


def test_events_must_be_a_list():
    check("events: {name: t}\n", "events", 1, "must be a list", "got a mapping")


def test_unknown_top_level_key_with_did_you_mean():
    check("events: []\nengnie: {}\n", "engnie", 2, "unknown key 'engnie'", "did you mean 'engine'?")


def test_duplicate_yaml_keys_are_errors():
    check("""
        events:
          - name: t
            name: u
        """, "events[0].name", 3, "appears twice", "first on line 2")


# --- event types --------------------------------------------------------------------------------

def test_event_type_needs_a_name():
    check("""
        events:
          - flows: []
        """, "events[0].name", 2, "missing required key 'name'")


def test_bad_identifier():
    check("""
        events:
          - name: my-type
        """, "events[0].name", 2, "'my-type' is not a valid name")


def test_event_type_unknown_key():
    check("""
        events:
          - name: t
            flow: []
        """, "events[0].flow", 3, "unknown key 'flow'", "did you mean 'flows'?", "an event type takes:")


def test_event_type_must_be_a_mapping():
    check("""
        events:
          - name: t
          - just text
        """, "events[1]", 3, "an event type must be a mapping", "the string 'just text'")


def test_duplicate_event_type():
    check("""
        events:
          - name: t
          - name: u
          - name: t
        """, "events[2].name", 4, "duplicate event type name 't'", "the first is at events[0] (line 2)")


def test_bad_deadline_duration():
    check("""
        events:
          - name: t
            deadline: soon
        """, "events[0].deadline", 3, "expected a duration", "'soon'")


def test_deadline_flow_needs_a_deadline():
    check("""
        events:
          - name: t
            flows:
              - name: late
                on: deadline
                tasks: [{name: a, cmd: echo}]
        """, "events[0].flows[0].on", 5, "declares no deadline", "deadline: 2h")


def test_flow_on_must_be_event_or_deadline():
    check("""
        events:
          - name: t
            flows:
              - {name: f, on: evnt, tasks: [{name: a, cmd: echo}]}
        """, "events[0].flows[0].on", 4, "'evnt' is not one of: event, deadline", "did you mean 'event'?")


# --- vars ---------------------------------------------------------------------------------------

def test_unknown_var_type_lists_valid_ones():
    check("""
        events:
          - name: t
            vars:
              - {name: x, type: integer}
        """, "events[0].vars[0].type", 4, "'integer'", "str, int, float, bool, date, datetime",
        "did you mean 'int'?")


def test_min_above_max():
    check("""
        events:
          - name: t
            vars:
              - name: x
                type: int
                min: 10
                max: 3
        """, "events[0].vars[0].max", 7, "min 10 is above max 3")


@pytest.mark.parametrize("var_type", ["bool", "str"])
def test_min_max_do_not_apply_to_bool_or_str(var_type):
    check(f"""
        events:
          - name: t
            vars:
              - {{name: x, type: {var_type}, max: 1}}
        """, "events[0].vars[0].max", 4, f"not to {var_type} vars")


def test_min_of_the_wrong_type():
    check("""
        events:
          - name: t
            vars:
              - {name: d, type: date, min: yesterday}
        """, "events[0].vars[0].min", 4, "min 'yesterday' is not a date")


def test_bad_regex():
    check("""
        events:
          - name: t
            vars:
              - {name: x, regex: "([a-z"}
        """, "events[0].vars[0].regex", 4, "does not compile")


def test_choice_of_the_wrong_type():
    check("""
        events:
          - name: t
            vars:
              - name: n
                type: int
                choices:
                  - 1
                  - two
        """, "events[0].vars[0].choices[1]", 8, "choice 'two' is not an int")


def test_choice_outside_the_other_rules():
    check("""
        events:
          - name: t
            vars:
              - {name: n, type: int, max: 5, choices: [1, 9]}
        """, "events[0].vars[0].choices[1]", 4, "choice '9' can never be used", "max")


def test_choices_must_be_a_list():
    check("""
        events:
          - name: t
            vars:
              - {name: r, choices: us}
        """, "events[0].vars[0].choices", 4, "choices must be a list", "the string 'us'")


def test_default_that_breaks_a_rule_names_var_and_rule():
    error = check("""
        events:
          - name: t
            vars:
              - {name: region, choices: [us, eu], default: asia}
        """, "events[0].vars[0].default", 4, "var 'region'", "rule: choices", "'asia'")
    assert error.location_line().startswith("t.yaml:4: events[0].vars[0].default: default 'asia'")


def test_default_of_the_wrong_type():
    check("""
        events:
          - name: t
            vars:
              - {name: h, type: int, default: many}
        """, "events[0].vars[0].default", 4, "var 'h'", "rule: type", "expected an integer")


def test_duplicate_var():
    check("""
        events:
          - name: t
            vars:
              - {name: x}
              - {name: x, type: int}
        """, "events[0].vars[1].name", 5, "duplicate var name 'x'", "events[0].vars[0] (line 4)")


def test_reserved_var_name():
    check("""
        events:
          - name: t
            vars: [{name: workdir}]
        """, "events[0].vars[0].name", 3, "'workdir' is reserved")


def test_vars_must_be_a_list():
    check("""
        events:
          - name: t
            vars: abc
        """, "events[0].vars", 3, "vars must be a list", "the string 'abc'")


def test_unknown_var_key_did_you_mean():
    check("""
        events:
          - name: t
            vars:
              - {name: x, chioces: [a]}
        """, "events[0].vars[0].chioces", 4, "did you mean 'choices'?")


# --- flows and tasks ----------------------------------------------------------------------------

FLOW_HEAD = """
events:
  - name: t
    vars: [{name: x, type: int}]
    flows:
      - name: main
        tasks:
"""


def flow(tasks: str) -> str:
    return FLOW_HEAD.lstrip("\n") + textwrap.indent(textwrap.dedent(tasks).lstrip("\n"), " " * 10)


def test_flow_needs_tasks():
    check("""
        events:
          - name: t
            flows:
              - name: main
                tasks: []
        """, "events[0].flows[0].tasks", 5, "at least one task")


def test_tasks_must_be_a_list():
    check("""
        events:
          - name: t
            flows:
              - {name: main, tasks: "a, b"}
        """, "events[0].flows[0].tasks", 4, "tasks must be a list")


def test_duplicate_flow():
    check("""
        events:
          - name: t
            flows:
              - {name: main, tasks: [{name: a, cmd: echo}]}
              - {name: main, tasks: [{name: b, cmd: echo}]}
        """, "events[0].flows[1].name", 5, "duplicate flow name 'main'")


def test_duplicate_task():
    check(flow("""
        - {name: a, cmd: echo}
        - {name: a, cmd: echo}
        """), "events[0].flows[0].tasks[1].name", 8, "duplicate task name 'a'",
        "events[0].flows[0].tasks[0] (line 7)")


def test_dependency_on_unknown_task_with_did_you_mean():
    check(flow("""
        - {name: download, cmd: echo}
        - {name: report, depends_on: [downlaod], cmd: echo}
        """), "events[0].flows[0].tasks[1].depends_on[0]", 8,
        "'downlaod', which is not a task of flow 'main'", "did you mean 'download'?",
        "its tasks: download, report")


def test_second_element_of_depends_on():
    check(flow("""
        - {name: a, cmd: echo}
        - name: b
          cmd: echo
          depends_on:
            - a
            - zz
        """), "events[0].flows[0].tasks[1].depends_on[1]", 12, "'zz'")


def test_dependency_on_a_task_of_another_flow():
    check("""
        events:
          - name: t
            flows:
              - name: main
                tasks:
                  - {name: a, cmd: echo, depends_on: [b]}
              - name: other
                tasks:
                  - {name: b, cmd: echo}
        """, "events[0].flows[0].tasks[0].depends_on[0]", 6,
        "task 'b' is in flow 'other'; dependencies never cross a flow: emit an event instead")


def test_self_dependency():
    check(flow("""
        - {name: a, cmd: echo, depends_on: a}
        """), "events[0].flows[0].tasks[0].depends_on", 7, "task 'a' depends on itself")


def test_cycle_is_named():
    check(flow("""
        - {name: a, cmd: echo, depends_on: [c]}
        - {name: b, cmd: echo, depends_on: [a]}
        - {name: c, cmd: echo, depends_on: [b]}
        - {name: d, cmd: echo}
        """), "events[0].flows[0].tasks[0].depends_on", 7, "dependency cycle: a -> c -> b -> a")


def test_depends_on_must_be_a_list_or_string():
    check(flow("""
        - {name: a, cmd: echo}
        - {name: b, cmd: echo, depends_on: {a: 1}}
        """), "events[0].flows[0].tasks[1].depends_on", 8, "must be a list (or a single string)")


def test_task_needs_a_runner():
    check(flow("""
        - {name: a}
        """), "events[0].flows[0].tasks[0]", 7, "a task needs a runner", "cmd", "notebook", "python")


def test_task_has_exactly_one_runner():
    check(flow("""
        - name: a
          cmd: echo
          python: "m:f"
        """), "events[0].flows[0].tasks[0].python", 9, "exactly one runner", "both cmd and python")


def test_bad_python_reference():
    check(flow("""
        - {name: a, python: mypkg.tasks.publish}
        """), "events[0].flows[0].tasks[0].python", 7, "must be `module:function`")


def test_notebook_must_be_ipynb():
    check(flow("""
        - {name: a, notebook: report.py}
        """), "events[0].flows[0].tasks[0].notebook", 7, ".ipynb")


def test_parameters_only_with_notebook():
    check(flow("""
        - {name: a, cmd: echo, parameters: {p: 1}}
        """), "events[0].flows[0].tasks[0].parameters", 7, "only to notebook tasks")


def test_kernel_only_with_notebook():
    check(flow("""
        - {name: a, python: "m:f", kernel: python3}
        """), "events[0].flows[0].tasks[0].kernel", 7, "only to notebook tasks", "python task")


def test_unbalanced_quotes_in_cmd():
    check(flow("""
        - {name: a, cmd: "echo 'hi"}
        """), "events[0].flows[0].tasks[0].cmd", 7, "cannot be split", "quotes")


def test_cmd_field_split_at_a_space():
    check(flow("""
        - {name: a, cmd: "echo {x:>5 d}"}
        """), "events[0].flows[0].tasks[0].cmd", 7, "write cmd as a list")


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("retries", "-1", "at least 0"),
    ("retries", "two", "whole number"),
    ("retry_delay", "forever", "expected a duration"),
    ("timeout", "0", "more than zero"),
    ("timeout", "5 minutes", "expected a duration"),
])
def test_bad_task_numbers_and_durations(key, value, fragment):
    check(flow(f"""
        - name: a
          cmd: echo
          {key}: {value}
        """), f"events[0].flows[0].tasks[0].{key}", 9, fragment)


@pytest.mark.parametrize(("task", "path", "fragment"), [
    ('{name: a, cmd: "echo {y}"}', "cmd", "{y} does not exist"),
    ('{name: a, cmd: [echo, "{x}", "{regoin}"]}', "cmd[2]", "{regoin} does not exist"),
    ('{name: a, cmd: echo, env: {A: "{x}", B: "{nope}"}}', "env.B", "{nope}"),
    ('{name: a, cmd: echo, cwd: "{workdri}"}', "cwd", "did you mean 'workdir'?"),
    ('{name: a, notebook: n.ipynb, parameters: {p: "{fire_time}"}}', "parameters.p", "{fire_time}"),
    ('{name: a, cmd: "echo {x.y}"}', "cmd", "{x} has no parts"),
    ('{name: a, cmd: "echo {x!r}"}', "cmd", "conversions"),
    ('{name: a, cmd: "echo {"}', "cmd", "bad template"),
])
def test_task_templates_reference_only_offered_names(task, path, fragment):
    error = check(flow(f"- {task}\n"), f"events[0].flows[0].tasks[0].{path}", 7, fragment)
    if "does not exist" in fragment:
        assert "names offered here: x, event_key, event_type, run_id, workdir" in error.message


def test_env_names_must_be_valid():
    check(flow("""
        - {name: a, cmd: echo, env: {MY-VAR: 1}}
        """), "events[0].flows[0].tasks[0].env.MY-VAR", 7, "not a valid environment variable name")


# --- generators ---------------------------------------------------------------------------------

GEN_HEAD = """
events:
  - name: src
    vars: [{name: region, choices: [us, eu]}, {name: day, type: date}]
    flows:
      - name: main
        tasks: [{name: publish, cmd: echo}]
  - name: t
    vars:
      - {name: region, choices: [us, eu]}
      - {name: horizon, type: int, min: 1, max: 30, default: 5}
    generators:
"""


def gen(body: str) -> str:
    return GEN_HEAD.lstrip("\n") + textwrap.indent(textwrap.dedent(body).lstrip("\n"), " " * 6)


G = "events[1].generators[0]"


def test_generator_needs_a_trigger():
    check(gen("""
        - {name: g, vals: {region: us}}
        """), G, 12, "a generator needs a trigger")


def test_generator_needs_a_name():
    check(gen("""
        - {subscribe: "src:final", vals: {region: us}}
        """), f"{G}.name", 12, "missing required key 'name'")


def test_duplicate_generator():
    check(gen("""
        - {name: g, subscribe: "src:final", vals: {region: us}}
        - {name: g, subscribe: "src:final", vals: {region: eu}}
        """), "events[1].generators[1].name", 13, "duplicate generator name 'g'")


def test_bad_onexp_names_the_field():
    error = check(gen("""
        - name: g
          on_time: {onexp: "0 0 32 * *", timezone: UTC}
          vals: {region: us}
        """), f"{G}.on_time.onexp", 13, "day-of-month")
    assert error.message.startswith("day-of-month")


def test_unknown_timezone():
    check(gen("""
        - name: g
          on_time:
            onexp: "0 9 * * *"
            timezone: Europe/Pariss
          vals: {region: us}
        """), f"{G}.on_time.timezone", 15, "unknown timezone 'Europe/Pariss'", "did you mean 'Europe/Paris'?")


def test_bad_onexp_and_bad_timezone_both_reported():
    errors = errors_of(gen("""
        - name: g
          on_time: {onexp: "0 0 * * FUNDAY", timezone: Nowhere/Land}
          vals: {region: us}
        """))
    assert [(e.path, e.line) for e in errors] == [(f"{G}.on_time.timezone", 13), (f"{G}.on_time.onexp", 13)]


def test_on_time_needs_onexp():
    check(gen("""
        - name: g
          on_time: {timezone: UTC}
          vals: {region: us}
        """), f"{G}.on_time.onexp", 13, "missing required key 'onexp'")


@pytest.mark.parametrize(("pattern", "fragment"), [
    ("sorce:final", "no event type 'sorce' (did you mean 'src'?); the config has: src, t"),
    ("src/mian:final", "event type 'src' has no flow 'mian' (did you mean 'main'?)"),
    ("src/main.publsh:success", "flow src/main has no task 'publsh' (did you mean 'publish'?)"),
    ("src:finished", "action 'finished' cannot be subscribed to"),
    ("src final", "is not a stage pattern of the form <type>[/<flow>[.<task>]]:<action>"),
])
def test_bad_subscriptions(pattern, fragment):
    check(gen(f"""
        - name: g
          subscribe:
            - "src:final"
            - "{pattern}"
          vals: {{region: us}}
        """), f"{G}.subscribe[1]", 15, fragment)


def test_vals_for_unknown_var():
    check(gen("""
        - {name: g, subscribe: "src:final", vals: {region: us, horizn: 3}}
        """), f"{G}.vals.horizn", 12, "has no var 'horizn'", "did you mean 'horizon'?")


def test_every_var_without_default_needs_a_val():
    check(gen("""
        - name: g
          subscribe: "src:final"
          vals: {horizon: 3}
        """), f"{G}.vals", 14, "var 'region' (str) has no default", "add `region: ...` to vals")


def test_missing_vals_points_at_the_generator():
    check(gen("""
        - {name: g, subscribe: "src:final"}
        """), f"{G}.vals", 12, "var 'region'")


def test_constant_val_is_validated_against_the_var():
    check(gen("""
        - name: g
          subscribe: "src:final"
          vals:
            region: us
            horizon: 50
        """), f"{G}.vals.horizon", 16, "val for 'horizon'", "var 'horizon'", "rule: max", "above the max 30")


def test_constant_val_of_the_wrong_type():
    check(gen("""
        - {name: g, subscribe: "src:final", vals: {region: us, horizon: soon}}
        """), f"{G}.vals.horizon", 12, "var 'horizon'", "rule: type")


def test_fire_time_only_with_on_time():
    check(gen("""
        - {name: g, subscribe: "src:final", vals: {region: "{fire_time:%Y}"}}
        """), f"{G}.vals.region", 12, "{fire_time} is not offered here", "only generators with on_time")


def test_trigger_only_with_subscribe():
    check(gen("""
        - {name: g, on_time: {onexp: "0 9 * * *"}, vals: {region: "{trigger.region}"}}
        """), f"{G}.vals.region", 12, "only generators with subscribe")


def test_trigger_var_must_exist_on_the_subscribed_type():
    check(gen("""
        - {name: g, subscribe: "src:final", vals: {region: "{trigger.regoin}"}}
        """), f"{G}.vals.region", 12, "trigger has no 'regoin'", "did you mean 'region'?",
        "action, day, event_key, flow, region, task")


def test_trigger_vars_of_several_types_must_be_common():
    check(gen("""
        - name: g
          subscribe: ["src:final", "t:final"]
          vals: {region: "{trigger.region}", horizon: "{trigger.day}"}
        """), f"{G}.vals.horizon", 14, "t has no var 'day'", "common vars")


def test_unknown_template_name_in_vals():
    check(gen("""
        - {name: g, on_time: "0 9 * * *", vals: {region: "{fire_tme}"}}
        """), f"{G}.vals.region", 12, "{fire_tme} does not exist", "did you mean 'fire_time'?")


def test_val_must_be_one_value():
    check(gen("""
        - {name: g, subscribe: "src:final", vals: {region: [us, eu]}}
        """), f"{G}.vals.region", 12, "a val is one value")


def test_where_var_must_be_of_the_subscribed_type():
    check(gen("""
        - {name: g, subscribe: "src:final", where: {horizon: 3}, vals: {region: us}}
        """), f"{G}.where.horizon", 12, "'horizon' is not a var of the subscribed type src",
        "vars to filter on: region, day")


def test_where_values_follow_the_var_rules():
    check(gen("""
        - name: g
          subscribe: "src:final"
          where:
            region: [us, asia]
          vals: {region: us}
        """), f"{G}.where.region[1]", 15, "'asia'", "rule: choices")


def test_where_needs_subscribe():
    check(gen("""
        - {name: g, on_time: "0 9 * * *", where: {region: us}, vals: {region: us}}
        """), f"{G}.where", 12, "no subscribe")


@pytest.mark.parametrize(("extra", "key", "fragment"), [
    ("hold: done", "hold", "'done' is not one of: emitted"),
    ("on_hold: queue", "on_hold", "has no hold"),
    ("catchup: all", "catchup", "only to generators with on_time"),
    ("queue_limit: 3", "queue_limit", "only with `on_hold: queue`"),
    ("state: [1, 2]", "state", "must be a mapping"),
    ('class: "not a class"', "class", "`module:Class`"),
])
def test_generator_policies(extra, key, fragment):
    check(gen(f"""
        - name: g
          subscribe: "src:final"
          vals: {{region: us}}
          {extra}
        """), f"{G}.{key}", 15, fragment)


def test_bad_catchup_policy():
    check(gen("""
        - {name: g, on_time: "0 9 * * *", vals: {region: us}, catchup: some}
        """), f"{G}.catchup", 12, "'some' is not one of: none, latest, all")


# --- engine -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("engine", "path", "fragment"), [
    ("{max_parallel: 0}", "engine.max_parallel", "at least 1"),
    ("{max_parallel: true}", "engine.max_parallel", "whole number"),
    ("{poll_interval: -1}", "engine.poll_interval", "must not be negative"),
    ("{kill_grace: later}", "engine.kill_grace", "expected a duration"),
    ("{max_paralel: 2}", "engine.max_paralel", "did you mean 'max_parallel'?"),
    ("[1]", "engine", "engine must be a mapping"),
])
def test_engine_errors(engine, path, fragment):
    check(f"events: []\nengine: {engine}\n", path, 2, fragment)


# --- all errors together ------------------------------------------------------------------------

def test_all_errors_are_reported_in_line_order():
    errors = errors_of("""
        events:
          - name: t
            vars:
              - {name: x, type: integr}
              - {name: y, type: int, min: 5, max: 1}
            generators:
              - {name: g, on_time: {onexp: "0 0 * * *", timezone: Mars/Olympus}, vals: {y: 2}}
            flows:
              - name: main
                tasks:
                  - {name: a, cmd: "echo {z}", depends_on: [b]}
                  - {name: b, cmd: echo, depends_on: [a], retries: -2}
              - name: main
                tasks: [{name: c, notebook: x.ipynb, cmd: echo}]
          - name: 2bad
        engine: {max_parallel: 0}
        """)
    assert [(e.path, e.line) for e in errors] == [
        ("events[0].vars[0].type", 4),
        ("events[0].vars[1].max", 5),
        ("events[0].generators[0].on_time.timezone", 7),
        ("events[0].generators[0].vals", 7),          # x has no default and no val
        ("events[0].flows[0].tasks[0].cmd", 11),
        ("events[0].flows[0].tasks[0].depends_on", 11),
        ("events[0].flows[0].tasks[1].retries", 12),
        ("events[0].flows[1].name", 13),
        ("events[0].flows[1].tasks[0].cmd", 14),
        ("events[1].name", 15),
        ("engine.max_parallel", 16),
    ]
    assert "dependency cycle: a -> b -> a" in errors[5].message


def test_combined_error_renders_every_line():
    with pytest.raises(ConfigError) as info:
        load_config_text("events:\n  - name: 1a\n  - name: 2b\n", name="c.yaml")
    text = str(info.value)
    assert text.startswith("2 config error(s):")
    assert "c.yaml:2: events[0].name: event type name '1a' is not a valid name" in text
    assert "c.yaml:3: events[1].name:" in text


def test_single_error_is_its_own_errors_list():
    with pytest.raises(ConfigError) as info:
        load_config_text("events: 3\n", name="c.yaml")
    assert info.value.errors == [info.value]
    assert info.value.location_line() == "c.yaml:1: events: events must be a list, got the number '3'"


def test_duplicate_is_reported_at_the_name_line():
    check("""
        events:
          - name: t
            vars:
              - name: x
              - type: int
                name: x
        """, "events[0].vars[1].name", 6, "duplicate var name 'x'")


def test_empty_subscribe():
    check(gen("""
        - {name: g, subscribe: [], vals: {region: us}}
        """), f"{G}.subscribe", 12, "lists no pattern")
