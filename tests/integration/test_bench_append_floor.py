"""bench/append_floor.py compares the access log with simpler writers: each must write what the log would (every
entry's canonical bytes, in order, numbered without gaps), or its rate would flatter a writer doing less."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from gateway.audit.log import _Pending
from tests.helpers import log_entry, script_module

ROOT = Path(__file__).resolve().parents[2]
floor = script_module(ROOT / "bench" / "append_floor.py", "bench_append_floor")


def batches() -> list[list[_Pending]]:
    entries = [_Pending(log_entry(i)) for i in range(7)]
    return [entries[:3], entries[3:4], entries[4:]]


def test_the_flat_file_holds_every_entry_once_in_order(tmp_path: Path) -> None:
    commit, close = floor.flat_file(tmp_path)
    made = batches()
    for batch in made:
        commit(batch)
    close()
    lines = (tmp_path / "segment.log").read_bytes().split(b"\n")
    assert lines == [p.entry.canonical_bytes() for batch in made for p in batch] + [b""]


def test_the_entries_table_numbers_every_entry_once_without_gaps(tmp_path: Path) -> None:
    commit, close = floor.sqlite_entries(tmp_path)
    made = batches()
    for batch in made:
        commit(batch)
    close()
    with sqlite3.connect(tmp_path / "entries.db") as db:
        rows = db.execute("SELECT seq, leaf, body FROM entries ORDER BY seq").fetchall()
    assert rows == [(i, p.leaf, p.entry.canonical_bytes())
                    for i, p in enumerate(p for batch in made for p in batch)]

