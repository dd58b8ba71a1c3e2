"""``nbflow pause|resume|retry|skip|cancel|clone TARGET``: steer what runs.

Talks to the running engine over its socket (the answer comes once the action is committed;
a refused action exits 1 with the reason on stderr).  With no engine running, the command is
checked against history as far as it can be and queued in the inbox; the engine applies it
(or rejects it into ``inbox/rejected/``) when it starts.
"""

from __future__ import annotations

import sys

from ..errors import ControlError, EngineNotRunning
from ._common import workspace


def run(args) -> int:
    from .. import client
    from ..control.command import make_command

    op = args.command
    cmd = make_command(op, args.target, reason=args.reason, actor="cli",
                       tree=getattr(args, "tree", False),
                       cancel_running=getattr(args, "cancel_running", False),
                       until=getattr(args, "until", None))
    ws = workspace(args)
    try:
        result = client.request(ws, {"op": "command", "command": cmd}, timeout=300.0)
        if op == "clone":
            print(result["event_key"])
        else:
            print(result.get("summary") or f"{op} {cmd['target']}: done")
        for name in result.get("still_running") or ():
            print(f"warning: task {name} had not ended when the engine answered", file=sys.stderr)
        return 0
    except EngineNotRunning as exc:
        try:
            return _queue(ws, cmd, stopped=isinstance(exc, client.NoAnswer))
        except ControlError as exc:
            print(f"nbflow {op}: refused: {exc}", file=sys.stderr)
            return 1
    except ControlError as exc:
        print(f"nbflow {op}: refused: {exc}", file=sys.stderr)
        return 1


def _queue(ws, cmd: dict, stopped: bool = False) -> int:
    """No engine runs (``stopped``: it died before answering, the command may have applied):
    check what history can tell, then queue the command in the inbox."""
    from .. import inbox
    from ..control.targets import parse_target

    if not ws.home.is_dir():
        raise ControlError(f"workspace {ws.home} does not exist (has an engine ever run there?)")
    _check_offline(ws, parse_target(cmd["target"]))
    path = inbox.write_command(ws, cmd)
    print((f"the engine on {ws.home} stopped before answering ({cmd['op']} may have applied): "
           if stopped else f"no engine runs on {ws.home}: ")
          + f"{cmd['op']} {cmd['target']} is queued ({path.name}); "
          f"the engine applies it when it starts (or rejects it into inbox/rejected/)")
    return 0


def _check_offline(ws, target) -> None:
    """Refuse a target that names a type or an event this workspace never had."""
    if target.kind == "type":
        types = (ws.read_types() or {}).get("types", {})
        if types and target.name not in types:
            raise ControlError(f"no event type {target.name!r} in workspace {ws.home}; types: "
                               f"{', '.join(sorted(types))}")
        return
    if target.kind != "event" or not ws.db_path.exists():
        return
    from ..engine.store_open import connect

    con = connect(ws, read_only=True)
    try:
        found = con.execute("SELECT 1 FROM event_log WHERE event_key = ?", [target.name]).fetchone()
    finally:
        con.close()
    if found is None:
        raise ControlError(f"no event {target.name!r} in the history of {ws.home}")
