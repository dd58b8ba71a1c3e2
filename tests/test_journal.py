"""The run journal on its own: lines survive a process that dies without closing it, a line a
crash cut is ignored, and compaction keeps exactly the runs still going."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from nbflow.engine import journal as journal_mod
from nbflow.engine.journal import RunJournal


def test_lines_survive_a_killed_process(tmp_path):
    path = tmp_path / "runs.journal"
    script = textwrap.dedent(f"""
        import os, signal
        from nbflow.engine.journal import RunJournal
        j = RunJournal({str(path)!r})
        j.open()
        j.calling("K1/main.a#1")
        j.starting("K1/main.b#1")
        j.started("K1/main.b#1", 4242)
        j.calling("K1/main.c#1")
        j.ended("K1/main.c#1")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    child = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert child.returncode == -signal.SIGKILL
    found = RunJournal(path)
    found.load()
    assert set(found.found) == {"K1/main.a#1", "K1/main.b#1", "K1/main.c#1"}
    assert found.found["K1/main.a#1"] == (None, None)
    assert found.found["K1/main.b#1"][0] == 4242


def test_a_line_cut_by_a_crash_is_ignored(tmp_path):
    path = tmp_path / "runs.journal"
    path.write_bytes(b"S\tK1/main.a#1\nP\tK1/main.a#1\t99\t1.5\nS\tK1/ma" + b"\0" * 64)
    j = RunJournal(path)
    j.load()
    assert j.found == {"K1/main.a#1": (99, 1.5)}


def test_compaction_keeps_the_runs_still_going(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_mod, "_COMPACT_AT", 4096)
    path = tmp_path / "runs.journal"
    j = RunJournal(path)
    j.open()
    j.calling("K0/main.long#1")                 # a python run that goes on
    j.starting("K0/main.proc#1")
    j.started("K0/main.proc#1", 77)             # a process that goes on
    for i in range(500):                        # ~20 kB of runs that end: several compactions
        rid = f"K{i}/main.t#1"
        j.starting(rid)
        j.started(rid, 1000 + i)
        j.ended(rid)
    j.starting("K9/main.last#1")                # appended after the last compaction
    assert path.stat().st_size <= 8192          # compacted, not grown
    j.close()
    assert b"\0" not in path.read_bytes()       # a clean stop leaves plain text
    again = RunJournal(path)
    again.load()
    # The runs still going are there; runs that ended before the last compaction are not
    # (those that ended since are, until the next one: recovery finds their rows).
    assert {"K0/main.long#1", "K0/main.proc#1", "K9/main.last#1"} <= set(again.found)
    assert again.found["K0/main.proc#1"][0] == 77
    assert "K0/main.t#1" not in again.found and len(again.found) < 100
