"""On PostgreSQL, the access log's batches, quota checks and anomaly counts run on a connection each (the store's
lanes): none waits behind another's transaction (a COMMIT, a batch being signed) or behind an import on the writers'
connection, and those connections heal by themselves when lost. Their transactions are pipelined: a statement whose
answer is not needed is sent without waiting, and its failure still fails (and rolls back) the whole transaction."""
from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from gateway.audit.entry import AccessEntry
from gateway.store.port import StoreUnavailable
from gateway.store.postgres import PostgresStore, _Cursors
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
    with store._lane_locks["log"]:  # the access log's connection is busy (as during a batch's COMMIT)
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
    with store._lane_locks[held]:  # that counter's connection is busy
        worker = threading.Thread(target=lambda: (other(), counted.set()))
        worker.start()
        assert counted.wait(20), f"the other counter waited for the {held} counter's connection"
    worker.join(20)


def test_a_failing_statement_sent_without_waiting_rolls_the_whole_transaction_back(store: PostgresStore) -> None:
    with pytest.raises(psycopg.errors.DivisionByZero), store.quota_rows(PRINCIPAL, forget_before=0.0) as rows:
        rows.record({"aa" * 32}, 1000.0)  # sent, not waited for
        rows._sql.send("SELECT 1 / 0")  # fails on the server; raised when the transaction waits (its commit)
    assert check_quota(store, "bb" * 32, 1001.0) == [(0, 0)]  # the first subject was never recorded


def test_statements_reuse_their_lanes_cursors_and_each_read_still_answers_its_own_statement(
        store: PostgresStore) -> None:
    """A lane lends its cursors by position (postgres.py _Cursors): the next transaction makes none, and a read sent
    after statements whose answers were not waited for, on cursors that answered other statements before, gets its
    own rows — also after a transaction that failed."""
    def shape(first: int, second: int) -> tuple[list[object], list[object]]:
        with store._transaction("anomaly") as sql:
            sql.send("SELECT 0")
            a = sql.rows("SELECT ?::int", (first,))
            sql.send("SELECT 1")
            sql.send("SELECT 2")
            b = sql.rows("SELECT ?::int, 'b'", (second,))
        return [tuple(r) for r in a], [tuple(r) for r in b]

    assert shape(10, 20) == ([(10,)], [(20, "b")])
    kept = list(store._cursors["anomaly"]._kept)
    assert len(kept) == 7  # BEGIN, five statements, COMMIT
    assert shape(30, 40) == ([(30,)], [(40, "b")])
    with pytest.raises(psycopg.errors.DivisionByZero), store._transaction("anomaly") as sql:
        sql.send("SELECT 1 / 0")
        sql.rows("SELECT 5")
    assert shape(50, 60) == ([(50,)], [(60, "b")])
    assert store._cursors["anomaly"]._kept == kept  # the same cursors throughout
    assert [r[0] for r in store._query("SELECT ?::int", (7,))] == [7]
    assert [r[0] for r in store._query("SELECT ?::int", (8,))] == [8]


def test_a_read_of_many_rows_does_not_leave_them_held_by_a_kept_cursor(store: PostgresStore) -> None:
    """A kept cursor holds its last answer until it is lent again: one that answered more than _Cursors.BIG rows
    (a verification of the whole log, an export) is closed and replaced, a small answer's is kept."""
    many = _Cursors.BIG + 1
    assert len(store._query(f"SELECT generate_series(1, {many})")) == many
    reads = store._cursors["reads"]
    assert reads._kept == [None]
    assert [r[0] for r in store._query("SELECT 1")] == [1]
    kept = reads._kept[0]
    assert kept is not None and not kept.closed
    assert [r[0] for r in store._query("SELECT 2")] == [2] and reads._kept == [kept]


def test_more_statements_than_a_lane_keeps_cursors_for_are_answered_alike(store: PostgresStore) -> None:
    n = _Cursors.KEEP + 10
    with store._transaction("quota") as sql:
        for i in range(n):
            sql.send("SELECT ?::int", (i,))
        last = sql.rows("SELECT ?::int", (n,))
    assert [tuple(r) for r in last] == [(n,)]
    assert len(store._cursors["quota"]._kept) == _Cursors.KEEP


def test_run_in_a_pipelined_transaction_answers_the_real_row_count(store: PostgresStore) -> None:
    check_quota(store, "aa" * 32, 1000.0)
    check_quota(store, "bb" * 32, 1000.0)
    with store.quota_rows(PRINCIPAL, forget_before=0.0) as rows:
        assert rows._sql.run("DELETE FROM quota_seen WHERE principal = ?", (PRINCIPAL,)) == 2


def traced(db: psycopg.Connection, action: Callable[[], object], tmp_path: Path) -> list[list[str]]:
    """The protocol messages of `action` on this connection, as libpq's own trace records them: per message, its
    direction (F client, B server), its length, its type and its contents, tab-separated."""
    trace = tmp_path / f"trace-{uuid.uuid4().hex}"
    with trace.open("w") as f:
        db.pgconn.trace(f.fileno())
        try:
            action()
        finally:
            db.pgconn.untrace()
    return [line.split("\t")[1:] for line in trace.read_text().splitlines() if line.count("\t") >= 2]


def turns(db: psycopg.Connection, action: Callable[[], object], tmp_path: Path) -> int:
    """How many times the client went from sending to reading while `action` ran: each is a wait for the server,
    i.e. a round trip."""
    sides = [message[0] for message in traced(db, action, tmp_path)]
    assert "F" in sides and "B" in sides, "the trace recorded nothing: is the action on this connection?"
    return sum(1 for a, b in zip(sides, sides[1:], strict=False) if (a, b) == ("F", "B"))


