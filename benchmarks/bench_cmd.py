"""OS-command tasks: ``true`` run as engine ``cmd`` tasks, against a bare loop of
``trio.run_process(["true"])`` and against ``subprocess.run`` in a thread pool, all at the
same parallelism, side by side in one process.

    python benchmarks/bench_cmd.py [--quick] [--events E] [--tasks K] [--max-parallel P]

Default: 100 events x 5 independent ``true`` tasks = 500 processes per round.  The engine
side counts from the first ``create_event`` to the last event's ``final`` stage committed;
each run also writes its stdout/stderr files and artifact rows, as every ``cmd`` task does.
Targets: engine >= 0.8x ``trio.run_process``.  Ratios are engine / baseline in tasks/s.
"""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import _common as c

#: parent-process CPU in us per process/task, per round, by side (children not included).
CPU: dict[str, list[float]] = {}


def config_text(k: int) -> str:
    """One event type whose flow is ``k`` independent ``true`` tasks."""
    tasks = "".join(f'\n          - {{name: t{j}, cmd: "true"}}' for j in range(1, k + 1))
    return f"""
events:
  - name: cmd
    vars: [{{name: i, type: int}}]
    flows:
      - name: main
        tasks:{tasks}
"""


def trio_round(total: int, max_parallel: int) -> float:
    """Processes/s of ``total`` ``trio.run_process(["true"])`` under a CapacityLimiter."""
    import trio

    async def main() -> float:
        limiter = trio.CapacityLimiter(max_parallel)

        async def one() -> None:
            async with limiter:
                await trio.run_process(["true"])

        t0, cpu0 = time.perf_counter(), time.process_time()
        async with trio.open_nursery() as nursery:
            for _ in range(total):
                nursery.start_soon(one)
        CPU.setdefault("trio", []).append((time.process_time() - cpu0) / total * 1e6)
        return time.perf_counter() - t0

    return total / trio.run(main)


def threads_round(total: int, max_parallel: int) -> float:
    """Processes/s of ``total`` ``subprocess.run(["true"])`` in a pool of ``max_parallel``."""
    def one(_: int) -> int:
        return subprocess.run(["true"], check=True).returncode

    with ThreadPoolExecutor(max_parallel) as pool:
        t0, cpu0 = time.perf_counter(), time.process_time()
        codes = list(pool.map(one, range(total)))
        elapsed = time.perf_counter() - t0
        CPU.setdefault("threads", []).append((time.process_time() - cpu0) / total * 1e6)
    assert codes == [0] * total
    return total / elapsed


def files_round(root, total: int) -> float:
    """Control, not a side (runs/s of file creation): us of CPU to create the two empty output files of one run, ``total``
    times in one folder (what every nbflow run adds to the spawn on this disk; the baselines
    create none).  On the ext4 disks here this moved from ~10 us to ~300 us per run over hours
    of file churn, and the engine's ratio with it."""
    import os

    folder = c.fresh_home(root, "files-")
    t0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(total):
        for suffix in ("stdout", "stderr"):
            os.close(os.open(folder / f"run-{i}.{suffix}.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
    CPU.setdefault("files", []).append((time.process_time() - cpu0) / total * 1e6)
    return total / (time.perf_counter() - t0)


def engine_round(config, root, events: int, k: int, max_parallel: int) -> float:
    """Tasks/s of ``events`` x ``k`` ``true`` tasks through the engine, all committed."""
    import trio

    home = c.fresh_home(root, "cmd-")

    async def body(engine) -> float:
        all_final = c.count_finals(engine, events)
        etype = engine.event_type("cmd")
        with trio.fail_after(300):
            t0, cpu0, loop0 = time.perf_counter(), time.process_time(), time.thread_time()
            for i in range(events):
                engine.create_event(etype, {"i": i})
            await all_final.wait()
            await engine.writer.durable()
            elapsed = time.perf_counter() - t0
            CPU.setdefault("engine", []).append((time.process_time() - cpu0) / (events * k) * 1e6)
            CPU.setdefault("engine loop", []).append((time.thread_time() - loop0) / (events * k) * 1e6)
            await engine.wait_idle()
        ok = engine.query("SELECT count(*) FROM task_runs WHERE status = 'success'").fetchone()[0]
        files = engine.query("SELECT count(*) FROM artifacts WHERE kind IN ('stdout', 'stderr')").fetchone()[0]
        assert ok == events * k, f"{ok} successful runs, expected {events * k}"
        assert files == 2 * events * k, f"{files} stdout/stderr artifacts, expected {2 * events * k}"
        return events * k / elapsed

    return trio.run(c.with_engine, config, home, max_parallel, body)


def main() -> None:
    args = c.arguments(__doc__.splitlines()[0],
                       **{"--events": dict(type=int, help="events per round (default 100, quick 20)"),
                          "--tasks": dict(type=int, default=5, help="true tasks per event"),
                          "--max-parallel": dict(type=int, default=8, help="all sides' limit"),
                          "--dir": dict(help="where workspaces live (default: the system's temp "
                                             "dir; /dev/shm takes the disk out of the picture)")})
    events = args.events or (20 if args.quick else 100)
    k, par = args.tasks, args.max_parallel
    total = events * k
    with c.Scratch(args.dir) as root:
        config = c.load(c.write_config(root, config_text(k)))
        engine_round(config, root, 4, k, par)       # warm-up: imports, DB code, thread cache
        trio_round(50, par)
        threads_round(50, par)
        CPU.clear()
        samples = c.side_by_side(args.rounds, {
            "trio.run_process": lambda: trio_round(total, par),
            "subprocess.run + threads": lambda: threads_round(total, par),
            "engine cmd tasks": lambda: engine_round(config, root, events, k, par),
            "control: output files": lambda: files_round(root, total),
        })
    eng = samples["engine cmd tasks"]
    vs_trio = c.ratio_of(eng, samples["trio.run_process"])
    vs_threads = c.ratio_of(eng, samples["subprocess.run + threads"])
    rows = [
        c.Row("trio.run_process, nursery + limiter", c.median(samples["trio.run_process"]), "procs/s"),
        c.Row("subprocess.run, ThreadPoolExecutor", c.median(samples["subprocess.run + threads"]), "procs/s"),
        c.Row("engine, cmd: true", c.median(eng), "tasks/s", vs_trio, ">= 0.80x", vs_trio >= 0.8,
              note="ratio to trio.run_process"),
        c.Row("engine vs subprocess + threads", c.median(eng), "tasks/s", vs_threads,
              note="informational"),
        c.Row("  parent CPU per process: trio", c.median(CPU["trio"]), "us"),
        c.Row("  parent CPU per process: threads", c.median(CPU["threads"]), "us"),
        c.Row("  parent CPU per task: engine", c.median(CPU["engine"]), "us",
              c.ratio_of(CPU["trio"], CPU["engine"]),
              note=f"of which the loop thread {c.median(CPU['engine loop']):.0f} us; "
                   "ratio = trio / engine"),
        c.Row("  control: creating 2 output files", c.median(CPU["files"]), "us",
              note="CPU per run, one folder; the baselines create none"),
    ]
    c.print_results("OS-command tasks (ratio = engine / baseline, median of per-round ratios)", rows,
                    f"{events} events x {k} `true` tasks = {total} processes per round, "
                    f"max_parallel={par}, rounds={args.rounds}, workspaces in {root.parent}")


if __name__ == "__main__":
    main()
