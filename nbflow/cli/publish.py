"""``nbflow publish PATH --kind KIND [--name NAME]``: attach a file to the current task run."""

from __future__ import annotations

import os

from ..errors import NbflowError
from ._common import workspace


def run(args) -> int:
    from ..taskapi import publish_from_env

    run_id = os.environ.get("NBFLOW_RUN_ID")
    if not run_id:
        raise NbflowError("publish needs a task run: NBFLOW_RUN_ID is not set (run it from a task)")
    target = publish_from_env(workspace(args), args.path, args.kind, args.name, run_id)
    print(target)
    return 0
