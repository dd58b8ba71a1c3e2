"""Engine throughput: N events x a flow of k no-op ``python`` tasks, every stage persisted,
against a bare trio + ``graphlib.TopologicalSorter`` DAG runner doing the same work without
persistence, side by side in one process.

    python benchmarks/bench_engine.py [--quick] [--events N] [--max-parallel P] [--profile]

The flow (k = 5) mixes a fan-out and a chain: ``a -> (b, c) -> d -> e``.  Two variants: an
``async def`` no-op (awaited on the loop) and a plain ``def`` no-op (run in a worker thread
with ``trio.to_thread.run_sync``, as the python runner does).  The bare runner calls the same
function objects the same way, under a ``trio.CapacityLimiter`` of the same size.

The engine's clock starts before the first ``create_event`` and stops once the last event's
``final`` stage is committed (``writer.durable()``), so every stage counted is on disk; the
stage and task-run counts are then checked in the DuckDB file.  ``wait_idle()`` is called
after the clock stops (its 50 ms settle time is not work).  Target: engine >= 0.4x.
"""

from __future__ import annotations

import time
from graphlib import TopologicalSorter

import _common as c

K = 5
CONFIG = """
events:
{types}
"""
TYPE = """
  - name: {name}
    vars: [{{name: i, type: int}}]
    flows:
      - name: main
        tasks:
          - {{name: a, python: "_common:{fn}"}}
          - {{name: b, depends_on: [a], python: "_common:{fn}"}}
          - {{name: c, depends_on: [a], python: "_common:{fn}"}}
          - {{name: d, depends_on: [b, c], python: "_common:{fn}"}}
          - {{name: e, depends_on: [d], python: "_common:{fn}"}}
"""
VARIANTS = {"async": ("t_async", "noop_async"), "sync": ("t_sync", "noop_sync")}
#: stage rows per event: emitted; flow invoked; k x (invoked, success); flow success, final;
#: event success, final.
STAGES_PER_EVENT = 1 + 1 + 2 * K + 2 + 2
#: per engine round, by event type: where the time went (see ``engine_round``).
DIAG: dict[str, list[dict[str, float]]] = {}
#: per bare round, by "is async": process CPU in us per task.
BARE_CPU: dict[bool, list[float]] = {}


def config_text() -> str:
    """The benchmark's config: one event type per variant, the same 5-task flow."""
    return CONFIG.format(types="".join(TYPE.format(name=n, fn=f) for n, f in VARIANTS.values()))


def graph_of(config, type_name: str) -> dict[str, set[str]]:
    """The flow's DAG as ``graphlib`` wants it: task -> its dependencies."""
    (flow,) = config.event_type(type_name).flows
    return {t.name: set(t.depends_on) for t in flow.tasks}


def bare_round(graph: dict[str, set[str]], fn, is_async: bool, n: int, max_parallel: int) -> float:
    """Tasks/s of ``n`` DAGs run by trio + graphlib, no persistence."""
    import trio

    done = 0

    async def call() -> None:
        if is_async:
            await fn(None, None)
        else:
            await trio.to_thread.run_sync(fn, None, None)

    async def main() -> float:
        nonlocal done
        limiter = trio.CapacityLimiter(max_parallel)

        def start_dag(nursery: trio.Nursery) -> None:
            sorter = TopologicalSorter(graph)
            sorter.prepare()

            async def one(node: str) -> None:
                nonlocal done
                async with limiter:
                    await call()
                done += 1
                sorter.done(node)
                for nxt in sorter.get_ready():
                    nursery.start_soon(one, nxt)

            for node in sorter.get_ready():
                nursery.start_soon(one, node)

        t0, cpu0 = time.perf_counter(), time.process_time()
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                start_dag(nursery)
        BARE_CPU.setdefault(is_async, []).append((time.process_time() - cpu0) / (n * len(graph)) * 1e6)
        return time.perf_counter() - t0

    elapsed = trio.run(main)
    assert done == n * len(graph), (done, n * len(graph))
    return done / elapsed


def engine_round(config, root, type_name: str, n: int, max_parallel: int, profiler=None) -> float:
    """Tasks/s of ``n`` events through the real engine, every stage committed to DuckDB.

    ``profiler`` (anything with ``start()``/``stop()``) runs only while the clock runs.
    """
    import trio

    home = c.fresh_home(root, "eng-")

    async def body(engine) -> float:
        all_final = c.count_finals(engine, n)
        etype = engine.event_type(type_name)
        with trio.fail_after(300):
            if profiler is not None:
                profiler.start()
            t0, loop0, cpu0 = time.perf_counter(), time.thread_time(), time.process_time()
            flushes0 = engine.writer.flushes
            for i in range(n):
                engine.create_event(etype, {"i": i})
            await all_final.wait()
            await engine.writer.durable()
            elapsed = time.perf_counter() - t0
            DIAG.setdefault(type_name, []).append({
                "wall_us": elapsed / (n * K) * 1e6,
                "loop_cpu_us": (time.thread_time() - loop0) / (n * K) * 1e6,
                "cpu_us": (time.process_time() - cpu0) / (n * K) * 1e6,
                "commits": engine.writer.flushes - flushes0})
            if profiler is not None:
                profiler.stop()
            await engine.wait_idle()
        stages = engine.query("SELECT count(*) FROM stages").fetchone()[0]
        ok = engine.query("SELECT count(*) FROM task_runs WHERE status = 'success'").fetchone()[0]
        assert stages == n * STAGES_PER_EVENT, f"{stages} stage rows, expected {n * STAGES_PER_EVENT}"
        assert ok == n * K, f"{ok} successful task runs, expected {n * K}"
        return n * K / elapsed

    return trio.run(c.with_engine, config, home, max_parallel, body)


