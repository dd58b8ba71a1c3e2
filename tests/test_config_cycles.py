"""Subscription loops: generators whose events trigger more of their own are warned about, by
``nbflow check``, at ``nbflow run`` start and by ``nbflow.start()``, worded by what ends them."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from nbflow.config import load_config_text
from nbflow.config.cycles import loop_warnings

from conftest import REPO, history_rows, nbflow_cli, write_config


def warnings_of(text: str) -> list[str]:
    return loop_warnings(load_config_text(textwrap.dedent(text), name="loops.yaml"))


SELF_LOOP = """\
events:
  - name: tick
    vars:
      - {name: n, type: int, default: 0}
    generators:
      - name: again
        subscribe: ["tick:final"]
        vals: {n: "{trigger.n}"}
"""


def test_a_generator_subscribed_to_its_own_type_is_a_loop_that_never_ends():
    assert warnings_of(SELF_LOOP) == [
        "loops.yaml:7: events[0].generators[0].subscribe[0]: subscription loop tick -> tick: "
        "tick.again subscribes to tick:final (here); nothing in it stops it: each event will "
        "emit the next without end"]


def test_a_two_type_loop_names_both_generators_with_their_places():
    (warning,) = warnings_of("""\
        events:
          - name: prices
            vars: [{name: region, type: str}]
            generators:
              - name: again
                subscribe: report_ready:final
                vals: {region: "{trigger.region}"}
          - name: report_ready
            vars: [{name: region, type: str}]
            generators:
              - name: on_prices
                subscribe: ["prices:emitted"]
                vals: {region: "{trigger.region}"}
        """)
    assert warning == (
        "loops.yaml:12: events[1].generators[0].subscribe[0]: subscription loop "
        "prices -> report_ready -> prices: report_ready.on_prices subscribes to prices:emitted (here); "
        "prices.again subscribes to report_ready:final (loops.yaml:6: events[0].generators[0].subscribe); "
        "nothing in it stops it: each event will emit the next without end")


THREE = """\
events:
  - name: a
    generators:
      - {name: from_c, subscribe: ["c/f:success"]}
  - name: b
    generators:
      - {name: from_a, subscribe: ["a:final"], hold: final}
  - name: c
    generators:
      - {name: from_b, subscribe: ["b:final"]}
      - {name: also_from_b, subscribe: ["b:failure"]}
    flows: [{name: f, tasks: [{name: t, cmd: "true"}]}]
"""


def test_a_three_type_loop_lists_every_generator_on_it_and_what_hold_does():
    (warning,) = warnings_of(THREE)
    assert warning.startswith("loops.yaml:7: events[1].generators[0].subscribe[0]: subscription loop "
                              "a -> b -> c -> a: b.from_a subscribes to a:final (here); ")
    assert "c.from_b subscribes to b:final (loops.yaml:10: events[2].generators[0].subscribe[0])" in warning
    assert "c.also_from_b subscribes to b:failure (loops.yaml:11: events[2].generators[1].subscribe[0])" in warning
    assert "a.from_c subscribes to c/f:success (loops.yaml:4: events[0].generators[0].subscribe[0])" in warning
    # hold slows the loop down, it does not end it
    assert warning.endswith("hold: final on b.from_a limits it to one event at a time, but nothing in it "
                            "stops it: each event will emit the next without end")


def test_a_loop_through_failures_says_it_lasts_while_events_fail():
    (warning,) = warnings_of(THREE.replace('["b:final"]', '["b:cancelled"]'))
    assert warning.endswith("nothing in it stops it: each event will emit the next without end "
                            "(for as long as they reach `cancelled` or `failure`)")


def test_a_chain_that_does_not_come_back_is_no_loop():
    assert warnings_of("""\
        events:
          - name: a
            generators: [{name: tick, on_time: {onexp: "0 6 * * *"}}]
          - name: b
            generators: [{name: after_a, subscribe: ["a:final", "a:failure"]}]
          - name: c
            generators: [{name: after_b, subscribe: b:final}, {name: after_a, subscribe: a:final}]
        """) == []


def test_a_where_that_may_end_the_loop_is_named():
    (warning,) = warnings_of("""\
        events:
          - name: pong
            vars: [{name: round, type: str, default: first}]
            generators:
              - name: again
                subscribe: pong:final
                where: {round: [first, second]}
                vals: {round: "{trigger.round}"}
        """)
    assert warning.endswith("subscription loop pong -> pong: pong.again subscribes to pong:final (here); "
                            "pong.again's `where:` may end it")


def test_a_where_that_refuses_the_loops_own_events_stops_it_after_one_round():
    (warning,) = warnings_of("""\
        events:
          - name: ping
            vars: [{name: round, type: str, default: first}]
            generators:
              - {name: again, subscribe: ping:final, where: {round: [first]}, vals: {round: second}}
        """)
    assert warning.endswith("ping.again's `where: round in [first]` refuses what ping.again emits "
                            "(round=second): the loop goes round at most once")


def test_a_custom_class_on_every_hop_may_end_the_loop():
    (warning,) = warnings_of("""\
        events:
          - name: t
            generators: [{name: poll, class: "mygens:Poller", subscribe: t:final}]
        """)
    assert warning.endswith("t.poll is a custom class (`mygens:Poller`), which may end it by returning no values")


def test_nbflow_check_prints_the_loop_warnings_with_file_and_line_and_exits_0(tmp_path):
    config = write_config(tmp_path, SELF_LOOP, "loops.yaml")
    result = nbflow_cli("check", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK: {config}\n")
    assert result.stderr.splitlines() == [
        f"warning: {config}:7: events[0].generators[0].subscribe[0]: subscription loop tick -> tick: "
        "tick.again subscribes to tick:final (here); nothing in it stops it: each event will emit the "
        "next without end"]


def test_nbflow_check_of_the_example_configs_warns_about_no_loop():
    result = nbflow_cli("check", "configs/", cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "subscription loop" not in result.stderr


PING = """\
events:
  - name: ping
    vars:
      - {name: round, type: str, choices: [first, second], default: first}
    generators:
      - name: again
        subscribe: ping:final
        where: {round: [first]}
        vals: {round: second}
    flows:
      - name: main
        tasks: [{name: echo, cmd: "true"}]
