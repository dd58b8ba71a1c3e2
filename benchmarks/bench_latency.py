"""Latency from an emit to the first task's ``invoked`` stage, and to the task function
actually being called, p50 and p99, in-process.

    python benchmarks/bench_latency.py [--quick] [--samples M] [--gap MS]

Events are emitted one at a time, each once the previous one is final, ``--gap`` ms apart
(a modest rate).  Three ways in:

- ``engine.emit``: ``await engine.emit(...)`` inside the engine's own trio run;
- ``nbflow.emit``: the public call from another thread while ``nbflow.start(...)`` runs the
  engine in a background thread (a notebook's view);
- (each with an ``async def`` task and with a plain ``def`` task, which runs in a thread.)

The clock starts just before the emit call (``time.perf_counter``); a listener on
``engine.listeners`` stamps the moment the task's ``invoked`` row is appended, and the task
function stamps its own start.  The engine commits ``invoked`` before starting a task
(write-ahead), so "-> called" includes one DuckDB commit.  As a floor for comparison, the
script also times trio's own ``start_soon`` -> task running.  Targets: emit -> ``invoked``
p50 <= 2 ms, p99 <= 10 ms.
"""

from __future__ import annotations

import random
import time

import _common as c

CONFIG = """
events:
  - name: lat_async
    vars: [{name: i, type: int}]
    flows:
      - name: main
        tasks:
          - {name: first, python: "_common:stamp_async"}
          - {name: second, depends_on: [first], python: "_common:noop_async"}
  - name: lat_sync
    vars: [{name: i, type: int}]
    flows:
      - name: main
        tasks:
          - {name: first, python: "_common:stamp_sync"}
          - {name: second, depends_on: [first], python: "_common:noop_sync"}
"""


class Stamps:
    """perf_counter() of each event's first-task ``invoked`` row and its ``final`` row."""

    def __init__(self) -> None:
        self.invoked: dict[str, float] = {}
        self.final: set[str] = set()

    def __call__(self, row) -> None:
        if row.action == "invoked" and row.task == "first":
            self.invoked.setdefault(row.event_key, time.perf_counter())
        elif row.action == "final" and row.flow is None:
            self.final.add(row.event_key)


def engine_emit(config, root, type_name: str, samples: int, gap: float) -> tuple[list[float], list[float]]:
    """(emit -> invoked, emit -> called) in ms for ``await engine.emit`` on the engine's loop."""
    import trio

    stamps = Stamps()
    starts: dict[str, float] = {}

    async def body(engine) -> None:
        engine.listeners.append(stamps)
        for i in range(samples + 3):
            with trio.fail_after(30):
                t0 = time.perf_counter()
                key = await engine.emit(type_name, {"i": i})
                starts[key] = t0
                while key not in stamps.final:
                    await trio.sleep(0.0005)
            await trio.sleep(gap * random.uniform(0.5, 1.5))

    trio.run(c.with_engine, config, c.fresh_home(root, "lat-"), None, body)
    return _deltas(starts, stamps)


def handle_emit(config_path, root, type_name: str, samples: int, gap: float) -> tuple[list[float], list[float]]:
    """The same through the public ``nbflow.emit`` with ``nbflow.start`` running the engine."""
    import nbflow

    stamps = Stamps()
    starts: dict[str, float] = {}
    handle = nbflow.start(str(config_path), home=c.fresh_home(root, "lath-"))
    try:
        handle._call_sync(handle.engine.listeners.append, stamps)
        for i in range(samples + 3):
            t0 = time.perf_counter()
            key = nbflow.emit(type_name, i=i)
            starts[key] = t0
            deadline = time.monotonic() + 30
            while key not in stamps.final:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"event {key} not final after 30 s")
                time.sleep(0.0005)
            time.sleep(gap * random.uniform(0.5, 1.5))
    finally:
        handle.stop()
    return _deltas(starts, stamps)


def _deltas(starts: dict[str, float], stamps: Stamps) -> tuple[list[float], list[float]]:
    keys = sorted(starts)[3:]         # the first few carry one-off costs (imports, caches)
    invoked = [(stamps.invoked[k] - starts[k]) * 1e3 for k in keys]
    called = [(c.CALLED[k] - starts[k]) * 1e3 for k in keys]
    return invoked, called


def trio_floor(samples: int) -> list[float]:
    """ms from ``nursery.start_soon`` to the new task running: the scheduler's own latency."""
    import trio

    out: list[float] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for _ in range(samples):
                started = trio.Event()
                t0 = time.perf_counter()

                async def task(t0: float = t0, started: trio.Event = started) -> None:
                    out.append((time.perf_counter() - t0) * 1e3)
                    started.set()

                nursery.start_soon(task)
                await started.wait()
                await trio.sleep(0.001)

    trio.run(main)
    return out


def main() -> None:
    args = c.arguments(__doc__.splitlines()[0],
                       **{"--samples": dict(type=int, help="emits per variant (default 300, quick 40)"),
                          "--gap": dict(type=float, default=10.0, help="ms between emits (jittered)")})
    samples = args.samples or (40 if args.quick else 300)
    gap = args.gap / 1e3
    rows: list[c.Row] = []
    with c.Scratch() as root:
        path = c.write_config(root, CONFIG)
        config = c.load(path)
        engine_emit(config, root, "lat_async", 5, gap)        # warm-up
        for way, fn, arg in (("engine.emit", engine_emit, config), ("nbflow.emit", handle_emit, path)):
            for variant in ("async", "sync"):
                invoked, called = fn(arg, root, f"lat_{variant}", samples, gap)
                p50, p99 = c.percentile(invoked, 50), c.percentile(invoked, 99)
                rows.append(c.Row(f"{way} -> invoked, p50 ({variant} task)", p50, "ms",
                                  target="<= 2 ms", met=p50 <= 2))
                rows.append(c.Row(f"{way} -> invoked, p99 ({variant} task)", p99, "ms",
                                  target="<= 10 ms", met=p99 <= 10,
                                  note=f"max {max(invoked):.2f} ms, n={len(invoked)}"))
                rows.append(c.Row(f"{way} -> called,  p50 ({variant} task)", c.percentile(called, 50), "ms"))
                rows.append(c.Row(f"{way} -> called,  p99 ({variant} task)", c.percentile(called, 99), "ms",
                                  note=f"max {max(called):.2f} ms"))
        floor = trio_floor(samples)
        rows.append(c.Row("trio start_soon -> running, p50 (floor)", c.percentile(floor, 50), "ms"))
        rows.append(c.Row("trio start_soon -> running, p99 (floor)", c.percentile(floor, 99), "ms"))
    c.print_results("emit -> first task latency (in-process)", rows,
                    f"{samples} emits per line, one at a time, ~{args.gap:g} ms apart (jittered), "
                    f"engine max_parallel = default")


if __name__ == "__main__":
    main()
