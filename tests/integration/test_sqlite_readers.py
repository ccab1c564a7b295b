"""Reads on their own SQLite connections (store/sqlite_readers.py): a read does not wait for the store's writer in
the middle of a transaction, sees every write the store returned from, and the pool stays bounded."""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gateway.datadir import DataDir
from gateway.store.port import StoreError, StoreUnavailable
from gateway.store.sqlite import SqliteStore
from gateway.store.sqlite_readers import Readers
from tests import helpers
from tests.helpers import wait_until, write_held_open

store = helpers.sqlite_store  # the fixture: the data directory's SQLite store

DEADLINE = 30.0  # seconds: generous for a loaded machine; a read that waits for the writer waits until released


def test_a_read_does_not_wait_for_the_stores_writer_mid_transaction(store: SqliteStore) -> None:
    with write_held_open(store, DEADLINE):  # the writer's lock held, as through a COMMIT and its fsync
        seen: list[frozenset[str]] = []
        reader = threading.Thread(target=lambda: seen.append(store.revocations()))
        reader.start()
        reader.join(DEADLINE)
        assert seen == [frozenset()], "the read waited for the writer (or saw its uncommitted row)"
    assert store.revocations() == {"0bad"}, "a read after the commit sees it"


def test_a_read_does_not_wait_for_another_connections_write_transaction(store: SqliteStore, data: DataDir) -> None:
    other = sqlite3.connect(str(data.database), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process (serve --workers) in the middle of its write
    other.execute("INSERT INTO revocations (serial, time) VALUES ('0ther', '2026-11-21T00:00:00Z')")
    try:
        seen: list[int] = []
        reader = threading.Thread(target=lambda: seen.append(store.log_size()))
        reader.start()
        reader.join(DEADLINE)
        assert seen == [0]
        assert store.revocations() == frozenset()
    finally:
        other.execute("COMMIT")
        other.close()
    assert store.revocations() == {"0ther"}


def test_every_write_the_store_returned_from_is_read_back_at_once(store: SqliteStore) -> None:
    for i in range(50):  # each read right after its write, on whichever reader connection is free
        store.add_revocation(f"{i:04x}")
        assert f"{i:04x}" in store.revocations()
    assert store.log_size() == 0


def test_a_read_only_store_reads_on_its_one_connection(store: SqliteStore, data: DataDir) -> None:
    store.add_revocation("beef")
    reader = SqliteStore(data.database, store._cipher, read_only=True)
    try:
        assert reader.revocations() == {"beef"}
    finally:
        reader.close()


@contextmanager
def lent(pool: Readers) -> Iterator[sqlite3.Connection]:
    """A connection of the pool for the block, as the store's reads take and give one back."""
    db = pool.take()
    try:
        yield db
    finally:
        pool.give_back(db)


def _opener(tmp_path: Path, made: list[sqlite3.Connection]) -> Readers:
    def open_reader() -> sqlite3.Connection:
        db = sqlite3.connect(str(tmp_path / "r.db"), check_same_thread=False, isolation_level=None)
        made.append(db)
        return db
    return Readers(open_reader, size=2, wait=0.05)


def test_the_pool_opens_no_more_than_its_size_and_reuses_connections(tmp_path: Path) -> None:
    made: list[sqlite3.Connection] = []
    pool = _opener(tmp_path, made)
    with lent(pool) as a, lent(pool) as b:
        assert a is not b and pool.opened == 2
        with pytest.raises(StoreUnavailable, match="reader connections stayed busy"), lent(pool):
            pass
    for _ in range(10):
        with lent(pool) as again:
            assert again in (a, b)
    assert len(made) == 2


def test_a_waiting_read_gets_the_connection_given_back(tmp_path: Path) -> None:
    made: list[sqlite3.Connection] = []
    pool = Readers(_opener(tmp_path, made)._open, size=1, wait=DEADLINE)
    got: list[sqlite3.Connection] = []
    taken = pool.take()
    waiter = threading.Thread(target=lambda: got.append(pool.take()))
    waiter.start()
    pool.give_back(taken)
    waiter.join(DEADLINE)
    assert got == [taken] and pool.opened == 1


def test_closing_closes_idle_connections_now_and_lent_ones_on_return(tmp_path: Path) -> None:
    made: list[sqlite3.Connection] = []
    pool = _opener(tmp_path, made)
    with lent(pool):
        with lent(pool):
            pass  # given back idle
        pool.close()
        with pytest.raises(sqlite3.ProgrammingError):
            made[1].execute("SELECT 1")
        made[0].execute("SELECT 1")  # still lent: usable until given back
    with pytest.raises(sqlite3.ProgrammingError):
        made[0].execute("SELECT 1")
    assert pool.opened == 0
    with pytest.raises(StoreError, match="closed"), lent(pool):
        pass


def test_closing_wakes_a_read_waiting_for_a_connection(tmp_path: Path) -> None:
    made: list[sqlite3.Connection] = []
    pool = Readers(_opener(tmp_path, made)._open, size=1, wait=DEADLINE)
    taken = pool.take()
    failed: list[BaseException] = []

    def wait_for_one() -> None:
        try:
            pool.take()
        except StoreError as exc:
            failed.append(exc)

    waiter = threading.Thread(target=wait_for_one)
    waiter.start()
    wait_until(lambda: pool._waiting == 1, "the read waiting for a connection")
    pool.close()
    waiter.join(DEADLINE)
    assert not waiter.is_alive() and len(failed) == 1 and "closed" in str(failed[0])
    pool.give_back(taken)
    assert pool.opened == 0


def test_many_threads_share_a_small_pool(tmp_path: Path) -> None:
    made: list[sqlite3.Connection] = []
    pool = Readers(_opener(tmp_path, made)._open, size=2, wait=DEADLINE)
    lent: set[int] = set()
    errors: list[BaseException] = []
    guard = threading.Lock()

    def reader() -> None:
        try:
            for _ in range(300):
                db = pool.take()
                with guard:
                    assert id(db) not in lent, "a connection lent to two threads at once"
                    lent.add(id(db))
                db.execute("SELECT 1").fetchall()
                with guard:
                    lent.discard(id(db))
                pool.give_back(db)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE * 4)
    assert not errors and not any(t.is_alive() for t in threads)
    assert len(made) <= 2 and pool.opened == len(made)
