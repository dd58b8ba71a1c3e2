"""Helpers shared by the benchmark scripts: statistics, side-by-side rounds, engine set-up,
the no-op tasks both the engine and the baselines call, and one results printer.

The machines these run on have 2 cores and are noisy, so every benchmark alternates the
baseline and the engine inside one process, several rounds, and reports medians; a ratio is
always ``engine / baseline`` of two numbers measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Configs written by the benchmarks name their Python tasks ``_common:noop_async``: the engine
# imports this very module, so engine and baseline call the same function objects.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


# -- the tasks ----------------------------------------------------------------------------------
async def noop_async(event: Any = None, ctx: Any = None) -> None:
    """A no-op ``async def`` task: runs on the engine's loop."""


def noop_sync(event: Any = None, ctx: Any = None) -> None:
    """A no-op plain task: runs in a worker thread (``trio.to_thread.run_sync``)."""


#: perf_counter() at which the latency benchmark's tasks were called, by event key.
CALLED: dict[str, float] = {}


async def stamp_async(event: Any, ctx: Any = None) -> None:
    """Record when the task function itself started (latency benchmark)."""
    CALLED[event.event_key] = time.perf_counter()


def stamp_sync(event: Any, ctx: Any = None) -> None:
    """``stamp_async`` in a worker thread."""
    CALLED[event.event_key] = time.perf_counter()


# -- statistics ---------------------------------------------------------------------------------
def median(values: list[float]) -> float:
    """The median of ``values``."""
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) with linear interpolation between order statistics."""
    if not values:
        raise ValueError("percentile of no values")
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def side_by_side(rounds: int, runs: dict[str, Callable[[], float]], *, verbose: bool = True
                 ) -> dict[str, list[float]]:
    """Run every callable once per round, alternating their order each round.

    Returns the samples by name.  The order flips every round so neither side always runs
    first (warm caches, a CPU that has just ramped up) or last.
    """
    samples: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            value = runs[name]()
            samples[name].append(value)
            if verbose:
                print(f"  round {r + 1}/{rounds}  {name:<34} {value:12.4g}", file=sys.stderr, flush=True)
    return samples


def ratio_of(numerators: list[float], denominators: list[float]) -> float:
    """The median of per-round ratios (each round's two numbers were measured side by side)."""
    return median([a / b for a, b in zip(numerators, denominators, strict=True)])


# -- reporting ----------------------------------------------------------------------------------
@dataclass
class Row:
    """One line of results: a median, optionally a ratio to a baseline and a target."""

    name: str
    value: float
    unit: str
    ratio: float | None = None     # engine / baseline (or baseline / engine for times: see note)
    target: str = ""               # e.g. ">= 0.4x", "<= 2 ms"
    met: bool | None = None
    note: str = ""


def code_version() -> str:
    """The checkout's commit, with ``+local changes`` when ``nbflow/`` differs from it."""
    import subprocess

    def git(*args: str) -> str:
        # --no-optional-locks: a read-only look, never a refresh of the index.
        return subprocess.run(["git", "--no-optional-locks", "-C", str(REPO), *args],
                              capture_output=True, text=True, timeout=10).stdout.strip()

    try:
        sha = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "nbflow")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha or "unknown") + (" +local changes in nbflow/" if dirty else "")


def machine() -> str:
    """A one-line description of where, when and on which code this ran."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return (f"{datetime.datetime.now().isoformat(timespec='minutes')}, nproc={os.cpu_count()}, "
            f"load {load:.1f}, Python {platform.python_version()} ({platform.machine()}, "
            f"{platform.system()}), code {code_version()}")


def print_results(title: str, rows: list[Row], params: str = "") -> None:
    """A fixed-width table of ``rows`` on stdout, with the machine and parameters above it."""
    print(f"\n== {title} ==")
    print(f"   {machine()}")
    if params:
        print(f"   {params}")
    w = max(len(r.name) for r in rows) + 2
    print(f"   {'measure':<{w}} {'median':>12}  {'unit':<8} {'ratio':>7}  {'target':<10} met")
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        met = "" if r.met is None else ("yes" if r.met else "NO")
        print(f"   {r.name:<{w}} {r.value:12.4g}  {r.unit:<8} {ratio:>7}  {r.target:<10} {met}"
              + (f"   ({r.note})" if r.note else ""))
    sys.stdout.flush()


def arguments(description: str, **extra: Any) -> argparse.Namespace:
    """The common command line: ``--quick`` for a ~10 s smoke run, ``--rounds N``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (~10 s)")
    parser.add_argument("--rounds", type=int, help="side-by-side rounds (default 5, quick 2)")
    for flag, kwargs in extra.items():
        parser.add_argument(flag, **kwargs)
    args = parser.parse_args()
    if args.rounds is None:
        args.rounds = 2 if args.quick else 5
    return args


# -- workspaces and engines ----------------------------------------------------------------------
class Scratch:
    """A temporary folder (under ``base``, default the system's), removed on exit.

    ``with Scratch() as root: ...``
    """

    def __init__(self, base: str | None = None) -> None:
        self.base = base

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="nbflow-bench-", dir=self.base))
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def write_config(root: Path, text: str, name: str = "bench.yaml") -> Path:
    """Write a YAML config into ``root``; its path."""
    path = root / name
    path.write_text(text)
    return path


def load(path: Path):
    """The validated ``Config`` of one YAML file."""
    from nbflow.config import load_config

    return load_config(str(path))


async def with_engine(config, home: Path, max_parallel: int,
                      body: Callable[[Any], Awaitable[Any]]) -> Any:
    """Start an engine on ``home``, run ``await body(engine)``, stop the engine; body's result."""
    import trio

    from nbflow.engine.core import Engine
    from nbflow.workspace import Workspace

    engine = Engine(config, Workspace(home), max_parallel=max_parallel)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        try:
            return await body(engine)
        finally:
            engine.stop()


def fresh_home(root: Path, prefix: str) -> Path:
    """A new, empty workspace folder under ``root``."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root))


def count_finals(engine, n: int):
    """A ``trio.Event`` set once ``n`` events reached their event-level ``final`` stage (a
    listener on the engine: no polling of the history)."""
    import trio

    done = trio.Event()
    seen = 0

    def on_stage(row) -> None:
        nonlocal seen
        if row.action == "final" and row.flow is None:
            seen += 1
            if seen == n:
                done.set()

    engine.listeners.append(on_stage)
    return done
