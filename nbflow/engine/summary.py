"""A readable account of what happened since a point in time: what ``nbflow run`` prints last."""

from __future__ import annotations

from typing import TextIO


def _dur(start, end) -> str:
    if start is None or end is None:
        return ""
    return f"{(end - start).total_seconds():.2f}s"


def write_summary(con, since_us: int, out: TextIO) -> dict[str, int]:
    """Events created or finished since ``since_us``, their runs, artifacts and provenance."""
    events = con.execute(
        """SELECT event_key, label, status, source, coalesce(generator, ''), parent_run_id
           FROM events
           WHERE created_at >= make_timestamptz(?::BIGINT) OR finished_at >= make_timestamptz(?::BIGINT)
           ORDER BY created_at""", [since_us, since_us]).fetchall()
    counts = {"events": len(events), "failure": 0, "success": 0, "active": 0}
    if not events:
        out.write("nothing happened: no event was emitted or finished\n")
        return counts
    keys = [e[0] for e in events]
    marks = ", ".join("?" for _ in keys)
    runs = con.execute(
        f"""SELECT event_key, flow, task, attempt, status, started_at, finished_at, exit_code, detail
            FROM task_runs WHERE event_key IN ({marks}) ORDER BY started_at NULLS LAST""", keys).fetchall()
    arts = con.execute(
        f"""SELECT event_key, run_id, name, kind, path, size_bytes FROM artifacts
            WHERE event_key IN ({marks}) AND kind NOT IN ('stdout', 'stderr') ORDER BY artifact_id""",
        keys).fetchall()
    out.write(f"\n=== {len(events)} event(s) ===\n")
    for key, label, status, source, generator, parent in events:
        counts[status] = counts.get(status, 0) + 1
        origin = f"emitted by task run {parent}" if parent else (
            f"from generator {generator}" if generator else f"from {source}")
        out.write(f"{status.upper():8} {label}   [{key}] {origin}\n")
        for r in (r for r in runs if r[0] == key):
            _, flow, task, attempt, rstatus, started, finished, _code, detail = r
            line = f"         {flow}.{task} #{attempt}: {rstatus} {_dur(started, finished)}"
            if rstatus in ("failure", "cancelled") and detail:
                line += f"  ({detail.strip().splitlines()[-1][:100]})"
            out.write(line + "\n")
        for a in (a for a in arts if a[0] == key):
            out.write(f"         artifact {a[2]} ({a[3]}, {a[5]} bytes): {a[4]}\n")
    out.write("\n")
    return counts
