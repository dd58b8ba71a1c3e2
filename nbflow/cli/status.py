"""``nbflow status``: what the running engine is doing now."""

from __future__ import annotations

import json

from ..errors import EngineNotRunning
from ._common import workspace


def _elapsed(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def render(status: dict) -> str:
    lines = [f"engine pid {status['pid']} on {status['home']}: {len(status['events'])} active event(s), "
             f"{status['running']} task(s) running (max {status['max_parallel']})"]
    for type_name, reason in status.get("paused_types", {}).items():
        lines.append(f"  type {type_name}: PAUSED" + (f" ({reason})" if reason else ""))
    for ev in status["events"]:
        flag = "  PAUSED" if ev["paused"] else ""
        lines.append(f"  {ev['event_key']}  {ev['label']}  {_elapsed(ev['elapsed'])}{flag}")
        for flow in ev["flows"]:
            fflag = " PAUSED" if flow["paused"] else ""
            lines.append(f"    {flow['flow']}{fflag}")
            for t in flow["tasks"]:
                extra = f" #{t['attempt']}" if t["attempt"] else ""
                pflag = " PAUSED" if t.get("paused") else ""
                lines.append(f"      {t['task']:<20} {t['status']:<11}{extra} {_elapsed(t['elapsed'])}{pflag}".rstrip())
    return "\n".join(lines)


def run(args) -> int:
    from .. import client

    ws = workspace(args)
    try:
        status = client.request(ws, {"op": "status"})
    except EngineNotRunning as exc:
        print(f"{exc}")
        return 1
    print(json.dumps(status, indent=1) if args.json else render(status))
    return 0
