"""The PostgreSQL store reads on a connection of its own: a read does not wait behind the store's write transaction
(a quota check, an access-log append), sees every write the store returned from, and heals as the writer does."""
from __future__ import annotations

import threading

import psycopg
import pytest

from gateway.store.port import StoreUnavailable
from gateway.store.postgres import PostgresStore
from tests import pg
from tests.helpers import log_entry, wait_until, write_held_open
from tests.pg import OwnLogin

pytestmark = pytest.mark.postgres
login, store = pg.login, pg.store  # the fixtures: a database of the test's own, a store on it
DEADLINE = 30.0  # seconds; a read that waits for the writer waits until the writer is released



def test_a_read_does_not_wait_for_the_stores_write_transaction(store: PostgresStore) -> None:
    store.append_accesses([log_entry(1)])
    with write_held_open(store, DEADLINE):  # the writer's connection busy in a transaction
        seen: list[object] = []
        reader = threading.Thread(target=lambda: seen.extend([store.log_size(), store.revocations()]))
        reader.start()
        reader.join(DEADLINE)
        assert seen == [1, frozenset()], "the read waited for the writer (or saw its uncommitted row)"
    assert store.revocations() == {"0bad"}, "a read after the commit sees it"


def test_every_write_the_store_returned_from_is_read_back_at_once(store: PostgresStore) -> None:
    for i in range(20):
        store.add_revocation(f"{i:04x}")
        assert f"{i:04x}" in store.revocations()
        assert store.append_accesses([log_entry(i)]) == [i + 1]
        assert store.log_size() == i + 1


def test_reads_and_writes_fail_closed_while_the_server_is_out_of_reach_then_heal(login: OwnLogin,
                                                                                  store: PostgresStore) -> None:
    store.append_accesses([log_entry(1)])
    assert store.log_size() == 1  # both connections open
    login.lock_out()
    with pytest.raises(StoreUnavailable):
        store.log_size()
    with pytest.raises(StoreUnavailable):
        store.append_accesses([log_entry(2)])
    login.let_in()

    def heals() -> bool:
        try:
            return store.log_size() == 1
        except StoreUnavailable:
            return False

    wait_until(heals, "reads on a new connection", DEADLINE)
    wait_until(lambda: _appends(store), "writes on a new connection", DEADLINE)
    assert store.log_size() == 2


def _appends(store: PostgresStore) -> bool:
    try:
        return store.append_accesses([log_entry(2)]) == [2]
    except StoreUnavailable:
        return False


def test_a_read_after_the_reads_connection_was_killed_is_answered(login: OwnLogin, store: PostgresStore) -> None:
    store.append_accesses([log_entry(1)])
    assert store.log_size() == 1
    assert login.kill() == 5  # the writers' connection, the three lanes' and the reads'
    assert store.log_size() == 1  # retried once on a new connection


class _HungUpSocket:
    """The reads' connection as psycopg leaves it when poll() sees the socket hang up before libpq does (a killed
    backend, caught at the wrong instant): the statement raises OperationalError("connection socket closed") while
    neither `closed` nor `broken` is set yet. That race made the test above fail now and then."""

    def __init__(self, real: object) -> None:
        self.real, self.closed, self.broken = real, False, False

    def execute(self, *args: object, **kwargs: object) -> object:
        raise psycopg.OperationalError("connection socket closed")

    def cursor(self) -> object:
        return self  # a statement on one of its cursors fails alike

    def transaction(self) -> object:
        raise psycopg.OperationalError("connection socket closed")

    def close(self) -> None:
        self.closed = True
        self.real.close()


def test_a_read_whose_socket_hung_up_before_libpq_noticed_is_answered_on_a_new_connection(
        store: PostgresStore) -> None:
    store.append_accesses([log_entry(1)])
    assert store.log_size() == 1  # reads' connection open
    hung = _HungUpSocket(store._reader)
    store._reader = hung  # type: ignore[assignment]
    assert store.log_size() == 1  # retried once, on a new connection
    assert hung.closed, "the dead connection was left open"
    assert store._reader is not hung


def test_a_write_whose_socket_hung_up_is_refused_as_lost_and_the_next_write_opens_a_new_connection(
        store: PostgresStore) -> None:
    """The same race on the writers' connection: the write is not known to have happened (StoreUnavailable), and the
    dead connection must not be used again."""
    store.append_accesses([log_entry(1)])
    hung = _HungUpSocket(store._db)
    store._db = hung  # type: ignore[assignment]
    with pytest.raises(StoreUnavailable, match="connection lost"):
        store.add_revocation("0bad")
    assert hung.closed, "the dead connection was left open"
    store.add_revocation("0bad")  # on a new connection
    assert store.revocations() == {"0bad"}
