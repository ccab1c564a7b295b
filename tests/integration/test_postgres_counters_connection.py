"""On PostgreSQL, quota checks and anomaly counts run on a connection each: they never wait behind the access log's
transaction (a COMMIT, a batch being signed) nor behind each other, and those connections heal by themselves when
lost. Their transactions are pipelined: a statement whose answer is not needed is sent without waiting, and its
failure still fails (and rolls back) the whole transaction."""
from __future__ import annotations

import contextlib
import threading

import psycopg
import pytest

from gateway.audit.entry import AccessEntry
from gateway.store.port import StoreUnavailable
from gateway.store.postgres import PostgresStore
from tests import pg
from tests.pg import OwnLogin

pytestmark = pytest.mark.postgres
login, store = pg.login, pg.store  # the fixtures: a database of the test's own, a store on it

PRINCIPAL = "school/330203/3302030001"


def entry(i: int) -> AccessEntry:
    return AccessEntry(f"2026-11-21T08:00:{i % 60:02d}.000000Z", PRINCIPAL, "ab", "school", "3302030001", "330203",
                       "/permitgw.v1.PermitService/GetPermitStatus", "compulsory-education", f"case-{i}", "op", "",
                       "allow", "OK", "v1")


def check_quota(store: PostgresStore, subject: str, now: float) -> list[tuple[int, int]]:
    with store.quota_rows(PRINCIPAL, forget_before=0.0) as rows:
        seen = rows.usage([now - 3600.0], {subject})
        rows.record({subject}, now)
    return seen


def test_counting_does_not_wait_for_the_access_log_writer(store: PostgresStore) -> None:
    store.append_accesses([entry(1)])
    counted = threading.Event()
    with store._lock:  # the access log's connection is busy (as during a batch's COMMIT)
        worker = threading.Thread(target=lambda: (check_quota(store, "aa" * 32, 1000.0),
                                                  store.count_anomalies(PRINCIPAL, 1000.0, [], 60.0),
                                                  counted.set()))
        worker.start()
        assert counted.wait(20), "a quota check waited for the access log's connection"
    worker.join(20)
    assert check_quota(store, "bb" * 32, 1001.0) == [(1, 0)]  # the first check's row is committed
    assert store.append_accesses([entry(2)]) == [2]  # and the log's connection is untouched


def test_a_lost_counters_connection_is_reopened(login: OwnLogin, store: PostgresStore) -> None:
    check_quota(store, "aa" * 32, 1000.0)
    login.kill()
    with contextlib.suppress(StoreUnavailable):  # the check that finds its connection killed fails closed …
        check_quota(store, "bb" * 32, 1001.0)
    assert check_quota(store, "cc" * 32, 1002.0)[0][0] >= 1  # … and the next works on a new connection
    with pytest.raises(StoreUnavailable):  # the log's connection was killed too: its next write fails, once
        store.append_accesses([entry(1)])
    assert store.append_accesses([entry(2)]) == [1]


@pytest.mark.parametrize("held", ["quota", "anomaly"])
def test_a_quota_check_and_an_anomaly_count_do_not_wait_for_each_other(store: PostgresStore, held: str) -> None:
    counted = threading.Event()
    other = (lambda: store.count_anomalies(PRINCIPAL, 1000.0, [], 60.0)) if held == "quota" else \
        (lambda: check_quota(store, "aa" * 32, 1000.0))
    with store._counter_locks[held]:  # that counter's connection is busy
        worker = threading.Thread(target=lambda: (other(), counted.set()))
        worker.start()
        assert counted.wait(20), f"the other counter waited for the {held} counter's connection"
    worker.join(20)


def test_a_failing_statement_sent_without_waiting_rolls_the_whole_transaction_back(store: PostgresStore) -> None:
    with pytest.raises(psycopg.errors.DivisionByZero), store.quota_rows(PRINCIPAL, forget_before=0.0) as rows:
        rows.record({"aa" * 32}, 1000.0)  # sent, not waited for
        rows._sql.send("SELECT 1 / 0")  # fails on the server; raised when the transaction waits (its commit)
    assert check_quota(store, "bb" * 32, 1001.0) == [(0, 0)]  # the first subject was never recorded


def test_run_in_a_pipelined_transaction_answers_the_real_row_count(store: PostgresStore) -> None:
    check_quota(store, "aa" * 32, 1000.0)
    check_quota(store, "bb" * 32, 1000.0)
    with store.quota_rows(PRINCIPAL, forget_before=0.0) as rows:
        assert rows._sql.run("DELETE FROM quota_seen WHERE principal = ?", (PRINCIPAL,)) == 2
