"""Quota counting shared by replicas, on real SQLite and the real PostgreSQL: several store objects (each a
replica's or a worker's own connection) on one database count one quota, exactly at the boundary even when the
calls arrive at once; the windows roll with the injected clock; the rows are blind indexes and stay bounded; a
database out of reach, or a lock held too long, fails the check (StoreUnavailable) instead of answering uncounted.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest

from gateway.datadir import DataDir
from gateway.domain.idnumber import IdNumber
from gateway.store.port import Store, StoreUnavailable
from gateway.store.postgres import PostgresStore
from gateway.synth.people import residents
from gateway.watch.quotas import DAY, HOUR, QUOTA_EXCEEDED, QUOTA_WARNING, QuotaLimits, QuotaSettings
from gateway.watch.shared_quotas import SWEEP_AGE, SharedQuotaCounter
from tests.helpers import wait_until
from tests.integration.test_store_backends import (  # noqa: F401 - fixtures, found by name
    Opener,
    backend,
    opener,
    pg_dsn,
    pg_schema,
)
from tests.pg import own_login
from tests.unit.test_quotas import T0, FakeClock

SCHOOL = "school/330203/S1"
SIX = QuotaSettings({"school": QuotaLimits(6, 100)}, alert_ratio=0.8)


@pytest.fixture
def replicas(opener: Opener) -> Iterator[Callable[[], Store]]:  # noqa: F811 - the fixture imported above
    """Opens another store on the test's one database (a replica's or a worker's own connection)."""
    opened: list[Store] = []

    def another() -> Store:
        opened.append(opener())
        return opened[-1]

    yield another
    for store in opened:
        store.close()


def people(store: Store, n: int) -> list[str]:
    """Blind indexes of n distinct people, as the gate hands them to the counter."""
    return [store.subject_index(IdNumber(p.id_number)) for p in residents(n, seed=23)]


def quota_table(store: Store) -> list[tuple[str, str, float]]:
    """The quota_seen table as it is (read through the store's own connection)."""
    rows = store._query("SELECT principal, subject, seen FROM quota_seen ORDER BY seen, subject")
    return [(str(p), str(s), float(t)) for p, s, t in rows]


def test_asking_in_turn_through_two_replicas_counts_one_quota(replicas: Callable[[], Store]) -> None:
    clock = FakeClock()
    a, b = replicas(), replicas()
    counters = [SharedQuotaCounter(SIX, a, clock=clock), SharedQuotaCounter(SIX, b, clock=clock)]
    who = people(a, 8)
    outs = [counters[n % 2].check(SCHOOL, "school", s) for n, s in enumerate(who)]
    assert [o.allowed for o in outs] == [True] * 6 + [False] * 2
    assert [o.count for o in outs] == [1, 2, 3, 4, 5, 6, 6, 6]
    assert [o.alert for o in outs] == [None] * 4 + [QUOTA_WARNING, None, QUOTA_EXCEEDED, QUOTA_EXCEEDED]
    assert counters[1].check(SCHOOL, "school", who[0]).allowed  # asked through the other replica: not new
    assert sorted(s for _, s, _ in quota_table(b)) == sorted(who[:6])  # blind indexes, only the allowed ones


