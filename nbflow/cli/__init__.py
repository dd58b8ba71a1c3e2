"""The ``nbflow`` command line: argument parsing only; each command lives in its own module.

Start-up must stay fast (``nbflow emit`` runs inside tasks): this module imports nothing but
argparse, and a command's module is imported only when that command runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# command -> (module under nbflow.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {}


def _command(name: str, module: str, help: str) -> None:
    COMMANDS[name] = (module, help)


_command("check", "check", "validate config files and summarise them")
_command("run", "run", "run the engine in the foreground")
_command("emit", "emit", "emit an event (queued durably; applied by the engine)")
_command("publish", "publish", "publish a file as an artifact of the current task run")
_command("artifact", "artifact", "print the path of a published artifact")
_command("sql", "sql", "query the history (DuckDB SQL)")
_command("status", "status", "what runs now: events, flows, tasks, elapsed time")
_command("generator", "generator", "inspect and change generator state")
for _action in ("pause", "resume", "retry", "skip", "cancel", "clone"):
    _command(_action, "control", f"{_action} a type, event, flow, task or generator")


def _add_home(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", metavar="DIR",
                   help="the workspace (default: $NBFLOW_HOME, else .nbflow/ beside the config)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nbflow",
        description="nbflow: an event-driven workflow engine for Jupyter. "
                    "Typed events, generators, DAG flows of commands, notebooks and Python; "
                    "history in DuckDB.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("check", help=COMMANDS["check"][1], description=COMMANDS["check"][1])
    p.add_argument("configs", nargs="+", metavar="CONFIG", help="YAML files or folders of them")

    p = sub.add_parser("run", help=COMMANDS["run"][1], description=COMMANDS["run"][1])
    p.add_argument("configs", nargs="+", metavar="CONFIG")
    _add_home(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--until-idle", action="store_true",
                   help="exit once nothing can progress without someone acting; list what is "
                        "left paused (exit 1 if an event failed, 3 if work is left paused)")
    g.add_argument("--for", dest="for_seconds", type=float, metavar="SECONDS",
                   help="run for this many seconds, then stop cleanly")
    p.add_argument("--max-parallel", type=int, metavar="N", help="tasks running at once")
    p.add_argument("--quiet", "-q", action="store_true", help="do not print stages as they happen")

    p = sub.add_parser("emit", help=COMMANDS["emit"][1], description=COMMANDS["emit"][1])
    _add_home(p)
    p.add_argument("--config", action="append", metavar="CONFIG",
                   help="validate against this config (default: the one the workspace last ran)")
    p.add_argument("event_type", metavar="TYPE")
    p.add_argument("values", nargs="*", metavar="VAR=VALUE")

    p = sub.add_parser("publish", help=COMMANDS["publish"][1], description=COMMANDS["publish"][1])
    _add_home(p)
    p.add_argument("path", metavar="PATH")
    p.add_argument("--kind", default="other",
                   help="stdout stderr notebook dataset report document image other")
    p.add_argument("--name", help="the artifact's name (default: the file's name)")

    p = sub.add_parser("artifact", help=COMMANDS["artifact"][1], description=COMMANDS["artifact"][1])
    _add_home(p)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--event", metavar="KEY", help="the event (default: $NBFLOW_EVENT_KEY)")

    p = sub.add_parser("sql", help=COMMANDS["sql"][1], description=COMMANDS["sql"][1])
    _add_home(p)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("query", metavar="QUERY")

    p = sub.add_parser("status", help=COMMANDS["status"][1], description=COMMANDS["status"][1])
    _add_home(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("generator", help=COMMANDS["generator"][1], description=COMMANDS["generator"][1])
    _add_home(p)
    p.add_argument("action", choices=("show", "init", "reset", "skip-to-now", "replay", "list"))
    p.add_argument("name", nargs="?", metavar="[TYPE.]NAME")
    p.add_argument("--state", metavar="JSON", help="with init: the state document to set")
    p.add_argument("--from", dest="from_time", metavar="TIME", help="with replay: fire again from")
    p.add_argument("--reason", help="why (recorded in history)")

    for action in ("pause", "resume", "retry", "skip", "cancel", "clone"):
        p = sub.add_parser(action, help=COMMANDS[action][1], description=COMMANDS[action][1])
        _add_home(p)
        p.add_argument("target", metavar="TARGET",
                       help="type:NAME, event:KEY[/FLOW[.TASK]] or generator:[TYPE.]NAME")
        p.add_argument("--reason", help="why (recorded in history)")
        if action == "retry":
            p.add_argument("--tree", action="store_true", help="also re-run everything downstream")
        if action == "pause":
            p.add_argument("--cancel-running", action="store_true",
                           help="also cancel what runs inside the target")
            p.add_argument("--until", metavar="TIME", help="resume by itself at this time")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from importlib.metadata import version

        print(f"nbflow {version('nbflow')}")
        return 0
    if not args.command:
        parser.print_help()
        return 2
    module = importlib.import_module(f"nbflow.cli.{COMMANDS[args.command][0]}")
    from ..errors import NbflowError, unwrap

    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:
        leaf = unwrap(exc)
        if isinstance(leaf, NbflowError):
            print(f"nbflow {args.command}: error: {leaf}", file=sys.stderr)
            return 2
        if isinstance(leaf, KeyboardInterrupt):
            return 130
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
