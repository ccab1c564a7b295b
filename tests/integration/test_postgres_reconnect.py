"""The PostgreSQL store on the real server loses its connection (pg_terminate_backend) and reopens it by itself.

The store connects as a role of the test's own, in a database of the test's own; NOLOGIN on that role makes
the server unreachable for it, deterministically, until LOGIN is given back.
"""
from __future__ import annotations

import time

import pytest

from gateway.audit.entry import AccessEntry
from gateway.audit.rfc9162 import MemoryTree, leaf_hash, root
from gateway.datadir import DataDir
from gateway.store.port import StoreUnavailable
from gateway.store.postgres import PostgresStore
from tests import pg
from tests.helpers import wait_until
from tests.pg import OwnLogin

pytestmark = pytest.mark.postgres
login, store = pg.login, pg.store  # the fixtures: a database of the test's own, a store on it



def entry(i: int) -> AccessEntry:
    return AccessEntry(f"2026-11-21T08:00:{i % 60:02d}.000000Z", "school/330203/S1", "ab", "school", "S1", "330203",
                       "/permitgw.v1.PermitService/GetPermitStatus", "compulsory-education", f"case-{i}", "op", "",
                       "allow", "OK", "v1")


def answers(store: PostgresStore) -> bool:
    try:
        store.log_size()
    except StoreUnavailable:
        return False
    return True


def test_a_read_after_the_connection_was_killed_is_answered(login: OwnLogin, store: PostgresStore) -> None:
    store.append_accesses([entry(1), entry(2)])
    assert login.kill() == 4  # the writers' connection and the three lanes' (reads' opens at the first read)
    assert store.log_size() == 2  # retried once on a new connection: the reader does not notice
    assert store.counts()["access_log"] == 2


def test_a_write_on_a_killed_connection_fails_unavailable_and_the_next_one_works(
        login: OwnLogin, store: PostgresStore, data: DataDir) -> None:
    assert store.append_accesses([entry(1)]) == [1]
    login.kill()
    with pytest.raises(StoreUnavailable):  # never retried inside: the caller decides (no entry twice)
        store.append_accesses([entry(2)])
    assert store.append_accesses([entry(3)]) == [2]
    assert [e.case_id for _, _, e in store.leaf_hashes()] == ["case-1", "case-3"]
    leaves = [leaf for _, leaf, _ in store.leaf_hashes()]  # no gap, no duplicate: the tree is the two leaves
    assert root(2, store) == MemoryTree(leaves).root() and leaves == [leaf_hash(entry(i).canonical_bytes())
                                                                     for i in (1, 3)]


def test_an_unreachable_server_fails_fast_and_the_store_heals_when_it_is_back(
        login: OwnLogin, store: PostgresStore) -> None:
    store.append_accesses([entry(1)])
    login.lock_out()
    started = time.monotonic()
    for _ in range(10):
        with pytest.raises(StoreUnavailable, match="not permitted to log in|next attempt"):
            store.log_size()
    assert time.monotonic() - started < 5, "calls waited on a server that refuses them"
    login.let_in()
    wait_until(lambda: answers(store), "the store to answer again", 15)
    assert store.append_accesses([entry(2)]) == [2]


def test_close_while_unreachable_returns(login: OwnLogin, data: DataDir) -> None:
    opened = PostgresStore(login.dsn, data.cipher(), "permitgw")
    login.lock_out()
    with pytest.raises(StoreUnavailable):
        opened.log_size()
    opened.close()
