"""Several processes writing one SQLite file (serve --workers): how a writer waits for another's transaction, and
the durability of the shared counters' commits. Real SQLite files; the other process is a second connection."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from gateway.datadir import DataDir
from gateway.store.sqlite import SqliteStore, begin_immediate
from tests.helpers import log_entry

FULL, NORMAL = 2, 1  # PRAGMA synchronous


def _db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS t (a INTEGER)")
    return db


def test_a_writer_takes_the_lock_as_soon_as_the_other_transaction_ends(tmp_path: Path) -> None:
    other, mine = _db(tmp_path / "w.db"), _db(tmp_path / "w.db")
    mine.execute("PRAGMA busy_timeout = 0")  # begin_immediate retries by itself (the store sets this)
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


def test_a_writer_gives_up_after_its_wait(tmp_path: Path) -> None:
    other, mine = _db(tmp_path / "w.db"), _db(tmp_path / "w.db")
    mine.execute("PRAGMA busy_timeout = 0")
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        begin_immediate(mine, wait=0.05)
    assert not mine.in_transaction
    other.execute("ROLLBACK")


def test_appends_run_no_pragma_and_a_plain_write_still_waits_for_another_process(data: DataDir) -> None:
    """The store's writer connection changes its busy timeout only between kinds of write: batches of the log take
    the lock with their own retries and run no PRAGMA; a single-statement write afterwards waits again with SQLite's
    busy timeout for another process's transaction instead of failing at once."""
    store = data.open_store()
    assert isinstance(store, SqliteStore)
    store.append_accesses([log_entry(0)])
    seen: list[str] = []
    store._db.set_trace_callback(seen.append)
    for i in range(1, 4):
        store.append_accesses([log_entry(i)])
    store._db.set_trace_callback(None)
    assert "BEGIN IMMEDIATE" in seen and not [s for s in seen if "PRAGMA" in s], seen
    other = _db(data.database)
    other.execute("BEGIN IMMEDIATE")
    done = threading.Event()
    worker = threading.Thread(target=lambda: (store.add_revocation("0abc"), done.set()))
    worker.start()
    assert not done.wait(0.1), "the write must wait while the other process holds the lock"
    other.execute("COMMIT")
    assert done.wait(30), "the write must go ahead once the other process committed"
    worker.join()
    assert "0abc" in store.revocations()
    store.close()


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
