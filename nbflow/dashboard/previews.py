"""Previews of artifacts: what the event page shows of a file without loading it whole.

- text (stdout, stderr, logs, CSV, JSON, ...): the last ``TAIL_BYTES`` of the file only;
- HTML reports and documents: the file, shown in a sandboxed iframe (no scripts);
- notebooks: rendered to HTML with nbconvert, in the same kind of iframe;
- datasets: the first rows, read by DuckDB (``read_parquet`` / ``read_csv_auto`` ... LIMIT);
- images: the bytes, for an image widget.

Only files inside the workspace are read: a row pointing elsewhere is refused, by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TAIL_BYTES = 4096
HEAD_ROWS = 20
MAX_HTML_BYTES = 5 << 20
MAX_NOTEBOOK_BYTES = 20 << 20
MAX_IMAGE_BYTES = 5 << 20
IMAGE_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".gif": "gif", ".webp": "webp",
                 ".svg": "svg+xml"}
TEXT_SUFFIXES = {".txt", ".log", ".out", ".err", ".csv", ".tsv", ".json", ".md", ".py", ".yaml",
                 ".yml", ".toml", ".ini", ".sql", ".sh", ".xml", ".ndjson", ".jsonl"}


@dataclass(frozen=True)
class Preview:
    """What to show for an artifact: ``kind`` is text, html, table, image or message."""

    kind: str
    text: str = ""              # text: the tail; message: why there is no preview
    html: str = ""              # html: a whole document (shown in a sandboxed iframe)
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    data: bytes = b""           # image bytes
    format: str = ""            # image format (png, jpeg, svg+xml, ...)
    note: str = ""              # e.g. "last 4,096 of 1,234,567 bytes"


def tail(path: Path, n: int = TAIL_BYTES) -> tuple[str, int]:
    """The last ``n`` bytes of ``path`` as text (a cut first line dropped), and the file size."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - n))
        data = f.read(n)
    if size > n and b"\n" in data[:-1]:
        data = data[data.index(b"\n") + 1:]     # the first line is cut mid-way
    return data.decode("utf-8", "replace"), size


def _inside(path: Path, home: Path) -> bool:
    try:
        return path.resolve().is_relative_to(home.resolve())
    except OSError:
        return False


def _table(sql: str, target: str, rows: int) -> Preview:
    import duckdb

    con = duckdb.connect()        # in memory: never the workspace's file
    try:
        cur = con.execute(sql, [target, rows])
        columns = [d[0] for d in cur.description]
        data = cur.fetchall()
    finally:
        con.close()
    return Preview("table", columns=columns, rows=data, note=f"first {len(data)} rows")


def _dataset(path: Path, rows: int) -> Preview:
    if path.is_dir():
        return _table("SELECT * FROM read_parquet(?) LIMIT ?", str(path / "**" / "*.parquet"), rows)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return _table("SELECT * FROM read_parquet(?) LIMIT ?", str(path), rows)
    if suffix in (".csv", ".tsv"):
        return _table("SELECT * FROM read_csv_auto(?) LIMIT ?", str(path), rows)
    if suffix in (".json", ".ndjson", ".jsonl"):
        return _table("SELECT * FROM read_json_auto(?) LIMIT ?", str(path), rows)
    return _text(path)


def _text(path: Path, n: int = TAIL_BYTES) -> Preview:
    text, size = tail(path, n)
    note = f"last {min(n, size):,} of {size:,} bytes" if size > n else f"{size:,} bytes"
    return Preview("text", text=text, note=note)


def _html(path: Path) -> Preview:
    size = path.stat().st_size
    if size > MAX_HTML_BYTES:
        return Preview("message", text=f"{size:,} bytes of HTML: too large to show inline; open {path}")
    return Preview("html", html=path.read_text("utf-8", "replace"), note=f"{size:,} bytes")


def _notebook(path: Path) -> Preview:
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        return Preview("message", text=f"{size:,} bytes of notebook: too large to render; open {path}")
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(path), as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    return Preview("html", html=body, note=f"{len(nb.cells)} cells")


def _image(path: Path, fmt: str) -> Preview:
    size = path.stat().st_size
    if size > MAX_IMAGE_BYTES:
        return Preview("message", text=f"{size:,} bytes of image: too large to show inline; open {path}")
    return Preview("image", data=path.read_bytes(), format=fmt, note=f"{size:,} bytes")


def preview(path: str | Path, kind: str, home: Path, *, rows: int = HEAD_ROWS) -> Preview:
    """A preview of the artifact at ``path`` of ``kind``, read from inside workspace ``home``."""
    path = Path(path)
    if not _inside(path, home):
        return Preview("message", text=f"not previewed: {path} is outside the workspace {home}")
    if not path.exists():
        return Preview("message", text=f"the file is gone: {path}")
    suffix = path.suffix.lower()
    try:
        if kind == "dataset":
            return _dataset(path, rows)
        if suffix in IMAGE_FORMATS:
            return _image(path, IMAGE_FORMATS[suffix])
        if suffix == ".ipynb":
            return _notebook(path)
        if suffix in (".html", ".htm"):
            return _html(path)
        if path.is_dir():
            return Preview("message", text=f"a folder: {path}")
        if kind in ("stdout", "stderr") or suffix in TEXT_SUFFIXES or _looks_textual(path):
            return _text(path)
    except Exception as exc:      # a preview must never break the page: say what went wrong
        return Preview("message", text=f"no preview of {path.name}: {type(exc).__name__}: {exc}")
    size = path.stat().st_size
    return Preview("message", text=f"no preview for a {kind} file ({size:,} bytes): {path}")


def _looks_textual(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(1024)
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(head) - 4      # a multi-byte character cut at the end
    return True