def test_twenty_people_at_once_over_three_replicas_exactly_six_allowed(replicas: Callable[[], Store]) -> None:
    clock = FakeClock()
    stores = [replicas() for _ in range(3)]
    counters = [SharedQuotaCounter(SIX, s, clock=clock) for s in stores]
    who = people(stores[0], 20)
    start = threading.Barrier(len(who))
    outcomes: dict[str, tuple[bool, str | None]] = {}
    failures: list[BaseException] = []

    def fire(n: int, subject: str) -> None:
        try:
            start.wait(timeout=30)
            out = counters[n % 3].check(SCHOOL, "school", subject)
            outcomes[subject] = (out.allowed, out.alert)
        except BaseException as exc:  # any failure at all fails the test
            failures.append(exc)

    threads = [threading.Thread(target=fire, args=(n, s)) for n, s in enumerate(who)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == [] and len(outcomes) == 20
    allowed = sorted(s for s, (ok, _) in outcomes.items() if ok)
    assert len(allowed) == 6
    assert sorted(s for _, s, _ in quota_table(stores[1])) == allowed
    alerts = [alert for _, alert in outcomes.values()]
    assert alerts.count(QUOTA_WARNING) == 1 and alerts.count(QUOTA_EXCEEDED) == 14


def test_the_windows_roll_with_the_injected_clock_across_replicas(replicas: Callable[[], Store]) -> None:
    clock = FakeClock()
    limits = QuotaSettings({"school": QuotaLimits(2, 3)}, alert_ratio=1.0)
    a, b = (SharedQuotaCounter(limits, replicas(), clock=clock) for _ in range(2))
    assert [a.check(SCHOOL, "school", s).allowed for s in ("a1", "a2", "a3")] == [True, True, False]
    clock.advance(HOUR - 1)
    assert not b.check(SCHOOL, "school", "a3").allowed
    clock.advance(1)  # an hour after: out of the hour, still in the day
    out = b.check(SCHOOL, "school", "a3")
    assert (out.allowed, out.window, out.count) == (True, "day", 3)
    out = a.check(SCHOOL, "school", "a4")
    assert (out.allowed, out.window, out.count, out.limit) == (False, "day", 3, 3)
    clock.advance(DAY - HOUR)  # a day after a1 and a2
    assert a.check(SCHOOL, "school", "a4").allowed


def test_rows_older_than_a_day_go_and_idle_principals_are_swept(replicas: Callable[[], Store]) -> None:
    clock = FakeClock()
    store = replicas()
    counter = SharedQuotaCounter(SIX, store, clock=clock)
    counter.check("idle/1/x", "school", "i1")
    counter.check(SCHOOL, "school", "s1")
    clock.advance(DAY)
    counter.check(SCHOOL, "school", "s2")
    assert [(p, s) for p, s, _ in quota_table(store)] == [("idle/1/x", "i1"), (SCHOOL, "s2")]
    clock.advance(SWEEP_AGE - DAY)
    counter.check(SCHOOL, "school", "s3")
    assert quota_table(store) == [(SCHOOL, "s3", T0 + SWEEP_AGE)]  # the idle one swept, s2 a day old


def test_the_quota_tables_survive_reopening(replicas: Callable[[], Store], opener: Opener) -> None:  # noqa: F811
    clock = FakeClock()
    first = replicas()
    counter = SharedQuotaCounter(SIX, first, clock=clock)
    assert all(counter.check(SCHOOL, "school", f"s{n}").allowed for n in range(6))
    first.close()
    again = SharedQuotaCounter(SIX, replicas(), clock=clock)  # a restart: no replay needed
    assert not again.check(SCHOOL, "school", "s6").allowed


LOCK_WAIT_BOUND = 60.0  # seconds: well beyond the 5 s lock timeout (PostgreSQL) and busy timeout (SQLite)


def _raised(fn: Callable[..., object], *args: object) -> BaseException | None:
    try:
        fn(*args)
    except BaseException as exc:  # handed to the test's thread, which checks it
        return exc
    return None


def test_a_lock_held_too_long_fails_the_check_and_records_nothing(
        replicas: Callable[[], Store], backend: str, data: DataDir, request: pytest.FixtureRequest) -> None:  # noqa: F811
    clock = FakeClock()
    store = replicas()
    counter = SharedQuotaCounter(SIX, store, clock=clock)
    assert counter.check(SCHOOL, "school", "first").allowed
    if backend == "postgres":
        holder = psycopg.connect(request.getfixturevalue("pg_dsn"))  # the same database, another session
        holder.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",  # held until its rollback
                       (f"permitgw:{request.getfixturevalue('pg_schema')}:quota:{SCHOOL}",))
    else:
        holder = sqlite3.connect(str(data.database), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    outcome: list[BaseException | None] = []
    checking = threading.Thread(target=lambda: outcome.append(_raised(counter.check, SCHOOL, "school", "second")))
    try:
        checking.start()
        # bounded: a check that waited for the lock without its timeout would otherwise hang the suite
        checking.join(LOCK_WAIT_BOUND)
        assert not checking.is_alive(), f"the check still waited for the lock after {LOCK_WAIT_BOUND:g} s"
    finally:
        holder.rollback() if backend == "postgres" else holder.execute("ROLLBACK")
        holder.close()
        checking.join(LOCK_WAIT_BOUND)
    assert len(outcome) == 1 and isinstance(outcome[0], StoreUnavailable), outcome
    assert [s for _, s, _ in quota_table(store)] == ["first"]
    assert counter.check(SCHOOL, "school", "second").allowed  # heals by itself


@pytest.mark.postgres
def test_postgres_out_of_reach_fails_the_check_then_heals(data: DataDir) -> None:
    clock = FakeClock()
    with own_login("pgq") as login:
        store = PostgresStore(login.dsn, data.cipher(), "permitgw")
        try:
            counter = SharedQuotaCounter(SIX, store, clock=clock)
            assert counter.check(SCHOOL, "school", "a").allowed
            login.lock_out()
            with pytest.raises(StoreUnavailable):
                counter.check(SCHOOL, "school", "b")
            login.let_in()

            def counts_again() -> bool:  # the store backs off between reconnect attempts: early tries fail fast
                try:
                    return counter.check(SCHOOL, "school", "b").allowed
                except StoreUnavailable:
                    return False

            wait_until(counts_again, "the counter to reach PostgreSQL again", 20)
            assert sorted(s for _, s, _ in quota_table(store)) == ["a", "b"]
        finally:
            store.close()


def test_checks_made_at_once_share_one_transaction_each_seeing_the_ones_before(
        replicas: Callable[[], Store], backend: str, data: DataDir, request: pytest.FixtureRequest) -> None:  # noqa: F811
    """While another session holds the principal's lock, the first check waits for it and nine more queue behind
    it; they are then made in one transaction, in the order they came, exactly as one by one: six people allowed
    in all, the warning at the fifth, the seventh on refused — and only the allowed ones recorded."""
    clock = FakeClock()
    store = replicas()
    counter = SharedQuotaCounter(SIX, store, clock=clock)
    assert counter.check(SCHOOL, "school", "before").allowed  # its hourly sweep done before the lock is taken
    who = people(store, 10)
    outcomes: dict[str, tuple[bool, int, str | None]] = {}
    failures: list[BaseException] = []

    def ask(subject: str) -> None:
        try:
            out = counter.check(SCHOOL, "school", subject)
            outcomes[subject] = (out.allowed, out.count, out.alert)
        except BaseException as exc:  # any failure at all fails the test
            failures.append(exc)

    if backend == "postgres":
        holder = psycopg.connect(request.getfixturevalue("pg_dsn"))
        holder.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                       (f"permitgw:{request.getfixturevalue('pg_schema')}:quota:{SCHOOL}",))
    else:
        holder = sqlite3.connect(str(data.database), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    threads = []
    try:
        for n, subject in enumerate(who):  # one after another: each queued before the next starts
            threads.append(threading.Thread(target=ask, args=(subject,), daemon=True))
            threads[-1].start()
            wait_until(lambda n=n: counter._combiner.waiting == n, "the check to queue")  # noqa: SLF001
    finally:
        holder.rollback() if backend == "postgres" else holder.execute("ROLLBACK")
        holder.close()
    for t in threads:
        t.join(timeout=60)
    assert failures == [] and not any(t.is_alive() for t in threads)
    assert counter.batches == 3  # "before"; the first of the ten alone (it waited for the lock); the nine others
    got = [outcomes[s] for s in who]
    assert [(ok, count) for ok, count, _ in got] == [(True, i) for i in range(2, 7)] + [(False, 6)] * 5
    assert [alert for *_, alert in got] == [None] * 3 + [QUOTA_WARNING, None] + [QUOTA_EXCEEDED] * 5
    assert sorted(s for _, s, _ in quota_table(store)) == sorted(["before", *who[:5]])
