"""Several processes writing one SQLite file (serve --workers): how a writer waits for another's transaction, and
the durability of the shared counters' commits. Real SQLite files; the other process is a second connection."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from gateway.datadir import DataDir
from gateway.store import sqlite
from gateway.store.sqlite import SqliteStore, begin_immediate

FULL, NORMAL = 2, 1  # PRAGMA synchronous


def _db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS t (a INTEGER)")
    return db


def test_a_writer_takes_the_lock_as_soon_as_the_other_transaction_ends(tmp_path: Path) -> None:
    other, mine = _db(tmp_path / "w.db"), _db(tmp_path / "w.db")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    began = threading.Event()
    failed: list[BaseException] = []

    def writer() -> None:
        try:
            begin_immediate(mine, wait=60)
            mine.execute("INSERT INTO t VALUES (2)")
            mine.execute("COMMIT")
        except BaseException as exc:  # reported in the test's thread
            failed.append(exc)
        began.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert not began.wait(0.05), "the writer must wait while the other holds the write lock"
    other.execute("COMMIT")
    assert began.wait(30) and not failed, failed
    thread.join()
    assert sorted(a for a, in other.execute("SELECT a FROM t")) == [1, 2]
    assert mine.execute("PRAGMA busy_timeout").fetchone() == (int(sqlite.BUSY_SECONDS * 1000),)


def test_a_writer_gives_up_after_its_wait_and_keeps_its_busy_timeout(tmp_path: Path) -> None:
    other, mine = _db(tmp_path / "w.db"), _db(tmp_path / "w.db")
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        begin_immediate(mine, wait=0.05)
    assert mine.execute("PRAGMA busy_timeout").fetchone() == (int(sqlite.BUSY_SECONDS * 1000),)
    assert not mine.in_transaction
    other.execute("ROLLBACK")


def test_counts_commit_without_their_own_fsync_and_everything_else_with_it(data: DataDir) -> None:
    store = SqliteStore(data.database, data.cipher())
    seen: list[int] = []
    try:
        with store.quota_rows("school/330203/S1", forget_before=0.0):
            seen.append(store._db.execute("PRAGMA synchronous").fetchone()[0])
        seen.append(store._db.execute("PRAGMA synchronous").fetchone()[0])
        with store._write("access_log"):
            seen.append(store._db.execute("PRAGMA synchronous").fetchone()[0])
    finally:
        store.close()
    assert seen == [NORMAL, FULL, FULL]