"""


@pytest.mark.usefixtures("no_leaked_children")
def test_nbflow_run_warns_at_start_and_a_loop_its_where_ends_finishes(tmp_path, home):
    config = write_config(tmp_path, PING, "ping.yaml")
    nbflow_cli("emit", "--home", str(home), "--config", str(config), "ping", check=True)
    result = nbflow_cli("run", "--home", str(home), str(config), "--until-idle", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [x for x in result.stderr.splitlines() if "subscription loop" in x]
    assert line.startswith(f"warning: {config}:7: events[0].generators[0].subscribe: subscription loop ping -> ping")
    assert line.endswith("the loop goes round at most once")
    # what the warning promised: one generated event, then the where refused the loop's own event
    rows = history_rows(home, "select label, source from events order by event_key")
    assert rows == [("ping:first", "user"), ("ping:second", "generator")]
    assert history_rows(home, "select outcome from generator_ticks order by tick_id") == [("emitted",), ("skipped",)]


@pytest.mark.usefixtures("no_leaked_children")
def test_nbflow_start_logs_the_loop_warnings_on_the_nbflow_config_logger(tmp_path, home, caplog):
    import nbflow

    config = write_config(tmp_path, PING, "ping.yaml")
    with caplog.at_level(logging.WARNING, logger="nbflow.config"):
        handle = nbflow.start(str(config), home=home)
        handle.stop()
    (record,) = [r for r in caplog.records if r.name == "nbflow.config"]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(f"{config}:7: events[0].generators[0].subscribe: subscription loop")


def test_nbflow_emit_with_a_looping_config_does_not_import_networkx(tmp_path, home):
    # nbflow emit runs inside every task that emits: finding loops is left to check/run/start.
    config = write_config(tmp_path, SELF_LOOP, "loops.yaml")
    script = ("import sys\nfrom nbflow.cli import main\n"
              f"code = main(['emit', '--home', {str(home)!r}, '--config', {str(config)!r}, 'tick'])\n"
              "print(json.dumps([code, 'networkx' in sys.modules]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBFLOW_")}
    proc = subprocess.run([sys.executable, "-c", "import json\n" + script], capture_output=True,
                          text=True, timeout=60, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == [0, False]
    assert len(list((home / "inbox").glob("*.json"))) == 1


def test_finding_no_loop_in_an_acyclic_config_does_not_import_networkx(tmp_path):
    # The common case (no subscriptions, or chains) keeps `nbflow check` as quick as before.
    config = write_config(tmp_path, THREE.replace('["c/f:success"]', "[]").replace(
        "{name: from_c, subscribe: []}", '{name: from_c, on_time: {onexp: "0 6 * * *"}}'), "chain.yaml")
    script = ("import json, sys\nfrom nbflow.config import load_config\n"
              "from nbflow.config.cycles import loop_warnings\n"
              f"print(json.dumps([loop_warnings(load_config({str(config)!r})), 'networkx' in sys.modules]))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == [[], False]


def test_the_subscription_location_is_where_the_pattern_is_written():
    config = load_config_text(THREE, name="loops.yaml")
    (sub,) = config.event_type("c").generator("also_from_b").subscribe
    assert (sub.location.file, sub.location.line, sub.location.path) == (
        "loops.yaml", 11, "events[2].generators[1].subscribe[0]")


def test_a_dense_web_of_subscriptions_reports_a_bounded_number_of_loops():
    names = [f"t{i}" for i in range(12)]
    every = ", ".join(f"{n}:final" for n in names)
    text = "events:\n" + "".join(f"  - name: {n}\n    generators: [{{name: g, subscribe: [{every}]}}]\n"
                                 for n in names)
    found = warnings_of(text)
    assert len(found) == 21
    assert found[0].startswith("loops.yaml:3: events[0].generators[0].subscribe[0]: subscription loop t0 -> t0: ")
    assert found[-1] == "at least 980 more subscription loops not listed"
