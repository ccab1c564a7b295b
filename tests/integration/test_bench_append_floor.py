"""bench/append_floor.py compares the access log with simpler writers: each must write what the log would (every
entry's canonical bytes, in order, numbered without gaps), or its rate would flatter a writer doing less."""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from gateway.audit.log import _Pending
from tests.helpers import log_entry, script_module

ROOT = Path(__file__).resolve().parents[2]
floor = script_module(ROOT / "bench" / "append_floor.py", "bench_append_floor")


def written(layer: Callable[[Path], tuple[Callable[[list[_Pending]], None], Callable[[], None]]], root: Path
            ) -> list[_Pending]:
    """Seven entries committed through `layer` in batches of 3, 1 and 3, then closed: the entries, in order."""
    entries = [_Pending(log_entry(i)) for i in range(7)]
    commit, close = layer(root)
    for batch in (entries[:3], entries[3:4], entries[4:]):
        commit(batch)
    close()
    return entries


def test_the_flat_file_holds_every_entry_once_in_order(tmp_path: Path) -> None:
    made = written(floor.flat_file, tmp_path)
    lines = (tmp_path / "segment.log").read_bytes().split(b"\n")
    assert lines == [p.entry.canonical_bytes() for p in made] + [b""]


def test_the_entries_table_numbers_every_entry_once_without_gaps(tmp_path: Path) -> None:
    made = written(floor.sqlite_entries, tmp_path)
    with sqlite3.connect(tmp_path / "entries.db") as db:
        rows = db.execute("SELECT seq, leaf, body FROM entries ORDER BY seq").fetchall()
    assert rows == [(i, p.leaf, p.entry.canonical_bytes()) for i, p in enumerate(made)]
