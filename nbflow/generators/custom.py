"""Custom generators: ``class: module:Class``, an object whose ``emit(trigger, state)`` returns
the values of the events to emit.

The class is imported with the config file's folder on ``sys.path`` (as the python runner
does) and instantiated once, without arguments, when it first fires.  ``emit`` runs on the
engine's loop: it must be quick.  One that raises fails that fire (the traceback goes to
the tick log) and the engine goes on; one that takes longer than ``SLOW_SECONDS`` is
reported in the tick's reason and logged.
"""

from __future__ import annotations

import copy
import importlib
import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any

#: ``emit`` calls longer than this are reported: they stall every timer and task of the engine.
SLOW_SECONDS = 0.1

log = logging.getLogger("nbflow.generators")


class CustomFailure(Exception):
    """A custom generator could not be loaded, raised, or returned something unusable."""


def base_dir_of(spec, config) -> str:
    """The folder of the config file that declared ``spec`` (its imports resolve there)."""
    if spec.location is not None and spec.location.file:
        return str(Path(spec.location.file).resolve().parent)
    return str(Path(config.base_dir).resolve())


def load(ref: str, base_dir: str) -> Any:
    """An instance of the class named ``module:Class``; ``CustomFailure`` saying why not."""
    if base_dir not in sys.path:
        sys.path.insert(0, base_dir)
    module_name, _, class_name = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = module
        for part in class_name.split("."):
            cls = getattr(cls, part)
        obj = cls()
    except Exception:
        raise CustomFailure(f"cannot load custom generator {ref!r} (from {base_dir}):\n"
                            + traceback.format_exc(limit=-6)) from None
    if not callable(getattr(obj, "emit", None)):
        raise CustomFailure(f"custom generator {ref!r} has no emit(trigger, state) method; "
                            "define one returning a list of value dicts")
    return obj


def call(obj: Any, ref: str, trigger: dict[str, Any], state: dict[str, Any]
         ) -> tuple[list[dict[str, Any]], dict[str, Any], float]:
    """``obj.emit(trigger, state)``: the value dicts, the (possibly updated) state, seconds taken.

    ``state`` is not changed when ``emit`` raises: it works on a copy.
    """
    work = copy.deepcopy(state)
    started = time.perf_counter()
    try:
        result = obj.emit(trigger, work)
    except Exception:
        elapsed = time.perf_counter() - started
        raise CustomFailure(f"{ref}.emit raised after {elapsed * 1000:.0f} ms:\n"
                            + traceback.format_exc(limit=-8)) from None
    elapsed = time.perf_counter() - started
    if result is None:
        result = []
    elif isinstance(result, dict):
        result = [result]
    if not isinstance(result, (list, tuple)) or not all(isinstance(v, dict) for v in result):
        raise CustomFailure(f"{ref}.emit must return a list of value dicts (or None), "
                            f"got {type(result).__name__}: {result!r:.200}")
    return list(result), work, elapsed


def slow_note(ref: str, elapsed: float) -> str | None:
    """The report for an ``emit`` that held the loop too long, else None."""
    if elapsed <= SLOW_SECONDS:
        return None
    note = (f"slow: {ref}.emit blocked the engine's loop for {elapsed * 1000:.0f} ms "
            f"(threshold {SLOW_SECONDS * 1000:.0f} ms); do slow work in a task, not in a generator")
    log.warning(note)
    return note


class ClassSchedule:
    """The timer of a class-only generator whose class defines ``next_fire(after)``.

    Looks like an OnExp to the timer code (``next``, ``iter``, ``zone``), so catch-up, replay
    and idempotency keys work the same.  ``next_fire`` must return an aware datetime or None.
    """

    def __init__(self, obj: Any, ref: str) -> None:
        from datetime import UTC

        self._obj = obj
        self._ref = ref
        self.zone = UTC

    def next(self, after):
        try:
            found = self._obj.next_fire(after)
        except Exception:
            raise CustomFailure(f"{self._ref}.next_fire raised:\n" + traceback.format_exc(limit=-6)) from None
        if found is not None and (not hasattr(found, "utcoffset") or found.utcoffset() is None):
            raise CustomFailure(f"{self._ref}.next_fire must return an aware datetime or None, got {found!r}")
        if found is not None and found <= after:
            raise CustomFailure(f"{self._ref}.next_fire({after.isoformat()}) returned {found.isoformat()}, "
                                "which is not after it")
        return found

    def iter(self, after):
        current = self.next(after)
        while current is not None:
            yield current
            current = self.next(current)
