"""The error hierarchy: every error nbflow raises on purpose is an ``NbflowError``."""

from __future__ import annotations

from collections.abc import Iterable


class NbflowError(Exception):
    """Base of every error nbflow raises on purpose."""


class ConfigError(NbflowError):
    """A config (or an OnExp, a template, a duration) is invalid.

    ``path`` names the place in the config model, e.g.
    ``events[0].flows[1].tasks[2].depends_on``; ``file`` and ``line`` say where the
    offending YAML node starts, when known.  ``errors`` holds every error found when
    several were collected (a config file reports all its errors, not only the first);
    for a single error it holds just this one.
    """

    def __init__(
        self,
        message: str,
        path: str | None = None,
        file: str | None = None,
        line: int | None = None,
        errors: Iterable[ConfigError] | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.file = file
        self.line = line
        self.errors: list[ConfigError] = list(errors) if errors is not None else [self]
        super().__init__(self._render())

    def _render(self) -> str:
        if len(self.errors) > 1 or (self.errors and self.errors[0] is not self):
            return f"{len(self.errors)} config error(s):\n" + "\n".join(
                "  " + e.location_line() for e in self.errors
            )
        return self.location_line()

    def location_line(self) -> str:
        """``FILE:LINE: PATH: MESSAGE``, leaving out the parts that are unknown."""
        parts = []
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)

    def at(self, path: str | None = None, file: str | None = None, line: int | None = None) -> ConfigError:
        """A copy of this (single) error placed at ``path`` in ``file``/``line``.

        A path already on the error is appended below the new one, so an OnExp error
        that names ``day-of-month`` becomes ``...on_time.onexp: day-of-month ...``.
        """
        return ConfigError(
            self.message,
            path=path if path is not None else self.path,
            file=file if file is not None else self.file,
            line=line if line is not None else self.line,
        )


class ValidationError(NbflowError, ValueError):
    """Values do not fit an event type: names the var, the value and the rule broken."""

    def __init__(self, message: str, var: str | None = None, rule: str | None = None,
                 event_type: str | None = None) -> None:
        self.var = var
        self.rule = rule
        self.event_type = event_type
        super().__init__(message)


class UnknownNameError(NbflowError, LookupError):
    """A lookup by name failed; the message lists the names that exist."""

    def __str__(self) -> str:  # LookupError would repr() a single argument
        return str(self.args[0]) if self.args else ""


class WorkspaceError(NbflowError):
    """The workspace cannot be used as asked: locked by another engine, newer schema, no config."""


class EngineNotRunning(NbflowError):
    """An operation needs a running engine and none answers on the workspace's socket."""


class ControlError(NbflowError):
    """A control action (pause, retry, ...) does not apply to its target in its current state."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a candidate is close to ``name``, else ``''``."""
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unwrap(exc: BaseException) -> BaseException:
    """The single leaf of (nested) exception groups, as trio's nurseries wrap errors; else ``exc``.

    Lets a ``WorkspaceError`` raised inside the engine's nursery reach the user as itself.
    """
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
