"""The child process of a notebook task: run papermill, render HTML, and leave no kernel behind.

``python -m nbflow.runners.papermill_child SPEC.json`` reads what to run from ``SPEC.json``
(written by ``nbflow.runners.notebook``), executes the notebook with papermill, saves the
executed notebook and its HTML rendering, and writes a failing cell's evidence (cell index,
exception name and value, traceback) to the spec's ``error`` file before exiting non-zero.

The engine cancels a run by SIGTERM to this process's group, then SIGKILL.  jupyter_client
starts kernels in a session of their own, so that signal never reaches the kernel: on SIGTERM
this process kills its kernels' process groups itself, and if it is SIGKILLed the kernel's
parent poller (``JPY_PARENT_PID``, set by jupyter_client) ends the kernel within a second.
Papermill runs in a worker thread so that the main thread keeps the SIGTERM handler (nbclient
replaces signal handlers of the main thread's event loop, and restores the default ones).

Exit codes: 0 success, 1 a cell raised, 2 the notebook could not run (missing file, unknown
kernel, ...), 143 terminated.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Any

#: Kernel managers this process started (read by the SIGTERM handler).
_MANAGERS: list[Any] = []
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
EXIT_CELL_ERROR, EXIT_CANNOT_RUN, EXIT_TERMINATED = 1, 2, 143


def _tracked_manager_class(kernel_file: Path):
    from jupyter_client.manager import AsyncKernelManager

    class TrackedKernelManager(AsyncKernelManager):
        """An AsyncKernelManager the SIGTERM handler can find, which tells the engine (through
        ``kernel_file``) the kernel's process group, for the day this process is SIGKILLed."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # IPC (Unix sockets in a private folder) rather than TCP: no port open to other
            # users of the machine, and no "running over TCP without encryption" warning from
            # every kernel in every run's stderr.  The folder is short (socket paths are
            # limited to ~100 bytes) and removed by whoever ends the kernel.
            self.ipc_dir = None
            if os.name == "posix" and "transport" not in kwargs:
                self.ipc_dir = tempfile.mkdtemp(prefix="nbflow-kernel-")
                kwargs.update(transport="ipc", ip=os.path.join(self.ipc_dir, "k"))
            super().__init__(*args, **kwargs)
            _MANAGERS.append(self)

        async def start_kernel(self, **kw: Any) -> None:
            await super().start_kernel(**kw)
            prov = self.provisioner
            pid = getattr(prov, "pid", None)
            if pid:
                tmp = kernel_file.with_suffix(".tmp")
                tmp.write_text(json.dumps({"pid": pid, "pgid": getattr(prov, "pgid", None) or pid,
                                           "ipc_dir": self.ipc_dir}))
                os.replace(tmp, kernel_file)

    return TrackedKernelManager


def kill_kernels(grace: float) -> None:
    """End every kernel this process started, with its process group: TERM, then KILL."""
    import time

    procs = []
    for km in _MANAGERS:
        prov = getattr(km, "provisioner", None)
        proc = getattr(prov, "process", None)
        if proc is None or proc.poll() is not None:
            continue
        pgid = getattr(prov, "pgid", None) or proc.pid
        _signal_group(pgid, signal.SIGTERM)
        procs.append((km, proc, pgid))
    deadline = time.monotonic() + grace
    for km, proc, pgid in procs:
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        # What the kernel started in its group goes too, whether or not the kernel is gone.
        _signal_group(pgid, signal.SIGKILL)
        # Best effort from here: this process exits next, whatever happens.
        with contextlib.suppress(Exception):
            proc.wait(timeout=5)
        with contextlib.suppress(Exception):
            km.cleanup_connection_file()
    remove_ipc_dirs()


def remove_ipc_dirs() -> None:
    """Remove the socket folders of the kernels this process started (ended by now)."""
    for km in _MANAGERS:
        if getattr(km, "ipc_dir", None):
            shutil.rmtree(km.ipc_dir, ignore_errors=True)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _on_sigterm(grace: float):
    def handler(signum: int, frame: Any) -> None:
        kill_kernels(grace)
        sys.stderr.write("nbflow: notebook run terminated; its kernel was shut down\n")
        sys.stderr.flush()
        os._exit(EXIT_TERMINATED)

    return handler


