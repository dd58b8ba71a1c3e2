"""Task dependencies within a flow: checking them and putting the tasks in dependency order.

``graphlib`` does the graph work (readiness and cycle finding); this module only decides the
order among ready tasks (declaration order, so a flow written in order stays in that order)
and words the errors.
"""

from __future__ import annotations

import graphlib
import heapq
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..errors import did_you_mean
from ..spec.model import Task

if TYPE_CHECKING:
    from .tasks import TaskDraft
    from .yamlnodes import Problems


def order_tasks(flow: str, drafts: Sequence[TaskDraft], home_of: Mapping[str, str | None],
                problems: Problems) -> tuple[Task, ...]:
    """The flow's tasks in a dependency order, stable in declaration order among ready tasks.

    ``home_of`` maps every task name of the event type to its flow, so a dependency on a
    task of another flow gets its own message. Bad dependencies are reported and dropped;
    on a cycle the tasks come back in declaration order (the load fails anyway).
    """
    names = [d.task.name for d in drafts]
    graph: dict[str, list[str]] = {}
    for draft in drafts:
        graph[draft.task.name] = [dep for dep in draft.task.depends_on
                                  if _dependency_ok(flow, draft, dep, names, home_of, problems)]
    sorter = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        _report_cycle(exc.args[1], drafts, problems)
        return tuple(d.task for d in drafts)
    index = {name: i for i, name in enumerate(names)}
    by_name = {d.task.name: d.task for d in drafts}
    ready: list[int] = []
    ordered: list[Task] = []
    while sorter.is_active():
        for name in sorter.get_ready():
            heapq.heappush(ready, index[name])
        # Take one task at a time, the earliest declared, so declaration order wins ties.
        name = names[heapq.heappop(ready)]
        ordered.append(by_name[name])
        sorter.done(name)
    return tuple(ordered)


def _dependency_ok(flow: str, draft: TaskDraft, dep: str, names: Sequence[str],
                   home_of: Mapping[str, str | None], problems: Problems) -> bool:
    at = next(n for n in draft.dep_nodes if n.text == dep)
    if dep == draft.task.name:
        problems.add(at, f"task {dep!r} depends on itself; remove it from its depends_on")
        return False
    if dep in names:
        return True
    other = home_of.get(dep)
    if other is not None and other != flow:
        problems.add(at, f"task {dep!r} is in flow {other!r}; dependencies never cross a flow: "
                         "emit an event instead (or subscribe a generator to that task)")
    else:
        problems.add(at, f"depends on {dep!r}, which is not a task of flow {flow!r}"
                         f"{did_you_mean(dep, names)}; its tasks: {', '.join(names)}")
    return False


def _report_cycle(cycle: Sequence[str], drafts: Sequence[TaskDraft], problems: Problems) -> None:
    # graphlib lists a cycle along "is needed by"; reverse it so each arrow reads "depends on",
    # and start it at the earliest declared task so the message does not vary between runs.
    loop = list(reversed(cycle[:-1]))
    first = min(range(len(loop)), key=lambda i: next(k for k, d in enumerate(drafts)
                                                     if d.task.name == loop[i]))
    loop = loop[first:] + loop[:first]
    draft = next(d for d in drafts if d.task.name == loop[0])
    nxt = loop[1] if len(loop) > 1 else loop[0]
    at = next(n for n in draft.dep_nodes if n.text == nxt)
    path = at.path.rsplit("[", 1)[0] if at.path.endswith("]") else at.path
    chain = " -> ".join([*loop, loop[0]])
    problems.add(at, f"dependency cycle: {chain} (each task depends on the next); "
                     "a flow must be a DAG: remove one of these dependencies", path=path)
