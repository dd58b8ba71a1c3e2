"""``nbflow emit TYPE VAR=VALUE...``: validate, then queue durably in the workspace's inbox."""

from __future__ import annotations

import os
import sys

from ..errors import UnknownNameError, ValidationError
from ._common import parse_assignments, workspace


def run(args) -> int:
    from ..taskapi import emit_to

    ws = workspace(args, args.config)
    try:
        values = parse_assignments(args.values)
        key = emit_to(ws, args.event_type, values, configs=args.config,
                      parent_run_id=os.environ.get("NBFLOW_RUN_ID") or None)
    except (ValidationError, UnknownNameError) as exc:
        print(f"nbflow emit: {exc}", file=sys.stderr)
        return 2
    print(key)
    return 0