def test_a_quota_check_waits_twice_and_an_anomaly_count_three_times(store: PostgresStore, tmp_path: Path) -> None:
    """Pipelined: a quota check waits for its usage read and its commit; an anomaly count of two kinds for the
    principal's latest time, the windows' counts (one statement) and its commit — not once per statement."""
    tallies = [("bulk_lookup", ("aa" * 32,), 50, 60), ("denied_storm", None, 20, 60)]
    check_quota(store, "aa" * 32, 1000.0)  # warm: statements prepared, connections open
    store.count_anomalies(PRINCIPAL, 1000.0, tallies, 60.0)
    quota, anomaly = store._lanes["quota"], store._lanes["anomaly"]
    assert quota is not None and anomaly is not None
    assert turns(quota, lambda: check_quota(store, "bb" * 32, 1001.0), tmp_path) == 2
    assert turns(anomaly, lambda: store.count_anomalies(PRINCIPAL, 1001.0, tallies, 60.0), tmp_path) == 3


def executed(db: psycopg.Connection, action: Callable[[], object], tmp_path: Path) -> int:
    """How many statements the client had the server execute while `action` ran."""
    return sum(1 for side, _, kind, *_ in traced(db, action, tmp_path) if (side, kind) == ("F", "Execute"))


def test_a_quota_transaction_takes_its_settings_and_lock_in_one_statement_and_cleans_up_only_when_asked(
        store: PostgresStore, tmp_path: Path) -> None:
    """Each statement costs the gateway ~45 us of psycopg: a quota check about one person, warm, is BEGIN, the
    settings with the lock, the usage read, the insert and COMMIT; asked to forget old rows, one DELETE more."""
    check_quota(store, "aa" * 32, 1000.0)
    quota = store._lanes["quota"]
    assert quota is not None

    def check(forget: float | None) -> None:
        with store.quota_rows(PRINCIPAL, forget_before=forget) as rows:
            rows.usage([0.0], {"cc" * 32})
            rows.record({"cc" * 32}, 1001.0)

    assert executed(quota, lambda: check(None), tmp_path) == 5
    assert executed(quota, lambda: check(500.0), tmp_path) == 6


def test_an_anomaly_count_takes_its_lock_and_its_asynchronous_commit_in_one_statement(
        store: PostgresStore, tmp_path: Path) -> None:
    """Its transaction commits without waiting for the WAL flush (postgres.py says why), set in the statement that
    takes the principal's lock: a count of one kind is BEGIN, that statement, the latest time, the window's insert
    and clean-up, the read of its count and last alert, and COMMIT."""
    tallies = [("denied_storm", None, 20, 60)]
    store.count_anomalies(PRINCIPAL, 1000.0, tallies, 60.0)  # warm
    anomaly = store._lanes["anomaly"]
    assert anomaly is not None
    assert executed(anomaly, lambda: store.count_anomalies(PRINCIPAL, 1001.0, tallies, 60.0), tmp_path) == 7
    with store._write(f"anomaly:{PRINCIPAL}") as sql:
        inside = sql.rows("SELECT current_setting('synchronous_commit')")
    with store._write("access_log") as sql:
        elsewhere = sql.rows("SELECT current_setting('synchronous_commit')")
    assert [tuple(r) for r in inside] == [("off",)] and [tuple(r) for r in elsewhere] == [("on",)]


def test_the_access_log_does_not_wait_for_the_writers_connection(store: PostgresStore) -> None:
    appended = threading.Event()
    with store._lock:  # the writers' connection is busy (as during an import's batch)
        worker = threading.Thread(target=lambda: (store.append_accesses([entry(1)]), appended.set()))
        worker.start()
        assert appended.wait(20), "an access-log append waited for the writers' connection"
    worker.join(20)


def test_a_signed_log_batch_waits_twice(store: PostgresStore, tmp_path: Path) -> None:
    """The log's size and latest head in one read, then the commit: two waits for a batch, whatever its size."""
    signed: list[int] = []

    def sign(before: int, after: int, tree: object, head: str | None) -> tuple[bytes, str, int | None]:
        signed.append(after)
        return bytes(32), f"head {after} over {head!r}", None

    store.append_accesses([entry(1)], sign=sign)  # type: ignore[arg-type]
    log_lane = store._lanes["log"]
    assert log_lane is not None
    assert turns(log_lane, lambda: store.append_accesses([entry(i) for i in range(2, 10)], sign=sign),  # type: ignore[arg-type]
                 tmp_path) == 2
    assert signed == [1, 9] and store.latest_checkpoint() is not None
    assert store.latest_checkpoint().note == "head 9 over 'head 1 over None'"  # type: ignore[union-attr]


def test_a_quota_transaction_bounds_its_lock_wait_and_skips_its_flush_and_only_it(store: PostgresStore) -> None:
    """lock_timeout 5 s and synchronous_commit off hold inside a quota check's transaction (postgres.py says why),
    and end with it: the lane's next transaction of another kind has the session's settings again."""
    with store.quota_rows(PRINCIPAL, forget_before=0.0) as rows:
        inside = rows._sql.rows("SELECT current_setting('lock_timeout'), current_setting('synchronous_commit')")
    assert [tuple(r) for r in inside] == [("5s", "off")]
    with store._transaction("quota") as sql:
        after = sql.rows("SELECT current_setting('lock_timeout'), current_setting('synchronous_commit')")
    assert [tuple(r) for r in after] == [("0", "on")]
