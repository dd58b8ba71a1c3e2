"""The ``cmd`` runner: an OS command, argv filled from the event, never through a shell."""

from __future__ import annotations

from ..spec.templates import parse_template
from .base import RunContext, RunResult
from .process import describe_exit, run_task_process


def argv(ctx: RunContext) -> list[str]:
    """The command's argv: each argument template rendered on its own.

    The template was split into arguments when the config loaded, before any value was
    substituted, so a value with spaces, quotes, ``;`` or ``$(...)`` stays one literal argument.
    """
    tctx = ctx.template_context()
    return [parse_template(arg).render(tctx) for arg in ctx.task.cmd or ()]


async def run(ctx: RunContext) -> RunResult:
    files = ctx.log_artifacts()
    ctx.outputs.extend(files)
    try:
        code = await run_task_process(ctx, argv(ctx))
    except OSError as exc:  # no such program, not executable, bad cwd
        ctx.log_paths()[1].write_text(f"cannot start {ctx.task.cmd[0]!r}: {exc}\n")
        return RunResult(ok=False, detail=f"cannot start the command: {exc}", artifacts=files)
    return RunResult(ok=code == 0, exit_code=code, detail=None if code == 0 else describe_exit(code),
                     artifacts=files)
