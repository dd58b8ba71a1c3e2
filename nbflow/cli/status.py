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


def _paused(info: dict | None, flag: bool) -> str:
    """`` PAUSED (by cli: maintenance, until ...)``: why something is held, when known."""
    if not flag:
        return ""
    if not info:
        return " PAUSED"
    why = [f"by {info['actor']}" if info.get("actor") else None, info.get("reason"),
           f"until {info['until']}" if info.get("until") else None]
    if (info.get("target") or "").startswith("type:"):
        why.insert(0, f"held by {info['target']}")
    text = ", ".join(w for w in why if w)
    return f" PAUSED ({text})" if text else " PAUSED"


def render(status: dict) -> str:
    lines = [f"engine pid {status['pid']} on {status['home']}: {len(status['events'])} active event(s), "
             f"{status['running']} task(s) running (max {status['max_parallel']})"]
    pauses = {p["target"]: p for p in status.get("pauses", [])}
    for type_name, reason in status.get("paused_types", {}).items():
        info = {**(pauses.get(f"type:{type_name}") or {"reason": reason}), "target": None}
        lines.append(f"  type {type_name}:{_paused(info, True)}")
    for ev in status["events"]:
        flag = " " + _paused(ev.get("pause"), ev["paused"]) if ev["paused"] else ""
        lines.append(f"  {ev['event_key']}  {ev['label']}  {_elapsed(ev['elapsed'])}{flag}")
        for flow in ev["flows"]:
            fflag = _paused(flow.get("pause"), flow["paused"])
            lines.append(f"    {flow['flow']}{fflag}")
            for t in flow["tasks"]:
                extra = f" #{t['attempt']}" if t["attempt"] else ""
                pflag = _paused(t.get("pause"), t.get("paused"))
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