def kernel_for(notebook: dict[str, Any], override: str | None) -> tuple[str, str | None]:
    """(kernel name, language): the task's ``kernel:``, else the notebook's kernelspec, else
    ``python3``; the language from the notebook, else from the kernel's spec (papermill needs
    it to write the parameters cell of a notebook saved without metadata).

    Raises jupyter_client's ``NoSuchKernel`` for a kernel that is not installed.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    meta = notebook.get("metadata", {})
    spec = meta.get("kernelspec") or {}
    name = override or spec.get("name") or "python3"
    kernel_spec = KernelSpecManager().get_kernel_spec(name)
    language = spec.get("language") or (meta.get("language_info") or {}).get("name") or kernel_spec.language
    return name, language


def cell_error(exc: Any, executed: Path) -> dict[str, Any]:
    """The evidence of a failing cell, with its index in the notebook as the user wrote it."""
    index = exc.cell_index
    try:
        cells = json.loads(executed.read_text())["cells"]
        cells = [c for c in cells if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])]
        injected = sum(1 for c in cells[:index]
                       if "injected-parameters" in c.get("metadata", {}).get("tags", []))
    except (OSError, ValueError, KeyError):
        injected = 0
    return {"kind": "cell", "cell_index": index - injected, "exec_count": exc.exec_count,
            "source": exc.source, "ename": exc.ename, "evalue": exc.evalue,
            "traceback": [_ANSI.sub("", line) for line in exc.traceback]}


def render_html(executed: Path, html: Path) -> None:
    """The executed notebook as a standalone HTML page (the run's report)."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    html.write_text(body, encoding="utf-8")


class _ImplicitParameters(logging.Filter):
    """Papermill warns of every parameter the notebook does not declare; nbflow passes the
    event's values, ``event_key`` and ``run_id`` to every notebook, declared or not, so only a
    name from the task's own ``parameters:`` is worth that warning (it may be misspelt)."""

    def __init__(self, implicit: list[str]) -> None:
        super().__init__()
        self.implicit = {f"Passed unknown parameter: {name}" for name in implicit}

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self.implicit


def _execute(spec: dict[str, Any], kernel: str, language: str | None, manager_class: type,
             outcome: dict[str, Any]) -> None:
    import papermill as pm

    logging.getLogger("papermill").addFilter(_ImplicitParameters(spec.get("implicit", [])))
    try:
        pm.execute_notebook(
            spec["input"], spec["output"], parameters=spec["parameters"], kernel_name=kernel,
            language=language, cwd=spec["cwd"], log_output=False, progress_bar=False,
            kernel_manager_class=manager_class)
    except BaseException as exc:  # handed to the main thread, which reports it
        outcome["error"] = exc
        outcome["traceback"] = traceback.format_exc()


def _cannot_run(exc: BaseException, tb: str, spec: dict[str, Any]) -> dict[str, Any]:
    message = f"{type(exc).__name__}: {exc}"
    if type(exc).__name__ == "NoSuchKernel":
        from jupyter_client.kernelspec import KernelSpecManager

        names = sorted(KernelSpecManager().find_kernel_specs())
        message = (f"no Jupyter kernel named {exc.args[0] if exc.args else spec.get('kernel')!r}; "
                   f"installed kernels: {', '.join(names) or '(none)'} "
                   f"(set the task's `kernel:` or the notebook's kernelspec)")
    elif isinstance(exc, json.JSONDecodeError):
        message = f"{spec['input']} is not a notebook (invalid JSON: {exc})"
    elif isinstance(exc, FileNotFoundError) and str(spec["input"]) in str(exc):
        message = f"notebook {spec['input']} does not exist"
    return {"kind": "error", "message": message, "traceback": tb}


def main(argv: list[str]) -> int:
    """Run the notebook described by the spec file ``argv[0]``; the exit code."""
    # jsonschema's optional IRI checker builds a grammar at import (2 s here); notebook
    # validation never checks IRIs, and every notebook run would pay for it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    spec = json.loads(Path(argv[0]).read_text())
    signal.signal(signal.SIGTERM, _on_sigterm(float(spec.get("grace", 2.0))))
    output, error_file = Path(spec["output"]), Path(spec["error"])
    outcome: dict[str, Any] = {}
    # Everything the run needs is imported here, before the worker starts: two threads importing
    # the same modules can see them half-initialised.  Resolving the kernel imports ipykernel
    # (and IPython, pygments), the rest of what papermill loads while it runs.
    try:
        import nbconvert  # noqa: F401
        import papermill  # noqa: F401

        notebook = json.loads(Path(spec["input"]).read_text(encoding="utf-8"))
        kernel, language = kernel_for(notebook, spec.get("kernel"))
        manager_class = _tracked_manager_class(Path(spec["kernel_file"]))
    except Exception as exc:
        outcome.update(error=exc, traceback=traceback.format_exc())
    else:
        worker = threading.Thread(target=_execute, name="papermill",
                                  args=(spec, kernel, language, manager_class, outcome))
        worker.start()
        worker.join()
    exc = outcome.get("error")
    code = 0
    if exc is not None:
        from papermill.exceptions import PapermillExecutionError

        if isinstance(exc, PapermillExecutionError):
            evidence, code = cell_error(exc, output), EXIT_CELL_ERROR
        else:
            evidence, code = _cannot_run(exc, outcome["traceback"], spec), EXIT_CANNOT_RUN
        error_file.write_text(json.dumps(evidence, indent=1, default=str))
        sys.stderr.write(outcome["traceback"])
    remove_ipc_dirs()
    if output.exists():
        try:
            render_html(output, Path(spec["html"]))
        except Exception:
            # The report is a convenience: the run's outcome is the notebook's, not the HTML's.
            sys.stderr.write("nbflow: could not render the executed notebook as HTML:\n"
                             + traceback.format_exc())
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
