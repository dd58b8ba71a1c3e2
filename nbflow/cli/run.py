"""``nbflow run CONFIG...``: the engine in the foreground, printing stages as they happen.

``--until-idle`` stops the engine once nothing can progress without someone acting
(``engine/settled.py``): every run, queued task, retry wait, inbox command and unwritten row
is done.  What is left then is held by pauses; they are listed before the summary.  Exit codes:
0 all done, 1 an event failed (a task failed for good), 3 else, if work was left held by a
pause (``EXIT_PAUSED``).
"""

from __future__ import annotations

import signal
import sys
import time

from ._common import workspace

#: ``--until-idle`` stopped with work left that waits on a pause (and no failure).
EXIT_PAUSED = 3


def _printer(engine):
    labels: dict[str, str] = {}

    def show(row) -> None:
        if row.action == "emitted":
            labels[row.event_key] = row.detail or row.event_key
        where = labels.get(row.event_key, row.event_key or row.target or "")
        if row.task:
            where += f" {row.flow}.{row.task}" + (f"#{row.run}" if row.run is not None else "")
        elif row.flow:
            where += f" {row.flow}"
        detail = ""
        if row.detail and row.action not in ("emitted",):
            detail = "  " + row.detail.strip().splitlines()[-1][:120]
        stamp = time.strftime("%H:%M:%S", time.localtime(row.at_us / 1e6))
        print(f"{stamp} {row.action:<9} {where}{detail}", flush=True)

    return show


def run(args) -> int:
    import trio

    from ..config import load_config
    from ..config.cycles import print_loop_warnings
    from ..engine import settled
    from ..engine.core import Engine
    from ..engine.store_open import connect
    from ..engine.summary import write_summary

    config = load_config(*args.configs)
    print_loop_warnings(config)   # subscription loops: one `warning: ...` line each on stderr
    ws = workspace(args, args.configs)
    engine = Engine(config, ws, max_parallel=args.max_parallel)
    if not args.quiet:
        engine.listeners.append(_printer(engine))

    async def stop_on_signal() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                print("stopping (signal received)...", file=sys.stderr, flush=True)
                engine.stop()
                return

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(engine.run)
            watcher = trio.CancelScope()

            async def watch() -> None:
                with watcher:
                    await stop_on_signal()

            nursery.start_soon(watch)
            if args.until_idle:
                async def settle() -> None:
                    await settled.wait_settled(engine)
                    # no checkpoint between the last check and this read: exactly what settled
                    held.extend(settled.held_work(engine))
                    engine.stop()

                await _first(settle, engine._stop.wait)
            elif args.for_seconds is not None:
                with trio.move_on_after(args.for_seconds):
                    await engine._stop.wait()
            else:
                await engine._stop.wait()
            # The engine winds itself down (interrupted runs recorded, history flushed);
            # cancelling it from out here would race its last writes.
            engine.stop()
            watcher.cancel()

    print(f"nbflow engine starting on {ws.home} (max {engine.max_parallel} tasks at once)", flush=True)
    started = time.time_ns() // 1000
    held: list[dict] = []
    trio.run(main)
    if held:
        write_held(held, sys.stdout)
    con = connect(ws, read_only=True)
    try:
        counts = write_summary(con, started, sys.stdout)
    finally:
        con.close()
    if counts.get("failure"):
        return 1
    return EXIT_PAUSED if any(item["work"] for item in held) else 0


def write_held(held: list[dict], out) -> None:
    """The pauses ``--until-idle`` left in force and what waits on each (``settled.held_work``)."""
    stuck = any(item["work"] for item in held)
    out.write("\n=== left paused ===\n" if stuck else "\n=== paused (nothing waits on it) ===\n")
    names = [item["target"] + (f" ({item['label']})" if item["label"] else "") for item in held]
    width = max(len(n) for n in names)
    for name, item in zip(names, held, strict=True):
        if item["paused"]:
            why = "paused" + (f" by {item['actor']}" if item["actor"] else "")
            why += f": {item['reason']}" if item["reason"] else ""
            why += f" (until {item['until']})" if item["until"] else ""
            why += f"; holds {item['holds']}"
        elif item["held_by"]:
            why = f"{item['holds']}: waits on {item['held_by']}"
        else:
            why = f"{item['holds']}: active"
        out.write(f"{name:<{width}}  {why}\n")
    if stuck:
        out.write("nothing else can progress on its own: `nbflow resume TARGET`, then run again\n")


async def _first(*fns) -> None:
    """Return as soon as the first of ``fns`` returns; cancel the rest."""
    import trio

    async with trio.open_nursery() as nursery:
        async def one(fn) -> None:
            await fn()
            nursery.cancel_scope.cancel()

        for fn in fns:
            nursery.start_soon(one, fn)
