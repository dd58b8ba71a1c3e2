"""``nbflow generator show|list|init|reset|skip-to-now|replay [TYPE.]NAME``.

Through the running engine's socket (the answer says what was cleared, once committed).
With no engine: ``show`` and ``list`` read the history file read-only; changes are queued
in the inbox and applied when the engine starts, before it catches up missed fires.
"""

from __future__ import annotations

import getpass
import json
import sys

from ..errors import EngineNotRunning, NbflowError
from ._common import print_table, workspace


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:   # no user name in this environment
        return "cli"


def _command(args) -> dict:
    if args.action != "list" and not args.name:
        raise NbflowError(f"generator {args.action} needs a generator name: [TYPE.]NAME")
    cmd = {"op": "generator", "action": args.action, "name": args.name, "reason": args.reason,
           "actor": _actor()}
    if args.state is not None:
        if args.action != "init":
            raise NbflowError("--state goes with init only")
        try:
            cmd["state"] = json.loads(args.state)
        except json.JSONDecodeError as exc:
            raise NbflowError(f"--state is not valid JSON ({exc}): {args.state!r}") from None
        if not isinstance(cmd["state"], dict):
            raise NbflowError(f"--state must be a JSON object such as '{{\"n\": 1}}', got {args.state!r}")
    if args.from_time is not None and args.action != "replay":
        raise NbflowError("--from goes with replay only")
    if args.action == "replay" and not args.from_time:
        raise NbflowError("replay needs --from TIME (an ISO time such as 2026-01-31T09:00:00, UTC unless "
                          "it has an offset, or a duration ago such as 10m)")
    if args.from_time is not None:
        cmd["from"] = args.from_time
    return cmd


def render_show(info: dict, out=None) -> None:
    out = out or sys.stdout
    out.write(f"generator {info['name']} ({info['status']})\n")
    for label, key in (("on_time", "on_time"), ("class", "class"), ("hold", "hold"), ("on_hold", "on_hold"),
                       ("catchup", "catchup"), ("next fire", "next_fire"), ("held on", "held_on")):
        if info.get(key):
            out.write(f"  {label:<10} {info[key]}\n")
    if info.get("subscribe"):
        out.write(f"  {'subscribe':<10} {', '.join(info['subscribe'])}\n")
    out.write(f"  {'pending':<10} {info.get('pending', 0)}\n")
    out.write("  state      " + json.dumps(info["state"], indent=2).replace("\n", "\n  ") + "\n")
    ticks = info.get("ticks")
    if ticks:
        out.write("latest ticks (newest first):\n")
        cols = ["tick_id", "at", "fire_time", "outcome", "event_key", "reason"]
        print_table(cols, [[t.get(c) for c in cols] for t in ticks], out=out, max_width=70)


def render_list(items: list[dict], out=None) -> None:
    cols = ["name", "status", "last_fire", "last_event_key", "pending", "held_on", "next_fire"]
    rows = [[i["name"], i["status"], i["state"].get("last_fire"), i["state"].get("last_event_key"),
             i["pending"], i["held_on"], i.get("next_fire")] for i in items]
    print_table(cols, rows, out=out)


def run(args) -> int:
    from .. import client

    ws = workspace(args, must_exist=True)
    cmd = _command(args)
    try:
        result = client.request(ws, cmd)
    except EngineNotRunning:
        result = None
    if result is None:
        from ..generators import offline

        if args.action == "show":
            render_show(offline.show(ws, args.name))
        elif args.action == "list":
            render_list(offline.list_generators(ws))
        else:
            from ..inbox import write_command

            path = write_command(ws, cmd)
            note = offline.preview(ws, args.action, args.name)
            print(f"no engine runs on {ws.home}: {args.action} {args.name} is queued ({path.name}) and "
                  "will be applied when the engine starts, before missed fires are caught up"
                  + (f"; {note}" if note else ""))
        return 0
    if args.action == "show":
        render_show(result)
    elif args.action == "list":
        render_list(result)
    else:
        print(result["message"])
    return 0
