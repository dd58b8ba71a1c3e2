"""Whether the dashboard's engine runs, and what its header says about it.

A dashboard over a handle lives and ends with its engine.  One over a workspace
(``WorkspaceSource``) outlives engines: it notices one start or stop with a socket ping each
tick, follows it live while it runs, and without one reads history only when the user acts
or when the history file changed (a ``stat``, never an open: an engine starting must find
the file free), then says how old what it shows is.
"""

from __future__ import annotations

import datetime as dt

from .format import esc


class EngineWatch:
    """The engine's state as the dashboard last saw it."""

    def __init__(self, source) -> None:
        self.source = source
        self.live: bool | None = None          # unknown before the first check
        self.read_at: dt.datetime | None = None
        self._stamp: tuple | None = None

    @property
    def detached(self) -> bool:
        return bool(getattr(self.source, "detached", False))

    def check(self) -> tuple[bool, bool]:
        """``(live, changed)``: whether an engine runs now, and whether that changed."""
        live = bool(self.source.running)
        changed = live != self.live
        self.live = live
        return live, changed

    def history_moved(self) -> bool:
        """With no engine: whether the history file changed since it was last read."""
        return self.source.history_stamp() != self._stamp

    def mark_read(self) -> None:
        """History is about to be read: remember the file's state (taken first, so that a
        write during the read is seen on the next tick rather than missed)."""
        self._stamp = self.source.history_stamp()
        self.read_at = dt.datetime.now().astimezone()

    def header_html(self) -> str:
        """The header line: the workspace, and the engine's state."""
        head = f'<b>nbflow</b> &middot; workspace <code>{esc(self.source.home)}</code> &middot; '
        if self.live:
            engine = getattr(self.source, "engine", None) or {}
            pid = f" (pid {engine['pid']})" if self.detached and engine.get("pid") else ""
            return f'<div>{head}engine <span class="nbflow-engine-running">running</span>{pid}</div>'
        if not self.detached:
            return f'<div>{head}engine <span class="nbflow-engine-stopped">stopped</span></div>'
        when = self.read_at.strftime("%Y-%m-%d %H:%M:%S") if self.read_at else "-"
        queued = self.source.queued()
        inbox = (f" &middot; {queued} command{'s' if queued != 1 else ''} queued in the inbox "
                 "(applied when an engine starts)") if queued else ""
        return (f'<div>{head}<span class="nbflow-engine-stopped">no engine running</span>: '
                f'history as of <span class="nbflow-history-asof">{esc(when)}</span>{inbox}</div>')

    def offline_summary(self) -> str:
        """What the running tab says while no engine runs."""
        return ('<div class="nbflow-running-summary nbflow-muted">no engine runs on this workspace: '
                "nothing runs now. Start one (<code>nbflow run CONFIG --home "
                f"{esc(self.source.home)}</code>); the dashboard notices it within seconds.</div>")
