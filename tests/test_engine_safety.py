"""Safety rules: no shell ever sees a value, output never fills the engine's memory,
timeouts end whole process groups, parallelism is bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import history_rows, nbflow_cli, processes_with_marker, wait_for, write_config

pytestmark = pytest.mark.usefixtures("no_leaked_children")

DUMP_ARGV = """
import json, sys
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(sys.argv[2:], f)
"""


_sql = history_rows


@pytest.mark.parametrize("value", [
    "$(touch pwned)", "; touch pwned", "`touch pwned`", "a && touch pwned", "it's \"quoted\"",
    "line1\nline2", "naïve — 東京 ✓", "*", "$HOME", "--flag=1", "{region}",
])
def test_values_arrive_as_literal_argv(tmp_path, home, value):
    (tmp_path / "dump.py").write_text(DUMP_ARGV)
    cfg = write_config(tmp_path, """
        events:
          - name: job
            vars: [{name: v, type: str}]
            flows:
              - name: f
                tasks:
                  - name: dump
                    cmd: python dump.py {workdir}/argv.json {v} "prefix {v} suffix" --opt={v}
    """)
    nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", f"v={value}", check=True)
    nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle", check=True, cwd=tmp_path)
    (workdir,) = list((home / "work").iterdir())
    argv = json.loads((workdir / "argv.json").read_text(encoding="utf-8"))
    assert argv == [value, f"prefix {value} suffix", f"--opt={value}"]
    assert not list(tmp_path.rglob("pwned")) and not os.path.exists("pwned")
    (label,) = _sql(home, "SELECT label FROM events")[0]
    assert label == f"job:{value}"


def test_env_carries_values_and_run_identity(tmp_path, home):
    cfg = write_config(tmp_path, """
        events:
          - name: job
            vars: [{name: v, type: str}, {name: n, type: int}]
            flows:
              - name: f
                tasks:
                  - name: env
                    cmd: [bash, -c, 'env | grep ^NBFLOW_ | sort > "$NBFLOW_WORKDIR/env.txt"']
                    env: {GREETING: "hello {v}"}
                  - name: greet
                    depends_on: [env]
                    cmd: [bash, -c, 'echo "$GREETING" >> "$NBFLOW_WORKDIR/env.txt"']
                    env: {GREETING: "hello {v}"}
    """)
    key = nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", "v=$(x) y", "n=4",
                     check=True).stdout.strip()
    nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle", check=True)
    lines = (home / "work" / key / "env.txt").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines[:-1])
    assert env["NBFLOW_VAR_v"] == "$(x) y" and env["NBFLOW_VAR_n"] == "4"
    assert env["NBFLOW_EVENT_KEY"] == key and env["NBFLOW_RUN_ID"] == f"{key}/f.env#1"
    assert env["NBFLOW_HOME"] == str(home.resolve())
    assert env["NBFLOW_WORKDIR"] == str((home / "work" / key).resolve())
    assert lines[-1] == "hello $(x) y"


def _peak_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


@pytest.mark.slow
def test_100mb_of_stdout_streams_to_a_file_under_bounded_memory(tmp_path, home):
    script = tmp_path / "loud.py"
    script.write_text(
        "import sys\nchunk = (b'x' * 1023 + b'\\n') * 1024\n"
        "for _ in range(100):\n    sys.stdout.buffer.write(chunk)\n"
        "sys.stdout.buffer.write(b'\\xff\\xfe not utf-8 \\x80\\n')\n")
    cfg = write_config(tmp_path, """
        events:
          - name: job
            flows:
              - name: f
                tasks:
                  - {name: loud, cmd: python loud.py}
    """)
    nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", check=True)
    engine = subprocess.Popen([sys.executable, "-m", "nbflow", "run", str(cfg), "--home", str(home),
                               "--until-idle", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    while engine.poll() is None:
        try:
            peak = max(peak, _peak_rss_kb(engine.pid))
        except OSError:
            break
        time.sleep(0.05)
    _, err = engine.communicate(timeout=120)
    assert engine.returncode == 0, err
    ((path, size),) = _sql(home, "SELECT path, size_bytes FROM artifacts WHERE kind = 'stdout'")
    expected = 100 * 1024 * 1024 + len(b"\xff\xfe not utf-8 \x80\n")
    assert size == expected and os.path.getsize(path) == expected
    with open(path, "rb") as f:
        tail = b"\xff\xfe not utf-8 \x80\n"
        f.seek(-len(tail), os.SEEK_END)
        assert f.read() == tail
    # The engine never holds the output: its peak RSS stays far below 100 MB of text.
    assert 0 < peak < 200_000, f"engine peak RSS {peak} kB"


def test_timeout_kills_the_whole_process_group(tmp_path, home):
    marker = f"nbflow-timeout-{os.getpid()}-{time.time_ns()}"
    sleeper = "python3 -c 'import time; time.sleep(60)'"
    cfg = write_config(tmp_path, f"""
        engine: {{kill_grace: 1s}}
        events:
          - name: job
            flows:
              - name: f
                tasks:
                  - name: stubborn
                    # a shell that ignores SIGTERM, with a grandchild: both must be gone
                    # (an ignored signal stays ignored across exec: the children ignore TERM too)
                    cmd: [bash, -c, "trap '' TERM; {sleeper} {marker} & {sleeper} {marker}; wait"]
                    timeout: 1s
    """)
    nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", check=True)
    started = time.monotonic()
    proc = nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle")
    assert proc.returncode == 1
    assert time.monotonic() - started < 30
    ((status, detail),) = _sql(home, "SELECT status, detail FROM task_runs")
    assert (status, detail) == ("failure", "timeout after 1s")
    # a timed-out run keeps its output as artifacts
    assert sorted(r[0] for r in _sql(home, "SELECT kind FROM artifacts")) == ["stderr", "stdout"]
    assert wait_for(lambda: not processes_with_marker(marker), timeout=10, what="no process left") is True


def test_max_parallel_bounds_running_tasks(tmp_path, home):
    cfg = write_config(tmp_path, """
        engine: {max_parallel: 2}
        events:
          - name: job
            vars: [{name: i, type: int}]
            flows:
              - name: f
                tasks:
                  - {name: nap, cmd: "python -c 'import time; time.sleep(0.4)'"}
    """)
    for i in range(5):
        nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", f"i={i}", check=True)
    nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle", check=True)
    runs = _sql(home, "SELECT epoch_us(started_at), epoch_us(finished_at) FROM task_runs")
    assert len(runs) == 5
    points = sorted([(s, 1) for s, _ in runs] + [(e, -1) for _, e in runs], key=lambda p: (p[0], p[1]))
    running, peak = 0, 0
    for _, delta in points:
        running += delta
        peak = max(peak, running)
    assert peak == 2


def test_a_failed_task_stops_its_downstream_only(tmp_path, home):
    cfg = write_config(tmp_path, """
        events:
          - name: job
            flows:
              - name: f
                tasks:
                  - {name: root, cmd: "true"}
                  - {name: bad, cmd: "false", depends_on: [root]}
                  - {name: good, cmd: "true", depends_on: [root]}
                  - {name: after_bad, cmd: "true", depends_on: [bad]}
                  - {name: after_good, cmd: "true", depends_on: [good]}
              - name: other
                tasks:
                  - {name: alone, cmd: "true"}
    """)
    key = nbflow_cli("emit", "--home", str(home), "--config", str(cfg), "job", check=True).stdout.strip()
    assert nbflow_cli("run", str(cfg), "--home", str(home), "--until-idle").returncode == 1
    runs = dict(_sql(home, "SELECT flow || '.' || task, status FROM task_runs"))
    assert runs == {"f.root": "success", "f.bad": "failure", "f.good": "success",
                    "f.after_good": "success", "other.alone": "success"}
    flows = _sql(home, f"SELECT flow, detail FROM stages WHERE event_key = '{key}' AND task IS NULL "
                       "AND action = 'final' ORDER BY flow NULLS LAST")
    assert flows == [("f", "failure"), ("other", "success"), (None, "failure")]
