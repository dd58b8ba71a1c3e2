"""``nbflow artifact NAME [--event KEY]``: the path of a published artifact."""

from __future__ import annotations

import os

from ..errors import NbflowError
from ._common import workspace


def run(args) -> int:
    from ..taskapi import find_artifact

    key = args.event or os.environ.get("NBFLOW_EVENT_KEY")
    if not key:
        raise NbflowError("which event? pass --event KEY (inside a task, $NBFLOW_EVENT_KEY is used)")
    print(find_artifact(workspace(args).home, args.name, key))
    return 0
