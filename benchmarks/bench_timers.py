"""Timer lateness: from a timer's fire time to its event's ``emitted`` stage.

nbflow: a real engine (in this process, on a temp workspace) with N generators on
``* * * * * *`` (every second) of a flow-less event type, for S seconds; lateness is read
from the history, ``stages."at"`` of the ``emitted`` stage minus ``generator_ticks.fire_time``
(the first second, start-up, is left out).

Baseline, side by side in the same rounds: bare trio sleeping until each whole second (the
same wall-clock to trio-clock conversion), recording for each of the N "generators" how late
it woke: the floor this machine's scheduler gives at that moment, with no work done.

    python benchmarks/bench_timers.py             # 1 generator (5 rounds of 20 s a side), 1,000 (5 of 12 s)
    python benchmarks/bench_timers.py --quick     # ~1 min smoke run
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from _common import (
    Row,
    Scratch,
    arguments,
    load,
    median,
    percentile,
    print_results,
    side_by_side,
    write_config,
)


def config_text(count: int) -> str:
    lines = ["events:", "  - name: beat", "    vars: [{name: g, type: int}]", "    generators:"]
    lines += [f'      - {{name: g{i}, on_time: "* * * * * *", vals: {{g: {i}}}}}' for i in range(count)]
    return "\n".join(lines) + "\n"


def nbflow_round(root: Path, count: int, seconds: float, out: list[float]) -> float:
    """One engine run; appends every lateness (ms) to ``out``; returns this round's median."""
    import duckdb
    import trio

    from nbflow.engine.core import Engine
    from nbflow.workspace import Workspace

    with Scratch(str(root)) as tmp:
        config = load(write_config(tmp, config_text(count)))
        ws = Workspace(tmp / "home")
        engine = Engine(config, ws)

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                await nursery.start(engine.run)
                await trio.sleep(seconds)
                engine.stop()

        started = time.time()
        trio.run(main)
        con = duckdb.connect(str(ws.db_path), read_only=True)
        try:
            late = [r[0] for r in con.execute(
                """SELECT (epoch_us(s."at") - epoch_us(t.fire_time)) / 1000.0
                   FROM generator_ticks t JOIN stages s ON s.event_key = t.event_key AND s.action = 'emitted'
                   WHERE t.outcome = 'emitted' AND t.trigger LIKE 'timer:%' AND epoch(t.fire_time) > ?""",
                [started + 1]).fetchall()]
        finally:
            con.close()
    out.extend(late)
    return median(late)


def baseline_round(count: int, seconds: float, out: list[float]) -> float:
    """Bare trio: wake at each whole second, note how late, N times; returns the median (ms)."""
    import trio

    late: list[float] = []

    async def main() -> None:
        end = time.time() + seconds
        target = float(int(time.time()) + 2)
        while target < end:
            await trio.sleep_until(trio.current_time() + (target - time.time()))
            while time.time() < target:   # re-read the wall clock, as the engine does
                await trio.sleep_until(trio.current_time() + (target - time.time()))
            for _ in range(count):
                late.append((time.time() - target) * 1000.0)
            target += 1.0

    trio.run(main)
    out.extend(late)
    return median(late)


def main() -> None:
    args = arguments(__doc__.split("\n\n")[0],
                     **{"--generators": {"type": int, "action": "append",
                                         "help": "generators per run (repeatable; default: 1 and 1000)"}})
    quick, rounds = args.quick, args.rounds
    with Scratch() as root:
        for count in args.generators or [1, 1000]:
            seconds = (8.0 if quick else 20.0) if count < 10 else (6.0 if quick else 12.0)
            pooled: dict[str, list[float]] = {"baseline": [], "nbflow": []}
            samples = side_by_side(rounds, {
                "baseline": lambda c=count, s=seconds, p=pooled: baseline_round(c, s, p["baseline"]),
                "nbflow": lambda c=count, s=seconds, p=pooled: nbflow_round(root, c, s, p["nbflow"]),
            })
            rows = []
            for name in ("baseline", "nbflow"):
                values = pooled[name]
                rows.append(Row(f"{name} median lateness", median(values), "ms",
                                note=f"{len(values)} fires, medians per round "
                                     + ", ".join(f"{v:.2f}" for v in samples[name])))
                rows.append(Row(f"{name} p99 lateness", percentile(values, 99), "ms"))
                rows.append(Row(f"{name} max lateness", max(values), "ms"))
            print_results(f"Timer lateness, {count} generator(s) on '* * * * * *'", rows,
                          f"{rounds} rounds of {seconds:g} s each side, flow-less events, "
                          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
