"""The public entry points: load config files, folders or text into one validated ``Config``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..spec.model import Config, EngineSettings
from . import yamlnodes as yn
from .build import FileDraft, TypeDraft, finish_type, read_file
from .tasks import with_python_process
from .yamlnodes import Problems

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class _Source:
    display: str          # the path as the user gave it: what error lines show
    text: str
    base_dir: str         # absolute folder of the file: where its tasks' relative paths start
    path: Path | None = None


def load_config(*paths: str | os.PathLike[str]) -> Config:
    """Load and validate config files, or folders of them, into one ``Config``.

    A folder stands for every ``*.yaml``/``*.yml`` file directly in it, in name order.
    Event types of all files form one config, so a subscription in one file may name a
    type of another. Raises ``ConfigError`` whose ``.errors`` lists every problem found,
    in file and line order, each with its ``path``, ``file`` and ``line``.
    """
    if not paths:
        raise ConfigError("no config given: pass YAML files or folders of them")
    return _load(_read(_resolve(paths)))


def load_config_text(text: str, name: str = "<string>", base_dir: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate one config from YAML ``text`` (for tests and notebooks).

    ``name`` stands for the file in error lines; tasks' relative paths start at
    ``base_dir`` (default: the current directory).
    """
    return load_config_texts([(name, text, base_dir)])


def load_config_texts(texts: list[tuple[str, str, str | os.PathLike[str] | None]]) -> Config:
    """Load and validate one config from several YAML texts, ``(name, text, base_dir)`` each,
    as ``load_config`` loads several files (a config read back from a workspace's history)."""
    return _load([_Source(name, text, str(Path(base_dir).resolve()) if base_dir is not None else str(Path.cwd()))
                  for name, text, base_dir in texts])


def _resolve(paths: tuple[str | os.PathLike[str], ...]) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    missing: list[ConfigError] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file())
            if not found:
                missing.append(ConfigError("the folder has no *.yaml or *.yml files", file=str(given)))
            files.extend((str(p), p.resolve()) for p in found)
        elif path.is_file():
            files.append((str(given), path.resolve()))
        else:
            missing.append(ConfigError("no such file or folder", file=str(given)))
    if missing:
        raise missing[0] if len(missing) == 1 else ConfigError("missing config files", errors=missing)
    unique: dict[Path, str] = {}
    for display, absolute in files:
        unique.setdefault(absolute, display)  # a file named twice (or via its folder) loads once
    return [(display, absolute) for absolute, display in unique.items()]


def _read(files: list[tuple[str, Path]]) -> list[_Source]:
    sources, errors = [], []
    for display, absolute in files:
        try:
            text = absolute.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            errors.append(ConfigError(f"not a UTF-8 text file ({exc.reason} at byte {exc.start})", file=display))
            continue
        except OSError as exc:
            errors.append(ConfigError(f"cannot read the file: {exc.strerror}", file=display))
            continue
        sources.append(_Source(display, text, str(absolute.parent), absolute))
    if errors:
        raise errors[0] if len(errors) == 1 else ConfigError("unreadable config files", errors=errors)
    return sources


def _load(sources: list[_Source]) -> Config:
    problems = Problems()
    files: list[FileDraft] = []
    for source in sources:
        root = yn.compose(source.text, source.display, problems)
        if root is not None:
            files.append(read_file(root, source.base_dir, problems))
    all_types = [t for f in files for t in f.types]
    firsts: dict[str, TypeDraft] = {}
    for draft in all_types:
        if draft.name is None:
            continue
        if draft.name in firsts:
            first = firsts[draft.name]
            yn.duplicate(problems, draft.entries["name"], "event type", draft.name, first.at)
        else:
            firsts[draft.name] = draft
    catalog = {name: draft.shape() for name, draft in firsts.items()}
    event_types = [finish_type(d, catalog, problems) for d in all_types]
    engine = _engine(files, problems)
    event_types = with_python_process(event_types, engine.python_process)
    if problems:
        raise _combined(problems, [s.display for s in sources])
    return Config(event_types=tuple(event_types),
                  sources=tuple(s.path for s in sources if s.path is not None),
                  engine=engine,
                  texts={str(s.path) if s.path else s.display: s.text for s in sources})


def _engine(files: list[FileDraft], problems: Problems) -> EngineSettings:
    with_engine = [f for f in files if f.engine_at is not None]
    for extra in with_engine[1:]:
        first = with_engine[0].engine_at
        problems.add(extra.engine_at, f"engine settings are already given in {first.file} "
                                      f"(line {first.line}); keep one engine section per config")
    if with_engine and with_engine[0].engine is not None:
        return with_engine[0].engine
    return EngineSettings()


def _combined(problems: Problems, order: list[str]) -> ConfigError:
    rank = {name: i for i, name in enumerate(order)}
    errors = sorted(problems.errors, key=lambda e: (rank.get(e.file or "", 0), e.line or 0))
    if len(errors) == 1:
        return errors[0]
    return ConfigError(f"{len(errors)} errors in the config", errors=errors)
