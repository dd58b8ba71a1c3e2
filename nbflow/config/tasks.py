"""Building the flows of an event type and their tasks (runners, templates, retries, env)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ConfigError
from ..spec.model import RUNNER_KINDS, EventType, Flow, Location, Task
from ..spec.templates import parse_template
from ..spec.values import to_json_value
from . import yamlnodes as yn
from .fields import Offered, check_template
from .graph import order_tasks
from .vars import TASK_BUILTINS
from .yamlnodes import Node, Problems

FLOW_KEYS = ("name", "description", "on", "tasks")
TASK_KEYS = ("name", "description", "cmd", "notebook", "python", "parameters", "kernel", "depends_on",
             "retries", "retry_delay", "timeout", "env", "cwd", "process")
FLOW_TRIGGERS = ("event", "deadline")

_PYTHON_REF = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class TaskDraft:
    """A task before its flow's dependencies are checked, with the nodes errors point at."""

    task: Task
    at: Node
    dep_nodes: list[Node] = field(default_factory=list)


@dataclass
class FlowDraft:
    """A flow before dependencies are resolved across the flows of its type."""

    name: str | None
    at: Node
    on: str
    tasks: list[TaskDraft]


def task_offered(var_names: Sequence[str]) -> Offered:
    """The names a task's templates may use: the vars plus the run's builtins."""
    return {name: frozenset() for name in (*var_names, *TASK_BUILTINS)}


def build_flows(at: Node | None, var_names: Sequence[str], base_dir: str, has_deadline: bool,
                type_name: str, problems: Problems) -> tuple[Flow, ...]:
    """The flows of one event type, each with its tasks in dependency order."""
    if at is None:
        return ()
    items = yn.sequence(at, problems, "flows")
    offered = task_offered(var_names)
    drafts: list[FlowDraft] = []
    seen: dict[str, Node] = {}
    for item in items or ():
        draft = _flow_draft(item, offered, base_dir, has_deadline, type_name, problems)
        if draft is None:
            continue
        if draft.name is not None and draft.name in seen:
            yn.duplicate(problems, item.name_node(), "flow", draft.name, seen[draft.name])
            continue
        if draft.name is not None:
            seen[draft.name] = item
        drafts.append(draft)
    # Dependencies are resolved once every flow is known, to say when one crosses a flow.
    home_of = {d.task.name: f.name for f in drafts for d in f.tasks if f.name}
    flows = []
    for draft in drafts:
        ordered = order_tasks(draft.name or "?", draft.tasks, home_of, problems)
        if draft.name is not None:
            flows.append(Flow(draft.name, ordered, draft.on, Location(draft.at.path, draft.at.file, draft.at.line)))
    return tuple(flows)


def _flow_draft(at: Node, offered: Offered, base_dir: str, has_deadline: bool, type_name: str,
                problems: Problems) -> FlowDraft | None:
    found = yn.named(at, problems, FLOW_KEYS, "a flow", "{name: main, tasks: [...]}")
    if found is None:
        return None
    entries, _, name, _ = found
    on = "event"
    if "on" in entries:
        on = yn.choice(entries["on"], problems, "on", FLOW_TRIGGERS) or "event"
        if on == "deadline" and not has_deadline:
            problems.add(entries["on"], f"flow runs on deadline, but event type {type_name!r} declares "
                                        "no deadline: add e.g. `deadline: 2h` to the event type")
    tasks_at = yn.required(entries, "tasks", at, problems, "tasks: [{name: hello, cmd: echo hi}]")
    items = yn.sequence(tasks_at, problems, "tasks") if tasks_at else None
    if items is not None and not items:
        problems.add(tasks_at, "a flow needs at least one task")
    drafts: list[TaskDraft] = []
    seen: dict[str, Node] = {}
    for item in items or ():
        draft = build_task(item, offered, base_dir, problems)
        if draft is None:
            continue
        if draft.task.name in seen:
            yn.duplicate(problems, item.name_node(), "task", draft.task.name, seen[draft.task.name])
            continue
        seen[draft.task.name] = item
        drafts.append(draft)
    return FlowDraft(name, at, on, drafts)