def profile(config, root, type_name: str, n: int, max_parallel: int) -> None:
    """One engine round under cProfile (the loop thread): where the engine's time goes."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    rate = engine_round(config, root, type_name, n, max_parallel)
    prof.disable()
    print(f"\n-- cProfile of one engine round ({type_name}, {rate:,.0f} tasks/s under the profiler) --")
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumtime").print_stats(40)


def main() -> None:
    args = c.arguments(__doc__.splitlines()[0],
                       **{"--events": dict(type=int, help="events per round (default 500, quick 100)"),
                          "--max-parallel": dict(type=int, default=64, help="both sides' limit"),
                          "--profile": dict(action="store_true", help="profile one engine round"),
                          "--dir": dict(help="where workspaces live (default: the system's temp "
                                             "dir; /dev/shm takes fsync out of the picture)")})
    n = args.events or (100 if args.quick else 500)
    with c.Scratch(args.dir) as root:
        config = c.load(c.write_config(root, config_text()))
        # Warm-up, untimed: imports (duckdb, pyarrow, the task module), thread cache, DB file code.
        engine_round(config, root, "t_async", 20, args.max_parallel)
        for type_name, fn_name in VARIANTS.values():
            bare_round(graph_of(config, type_name), getattr(c, fn_name), fn_name == "noop_async", 100,
                       args.max_parallel)
        DIAG.clear()
        BARE_CPU.clear()
        rows = []
        for variant, (type_name, fn_name) in VARIANTS.items():
            fn = getattr(c, fn_name)
            graph = graph_of(config, type_name)
            samples = c.side_by_side(args.rounds, {
                f"bare trio+graphlib ({variant})":
                    lambda g=graph, f=fn, a=(variant == "async"): bare_round(g, f, a, n, args.max_parallel),
                f"engine ({variant})":
                    lambda t=type_name: engine_round(config, root, t, n, args.max_parallel),
            })
            bare, eng = (c.median(v) for v in samples.values())
            eng_s, bare_s = samples[f"engine ({variant})"], samples[f"bare trio+graphlib ({variant})"]
            ratios = [e / b for e, b in zip(eng_s, bare_s, strict=True)]
            ratio = c.ratio_of(eng_s, bare_s)
            rows.append(c.Row(f"bare trio+graphlib, {variant} no-op", bare, "tasks/s"))
            rows.append(c.Row(f"engine, {variant} no-op", eng, "tasks/s", ratio, ">= 0.40x", ratio >= 0.4,
                              note=f"per-round ratios {min(ratios):.2f}-{max(ratios):.2f}; "
                                   f"{1e6 / eng:.0f} us/task"))
            diag = DIAG[type_name]
            med = {k: c.median([d[k] for d in diag]) for k in diag[0]}
            bare_cpu = BARE_CPU[variant == "async"]
            cpu_ratio = c.ratio_of(bare_cpu, [d["cpu_us"] for d in diag])
            rows.append(c.Row(f"  CPU-time view, {variant}", med["cpu_us"], "us/task", cpu_ratio,
                              note=f"engine process CPU per task vs the bare runner's "
                                   f"{c.median(bare_cpu):.0f} us; ratio = bare / engine, "
                                   f"steadier than wall time under load"))
            rows.append(c.Row(f"  engine loop-thread CPU, {variant}", med["loop_cpu_us"], "us/task",
                              note=f"process CPU {med['cpu_us']:.0f} us/task, wall {med['wall_us']:.0f} "
                                   f"us/task, {med['commits']:.0f} commits/round = "
                                   f"{n * K / med['commits']:.0f} tasks/commit"))
        c.print_results(
            "engine throughput (ratio = engine / bare runner, median of per-round ratios)", rows,
            f"N={n} events x k={K} tasks (a -> b,c -> d -> e), max_parallel={args.max_parallel}, "
            f"rounds={args.rounds}, {STAGES_PER_EVENT} stage rows per event persisted, "
            f"workspaces in {root.parent}")
        if args.profile:
            profile(config, root, "t_async", n, args.max_parallel)


if __name__ == "__main__":
    main()
