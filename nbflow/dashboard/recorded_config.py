"""The config a workspace last ran with, read back from its history.

Each engine start records its config in the ``configs`` table: the files it was loaded from
(``sources``) and their text (``texts``).  A dashboard that watches a workspace from another
process has no config of its own, so it rebuilds that one: from the files themselves while
they exist and still hold the recorded text (tasks' ``base_dir`` and notebook paths resolve as
the engine saw them), else from the recorded text (the Structure tab needs only the event
types, vars, generators and flows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, NbflowError

LATEST = "SELECT config_id, loaded_at, sources, texts FROM configs ORDER BY config_id DESC LIMIT 1"


@dataclass(frozen=True)
class Recorded:
    """One row of ``configs``: the files a config came from and their text, in load order."""

    config_id: int
    sources: tuple[str, ...]
    texts: dict[str, str]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Recorded:
        sources = _json(row.get("sources")) or []
        texts = _json(row.get("texts")) or {}
        return cls(int(row["config_id"]), tuple(str(s) for s in sources),
                   {str(k): str(v) for k, v in texts.items()})

    def ordered_texts(self) -> list[tuple[str, str]]:
        """``(path, text)`` in the order the engine loaded them (event type order follows it)."""
        ordered = [(s, self.texts[s]) for s in self.sources if s in self.texts]
        return ordered + [(k, v) for k, v in self.texts.items() if k not in self.sources]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def latest(source_sql) -> Recorded | None:
    """The last config recorded, through ``source_sql(query, params)``; None before any."""
    rows = source_sql(LATEST, [])
    return Recorded.from_row(rows[0]) if rows else None


def _unchanged(recorded: Recorded) -> bool:
    """Whether every source file still exists and holds the text the engine ran."""
    if not recorded.sources:
        return False
    for name in recorded.sources:
        path = Path(name)
        try:
            if path.read_text(encoding="utf-8") != recorded.texts.get(name):
                return False
        except (OSError, UnicodeDecodeError):
            return False
    return True


def load_recorded(recorded: Recorded, home: Path):
    """The ``Config`` of ``recorded``: from its files when they are unchanged and load, else
    from its recorded text.  ``NbflowError`` naming the workspace when neither loads."""
    from ..config import load_config, load_config_texts

    if _unchanged(recorded):
        try:
            return load_config(*recorded.sources)
        except ConfigError:
            pass        # e.g. a file it includes changed: the recorded text below is what ran
    texts = recorded.ordered_texts()
    if not texts:
        raise NbflowError(f"the history of {home} records config {recorded.config_id} without its text")
    try:   # each text with its own file's folder, as the engine loaded it
        return load_config_texts([(name, text, Path(name).parent) for name, text in texts])
    except ConfigError as exc:
        raise NbflowError(f"the config workspace {home} last ran with (config {recorded.config_id}, "
                          f"from {', '.join(recorded.sources) or 'text'}) no longer loads: {exc}") from None
