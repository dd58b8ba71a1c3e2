"""CLI start-up: ``nbflow emit`` wall time against ``python -c "import yaml"``, and
``nbflow run`` from process start to the first task's ``invoked`` line, each in subprocesses
alternated with their baseline in one run.

    python benchmarks/bench_cli.py [--quick] [--repeat R]

``nbflow emit --home H cmd i=N`` runs on a workspace that holds ``types.json`` from an
earlier engine run (so it validates without ``--config``) and no engine running: it
validates, writes its inbox file (fsync) and finds no engine to wake.  Target: <= 3x.

``nbflow run CONFIG --home H --for 30`` starts with one event already queued in the inbox;
the clock runs from just before the process is spawned until the ``invoked`` line of the
event's first task appears on its stdout, then the engine gets SIGTERM (a clean stop).  Two
cases: a workspace with history (the usual one) and a fresh one (the history file is
created).  Target: <= 1.5 s.  ``python -c "import duckdb, trio, pyarrow, yaml"`` (what the
engine has to import anyway) is timed alongside as a floor.

The console script is run directly (``<sys.prefix>/bin/nbflow``), not through a version
manager's shim: on this machine the pyenv shim alone adds ~0.2 s to every command.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import _common as c

CONFIG = """
events:
  - name: cmd
    vars: [{name: i, type: int}]
    flows:
      - name: main
        tasks:
          - {name: first, cmd: "true"}
"""
INVOKED = re.compile(rb" invoked +cmd:\d+ main\.first#1")


def nbflow_exe() -> str:
    """The real console script beside this interpreter (no shim), else whatever is on PATH."""
    beside = Path(sys.executable).parent / "nbflow"
    if beside.exists():
        return str(beside)
    found = shutil.which("nbflow")
    if not found:
        raise SystemExit("nbflow is not installed (pip install -e .)")
    return found


def wall(argv: list[str]) -> float:
    """Seconds from spawn to exit of ``argv`` (which must succeed)."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def time_to_invoked(exe: str, config: Path, home: Path, i: int) -> float:
    """Seconds from spawning ``nbflow run`` to its first task's ``invoked`` line."""
    subprocess.run([exe, "emit", "--home", str(home), "--config", str(config), "cmd", f"i={i}"],
                   check=True, stdout=subprocess.DEVNULL)
    t0 = time.perf_counter()
    proc = subprocess.Popen([exe, "run", str(config), "--home", str(home), "--for", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        seen = b""
        for line in proc.stdout:
            if INVOKED.search(line):
                elapsed = time.perf_counter() - t0
                break
            seen += line
        else:
            raise RuntimeError(f"nbflow run ended without an invoked line:\n{seen.decode()}"
                               f"{proc.stderr.read().decode()}")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return elapsed


def main() -> None:
    args = c.arguments(__doc__.splitlines()[0],
                       **{"--repeat": dict(type=int, help="runs per round (default 10, quick 3)")})
    rep = args.repeat or (3 if args.quick else 10)
    exe, py = nbflow_exe(), sys.executable
    rows: list[c.Row] = []
    with c.Scratch() as root:
        config = c.write_config(root, CONFIG)
        home = root / "home"
        # An earlier run leaves types.json (and a history); its inbox is then empty.
        subprocess.run([exe, "run", str(config), "--home", str(home), "--until-idle", "-q"], check=True,
                       stdout=subprocess.DEVNULL)
        assert (home / "types.json").exists()
        counter = iter(range(10**9))
        emit = [exe, "emit", "--home", str(home), "cmd"]
        samples = c.side_by_side(args.rounds, {
            "python -c 'import yaml'":
                lambda: c.median([wall([py, "-c", "import yaml"]) for _ in range(rep)]),
            "nbflow emit": lambda: c.median([wall([*emit, f"i={next(counter)}"]) for _ in range(rep)]),
        })
        base, em = c.median(samples["python -c 'import yaml'"]), c.median(samples["nbflow emit"])
        ratio = c.ratio_of(samples["nbflow emit"], samples["python -c 'import yaml'"])
        queued = len(list((home / "inbox").glob("*.json")))
        assert queued == rep * args.rounds, f"{queued} inbox files, expected {rep * args.rounds}"
        rows += [c.Row("python -c 'import yaml'", base * 1e3, "ms"),
                 c.Row("nbflow emit (types.json, no engine)", em * 1e3, "ms", ratio, "<= 3.00x", ratio <= 3)]
        for path in (home / "inbox").glob("*.json"):
            path.unlink()

        runs = 1 if args.quick else max(2, rep // 2)
        fresh = iter(range(10**9))
        samples = c.side_by_side(args.rounds, {
            "python -c 'import duckdb, trio, ...'": lambda: c.median(
                [wall([py, "-c", "import duckdb, trio, pyarrow, yaml"]) for _ in range(runs)]),
            "nbflow run -> invoked (history)": lambda: c.median(
                [time_to_invoked(exe, config, home, next(counter)) for _ in range(runs)]),
            "nbflow run -> invoked (fresh)": lambda: c.median(
                [time_to_invoked(exe, config, root / f"fresh{next(fresh)}", 1) for _ in range(runs)]),
        })
        floor = c.median(samples["python -c 'import duckdb, trio, ...'"])
        rows.append(c.Row("python -c 'import duckdb, trio, pyarrow, yaml'", floor * 1e3, "ms"))
        for case in ("history", "fresh"):
            s = samples[f"nbflow run -> invoked ({case})"]
            m = c.median(s)
            to_floor = c.ratio_of(s, samples["python -c 'import duckdb, trio, ...'"])
            rows.append(c.Row(f"nbflow run -> first invoked ({case} workspace)", m * 1e3, "ms",
                              to_floor, "<= 1500 ms", m <= 1.5,
                              note=f"worst round {max(s) * 1e3:.0f} ms; ratio to the import floor"))
    c.print_results("CLI start-up (wall time, medians; ratio = nbflow / baseline)", rows,
                    f"{exe}; {rep} runs per round for emit, {runs} for run; rounds={args.rounds}; "
                    f"NBFLOW_HOME={'set' if os.environ.get('NBFLOW_HOME') else 'unset'}")


if __name__ == "__main__":
    main()
