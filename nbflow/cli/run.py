"""``nbflow run CONFIG...``: the engine in the foreground, printing stages as they happen."""

from __future__ import annotations

import signal
import sys
import time

from ._common import workspace


def _printer(engine):
    labels: dict[str, str] = {}

    def show(row) -> None:
        if row.action == "emitted":
            labels[row.event_key] = row.detail or row.event_key
        where = labels.get(row.event_key, row.event_key or row.target or "")
        if row.task:
            where += f" {row.flow}.{row.task}#{row.run}"
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
                await _first(engine.wait_idle, engine._stop.wait)
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
    trio.run(main)
    con = connect(ws, read_only=True)
    try:
        counts = write_summary(con, started, sys.stdout)
    finally:
        con.close()
    return 1 if counts.get("failure") else 0


async def _first(*fns) -> None:
    """Return as soon as the first of ``fns`` returns; cancel the rest."""
    import trio

    async with trio.open_nursery() as nursery:
        async def one(fn) -> None:
            await fn()
            nursery.cancel_scope.cancel()

        for fn in fns:
            nursery.start_soon(one, fn)