def build_task(at: Node, offered: Offered, base_dir: str, problems: Problems) -> TaskDraft | None:
    """One task; ``None`` when it has no usable name or runner (its other errors still reported)."""
    found = yn.named(at, problems, TASK_KEYS, "a task", "{name: download, cmd: python fetch.py}")
    if found is None:
        return None
    entries, _, name, _ = found
    runners = [k for k in entries if k in RUNNER_KINDS]  # in the order written: the later one is wrong
    if not runners:
        problems.add(at, "a task needs a runner: one of cmd (a command), notebook (a .ipynb path) "
                         "or python (module:function)")
    for extra in runners[1:]:
        problems.add(entries[extra], f"a task has exactly one runner, but this one has both "
                                     f"{runners[0]} and {extra}: split it into two tasks")
    runner = runners[0] if runners else None
    values: dict[str, Any] = {}
    if runner == "cmd":
        values["cmd"] = _cmd(entries["cmd"], offered, problems)
    elif runner == "notebook":
        values["notebook"] = _notebook(entries["notebook"], problems)
    elif runner == "python":
        values["python"] = _python(entries["python"], problems)
    for key in ("parameters", "kernel"):
        if key in entries and runner != "notebook":
            problems.add(entries[key], f"{key} applies only to notebook tasks"
                                       + (f", and this is a {runner} task" if runner else ""))
    if "parameters" in entries and runner == "notebook":
        values["parameters"] = _parameters(entries["parameters"], offered, problems)
    if "kernel" in entries and runner == "notebook":
        values["kernel"] = yn.text(entries["kernel"], problems, "kernel")
    if "process" in entries:
        if runner != "python":
            problems.add(entries["process"], "process applies only to python tasks (cmd and notebook "
                                             "tasks always run in a process of their own)"
                                             + (f", and this is a {runner} task" if runner else ""))
        else:
            values["process"] = flag(entries["process"], problems, "process")
    dep_nodes: list[Node] = []
    if "depends_on" in entries:
        dep_nodes = yn.sequence(entries["depends_on"], problems, "depends_on", single_ok=True) or []
        names = [yn.identifier(d, problems, "depends_on entry") for d in dep_nodes]
        dep_nodes = [d for d, n in zip(dep_nodes, names, strict=True) if n is not None]
        values["depends_on"] = tuple(dict.fromkeys(d.text for d in dep_nodes))
    if "retries" in entries:
        values["retries"] = yn.integer(entries["retries"], problems, "retries", minimum=0) or 0
    if "retry_delay" in entries:
        values["retry_delay"] = yn.duration(entries["retry_delay"], problems, "retry_delay") or 0.0
    if "timeout" in entries:
        values["timeout"] = yn.duration(entries["timeout"], problems, "timeout", positive=True)
    if "env" in entries:
        values["env"] = _env(entries["env"], offered, problems)
    if "cwd" in entries:
        cwd = yn.text(entries["cwd"], problems, "cwd")
        if cwd is not None and check_template(entries["cwd"], cwd, offered, problems):
            values["cwd"] = cwd
    if name is None:
        return None
    # A task with a bad runner is still kept (the load fails anyway), so that tasks depending
    # on it do not get a second, misleading "unknown task" error.
    task = Task(name=name, runner=runner or "?", base_dir=base_dir,
                location=Location(at.path, at.file, at.line),
                **{k: v for k, v in values.items() if v is not None})
    return TaskDraft(task, at, dep_nodes)


def _cmd(at: Node, offered: Offered, problems: Problems) -> tuple[str, ...] | None:
    if at.is_scalar:
        # Split before any value is substituted: no shell ever sees an event value.
        try:
            argv = shlex.split(at.text)
        except ValueError as exc:
            problems.add(at, f"cmd cannot be split into arguments ({exc}); check the quotes")
            return None
        if not argv:
            problems.add(at, "cmd is empty; give the command to run, e.g. `python fetch.py {region}`")
            return None
        try:
            parse_template(at.text)
        except ConfigError:
            pass  # reported per argument below
        else:
            for arg in argv:
                try:
                    parse_template(arg)
                except ConfigError:
                    problems.add(at, f"cmd argument {arg!r} splits a {{field}} at a space; "
                                     "write cmd as a list to keep the field in one argument")
                    return None
        ok = all([check_template(at, arg, offered, problems) for arg in argv])
        return tuple(argv) if ok else None
    items = yn.sequence(at, problems, "cmd")
    if items is None:
        return None
    if not items:
        problems.add(at, "cmd is an empty list; give the command and its arguments")
        return None
    args = [yn.text(item, problems, "a cmd argument") for item in items]
    checks = [check_template(item, arg, offered, problems) for item, arg in zip(items, args, strict=True)
              if arg is not None]
    return tuple(args) if None not in args and all(checks) else None  # type: ignore[arg-type]


def _notebook(at: Node, problems: Problems) -> str | None:
    path = yn.text(at, problems, "notebook")
    if path is not None and not path.endswith(".ipynb"):
        problems.add(at, f"notebook {path!r} must be the path of a .ipynb file")
        return None
    return path


def _python(at: Node, problems: Problems) -> str | None:
    ref = yn.text(at, problems, "python")
    if ref is not None and not _PYTHON_REF.match(ref):
        problems.add(at, f"python {ref!r} must be `module:function`, e.g. mypkg.tasks:publish")
        return None
    return ref


def flag(at: Node, problems: Problems, what: str) -> bool | None:
    """A YAML boolean (``true``/``false``); otherwise an error showing how to write one."""
    value = yn.plain(at, problems, what)
    if value is not None and not isinstance(value, bool):
        problems.add(at, f"{what} must be true or false, got {value!r}")
        return None
    return value


def with_python_process(event_types: Sequence[EventType], default: bool) -> list[EventType]:
    """``event_types`` with the engine's ``python_process`` default filled in on python tasks
    that do not say ``process:`` themselves."""
    if not default:
        return list(event_types)

    def fill(task: Task) -> Task:
        if task.runner == "python" and task.process is None:
            return replace(task, process=True)
        return task

    return [replace(et, flows=tuple(replace(f, tasks=tuple(fill(t) for t in f.tasks)) for f in et.flows))
            for et in event_types]


def _parameters(at: Node, offered: Offered, problems: Problems) -> dict[str, Any]:
    entries = yn.mapping(at, problems, None, "parameters")
    out: dict[str, Any] = {}
    for key, node in (entries or {}).items():
        if not key.isidentifier():
            problems.add(node, f"parameter name {key!r} is not a Python name; the notebook's "
                               "parameters cell assigns it as a variable")
            continue
        value = yn.plain(node, problems, f"parameter {key!r}")
        if isinstance(value, str) and not check_template(node, value, offered, problems):
            continue
        out[key] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    """YAML dates as ISO strings, recursively: notebook parameters must be plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return to_json_value(value)


def _env(at: Node, offered: Offered, problems: Problems) -> dict[str, str]:
    entries = yn.mapping(at, problems, None, "env")
    out: dict[str, str] = {}
    for key, node in (entries or {}).items():
        if not _ENV_NAME.match(key):
            problems.add(node, f"env name {key!r} is not a valid environment variable name "
                               "(letters, digits and _, not starting with a digit)")
            continue
        value = yn.text(node, problems, f"env value of {key}")
        if value is not None and check_template(node, value, offered, problems):
            out[key] = value
    return out
