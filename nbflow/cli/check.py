"""``nbflow check CONFIG...``: validate config files and summarise what they declare.

Valid: a short summary on stdout (types with their vars and rules, generators with their
triggers and next fire times, flows with their tasks in dependency order), exit 0. Invalid:
one ``FILE:LINE: PATH: MESSAGE`` line per error on stderr, exit 1. Warnings (missing notebooks,
generator subscription loops) go to stderr and keep exit 0. Imports only the config
layer: no DuckDB, trio or notebook machinery, so it stays quick.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from pathlib import Path

from ..durations import format_duration
from ..errors import ConfigError
from ..spec.model import Config, EventType, GeneratorSpec, OnTime, Task, Var
from ..spec.values import format_value

#: How many upcoming fire times the summary shows per timer.
NEXT_FIRES = 3


def run(args: argparse.Namespace) -> int:
    """Check ``args.configs``; print the summary or the errors; return the exit code."""
    from ..config import load_config

    try:
        config = load_config(*args.configs)
    except ConfigError as exc:
        for error in exc.errors:
            print(error.location_line(), file=sys.stderr)
        return 1
    print(summarize(config, names=args.configs))
    for warning in config_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def summarize(config: Config, now: dt.datetime | None = None, names: list[str] | None = None) -> str:
    """The human summary of a valid config; fire times are the next ones after ``now``.

    ``names`` are the files or folders as the user gave them (default: the absolute sources).
    """
    now = now or dt.datetime.now(dt.UTC)
    counts = (len(config.event_types), len(config.generators()),
              sum(len(t.flows) for t in config.event_types),
              sum(len(f.tasks) for t in config.event_types for f in t.flows))
    files = ", ".join(names or [str(p) for p in config.sources] or list(config.texts))
    lines = [f"OK: {files}",
             f"{_n(counts[0], 'event type')}, {_n(counts[1], 'generator')}, {_n(counts[2], 'flow')}, "
             f"{_n(counts[3], 'task')}"]
    for event_type in config.event_types:
        lines.append("")
        lines.extend(_type_lines(event_type, now))
    return "\n".join(lines)


def config_warnings(config: Config) -> list[str]:
    """Things that load but look wrong: notebooks not found beside the config that names them,
    and generator subscription loops (see ``nbflow.config.cycles``)."""
    from ..config.cycles import loop_warnings

    out = []
    for event_type in config.event_types:
        for flow in event_type.flows:
            for task in flow.tasks:
                if task.notebook and not (Path(task.base_dir) / task.notebook).exists():
                    where = task.location
                    place = f"{where.file}:{where.line}: {where.path}.notebook: " if where else ""
                    out.append(f"{place}notebook {task.notebook!r} not found in {task.base_dir}")
    return out + loop_warnings(config)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _type_lines(event_type: EventType, now: dt.datetime) -> list[str]:
    where = event_type.location
    head = f"event type {event_type.name}"
    if where is not None:
        head += f"  ({where.file}:{where.line})"
    lines = [head]
    if event_type.description:
        lines.append(f"  {event_type.description}")
    if event_type.deadline is not None:
        deadline = event_type.deadline
        if deadline.on_time is not None:
            lines.append(f"  deadline: {_timer(deadline.on_time)}")
        elif deadline.after is not None:
            lines.append(f"  deadline: {format_duration(deadline.after)} after the event is emitted")
    lines.append("  vars:" if event_type.vars else "  vars: (none)")
    width = max((len(v.name) for v in event_type.vars), default=0)
    lines.extend(f"    {v.name:<{width}}  {_var_rules(v)}" for v in event_type.vars)
    lines.append("  generators:" if event_type.generators else "  generators: (none: emit events yourself)")
    for gen in event_type.generators:
        lines.extend(_generator_lines(gen, now))
    lines.append("  flows:" if event_type.flows else "  flows: (none)")
    for flow in event_type.flows:
        lines.append(f"    {flow.name} (runs on {'each event' if flow.on == 'event' else 'the deadline'}):")
        width = max(len(t.name) for t in flow.tasks)
        lines.extend(f"      {t.name:<{width}}  {_task_text(t)}" for t in flow.tasks)
    return lines


def _var_rules(var: Var) -> str:
    default = f"default {format_value(var.default)}" if var.has_default else "required"
    return ", ".join([var.type, *var.rule_texts(), default])


def _timer(on_time: OnTime) -> str:
    return f"on_time {on_time.onexp!r} in {on_time.timezone}"


def _generator_lines(gen: GeneratorSpec, now: dt.datetime) -> list[str]:
    triggers = []
    if gen.class_:
        triggers.append(f"class {gen.class_}")
    if gen.on_time is not None:
        triggers.append(_timer(gen.on_time))
    if gen.subscribe:
        triggers.append("subscribe " + ", ".join(str(s) for s in gen.subscribe))
    if gen.hold:
        triggers.append(f"hold until {gen.hold} (on_hold {gen.on_hold})")
    lines = [f"    {gen.name}: " + "; ".join(triggers)]
    if gen.where:
        lines.append("      where " + ", ".join(
            f"{k} in [{', '.join(format_value(v) for v in vs)}]" for k, vs in gen.where.items()))
    if gen.on_time is not None:
        lines.append("      next: " + _next_fires(gen.on_time, now))
    return lines


def _next_fires(on_time: OnTime, now: dt.datetime) -> str:
    schedule = on_time.schedule()
    fires: list[str] = []
    after = now
    for _ in range(NEXT_FIRES):
        fire = schedule.next(after)
        if fire is None:
            fires.append("(no more fire times)")
            break
        fires.append(fire.isoformat(sep=" "))
        after = fire
    return ", ".join(fires)


def _task_text(task: Task) -> str:
    if task.runner == "cmd" and task.cmd is not None:
        text = "cmd: " + " ".join(a if a and not any(c.isspace() or c in "'\"" for c in a)
                                  else shlex.quote(a) for a in task.cmd)
    elif task.runner == "notebook":
        text = f"notebook: {task.notebook}"
    else:
        text = f"python: {task.python}"
    extras = []
    if task.depends_on:
        extras.append("after " + ", ".join(task.depends_on))
    if task.retries:
        extras.append(f"retries {task.retries}"
                      + (f" every {format_duration(task.retry_delay)}" if task.retry_delay else ""))
    if task.timeout is not None:
        extras.append(f"timeout {format_duration(task.timeout)}")
    if task.process:
        extras.append("in its own process")
    return text + ("  [" + "; ".join(extras) + "]" if extras else "")
