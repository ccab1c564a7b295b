"""Anomaly counts shared through the database: several store instances stand for replicas (or pre-forked workers)
on one SQLite file or one PostgreSQL database of the test's own.

What must hold: the shared detector alerts exactly as the in-memory one would on the combined traffic, however
the entries are spread over the replicas; a crossing raises one alert in the whole cluster, also when threads of
every replica observe at once; windows roll with the entries' own times; the tables stay bounded; and a database
that cannot be reached costs alerts, never the call.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.audit.entry import AccessEntry
from gateway.store.crypto import FieldCipher
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SqliteStore
from gateway.watch.anomalies import BULK_LOOKUP, DENIED_STORM, KINDS, OFF_HOURS_BURST, Alert, AnomalyDetector
from gateway.watch.shared_anomalies import PRUNE_EVERY_SECONDS, SharedAnomalyDetector
from tests.pg import OwnLogin, own_login
from tests.unit.test_anomalies import SCHOOL, WED_10, WED_22, _random_log, entry, make_settings, rules, subj

Store = SqliteStore | PostgresStore
REPLICAS = 3


class Cluster:
    """REPLICAS store instances on one database, each with its own detector (a replica's process)."""

    def __init__(self, open_store: Callable[[], Store], login: OwnLogin | None = None) -> None:
        self.open_store, self.login = open_store, login
        self.stores = [open_store() for _ in range(REPLICAS)]

    def detectors(self, **settings: object) -> list[SharedAnomalyDetector]:
        s = make_settings(**settings)  # type: ignore[arg-type]
        return [SharedAnomalyDetector(s, store) for store in self.stores]

    def close(self) -> None:
        for store in self.stores:
            store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    cipher = FieldCipher(bytes(32), bytes(range(32)))
    if request.param == "sqlite":
        c = Cluster(lambda: SqliteStore(tmp_path / "gateway.db", cipher))
        yield c
        c.close()
        return
    with own_login("anom") as login:
        c = Cluster(lambda: PostgresStore(login.dsn, cipher, schema="permitgw"), login)
        try:
            yield c
        finally:
            c.close()


def spread(detectors: list[SharedAnomalyDetector], entries: list[AccessEntry]) -> list[tuple[AccessEntry, Alert]]:
    """Observe the entries in order, round robin over the replicas; each alert with its entry."""
    return [(e, a) for i, e in enumerate(entries) for a in detectors[i % len(detectors)].observe(e)]


def test_alerts_on_the_combined_traffic_equal_one_process_seeing_everything(cluster: Cluster) -> None:
    settings = {"cooldown_min": 10, "default": rules(bulk=8, off=6, storm=4), "police": rules(bulk=20, off=12, storm=6)}
    log = _random_log(7, 2000)
    expected = AnomalyDetector(make_settings(**settings)).scan(log)  # type: ignore[arg-type]
    assert {a.kind for _, a in expected} == set(KINDS)
    assert spread(cluster.detectors(**settings), log) == expected


def test_a_burst_split_over_replicas_crosses_once_where_each_alone_stays_below(cluster: Cluster) -> None:
    burst = [entry(WED_10 + i, decision="deny") for i in range(10)]  # 10 denied in 10 s; threshold 10
    settings = {"default": rules(bulk=None, storm=10)}
    alone = [AnomalyDetector(make_settings(**settings)) for _ in range(REPLICAS)]  # type: ignore[arg-type]
    assert [a for i, e in enumerate(burst) for a in alone[i % REPLICAS].observe(e)] == []  # 4, 3 and 3 each
    got = spread(cluster.detectors(**settings), burst)
    assert [(e.time, a.kind, a.count) for e, a in got] == [(burst[-1].time, DENIED_STORM, 10)]
    assert got[0][1].message == f"DENIED_STORM: {SCHOOL}: 10 denied or invalid requests within 5 minutes"
    more = spread(cluster.detectors(**settings), [entry(WED_10 + 20 + i, decision="deny") for i in range(20)])
    assert more == []  # the same storm goes on: cooling down, in every replica


def test_threads_of_every_replica_at_once_raise_each_alert_once(cluster: Cluster) -> None:
    detectors = cluster.detectors(default=rules(bulk=40, off=30, storm=20))
    alerts: list[Alert] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(REPLICAS * 3)

    def worker(replica: int, k: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(25):
                n = (replica * 3 + k) * 100 + i
                found = detectors[replica].observe(entry(WED_22 + i, subject=subj(n), decision="deny"))
                with lock:
                    alerts.extend(found)
        except BaseException as exc:  # any failure at all fails the test
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(r, k)) for r in range(REPLICAS) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert failures == [] and not any(t.is_alive() for t in threads)
    assert sorted(a.kind for a in alerts) == sorted(KINDS)  # 225 entries, one alert per kind in the cluster
    assert all(d.failures == 0 for d in detectors)
    rows = cluster.stores[0].anomaly_rows()
    assert rows["anomaly_subjects"] <= 40 and rows["anomaly_requests"] <= 30 + 20  # each window holds its threshold


def test_windows_roll_with_the_entries_own_times(cluster: Cluster) -> None:
    a, b, c = cluster.detectors(default=rules(bulk=3, off=None, storm=None))
    assert a.observe(entry(WED_10, subject=subj(1))) == []
    assert b.observe(entry(WED_10 + 300, subject=subj(2))) == []
    assert c.observe(entry(WED_10 + 600, subject=subj(3))) == []  # the first is exactly 10 minutes old: out
    assert [x.kind for x in a.observe(entry(WED_10 + 601, subject=subj(4)))] == [BULK_LOOKUP]  # 2, 3, 4
    # an entry stamped earlier (another replica's clock a little behind) counts at the latest time: no going back
    assert b.observe(entry(WED_10 - 5000, subject=subj(5))) == []


def test_off_hours_are_judged_by_each_entry_and_counted_together(cluster: Cluster) -> None:
    detectors = cluster.detectors(default=rules(bulk=None, off=3, storm=None))
    day = [entry(WED_10 + i) for i in range(9)]  # office hours: never counted
    night = [entry(WED_22 + i) for i in range(3)]
    got = spread(detectors, day + night)
    assert [(e.time, a.kind) for e, a in got] == [(night[-1].time, OFF_HOURS_BURST)]


def test_idle_principals_are_pruned_so_the_tables_stay_bounded(cluster: Cluster) -> None:
    [d, *_] = cluster.detectors(default=rules(bulk=5, off=5, storm=5))  # horizon: the 30-minute cooldown
    for i in range(60):
        d.observe(entry(WED_22, principal=f"school/330203/S{i}", subject=subj(i), decision="deny"))
    assert cluster.stores[0].anomaly_rows()["anomaly_principals"] == 60
    later = WED_22 + 1800 + PRUNE_EVERY_SECONDS
    d.observe(entry(later, principal="school/330203/S0", subject=subj(0), decision="deny"))
    rows = cluster.stores[1].anomaly_rows()
    assert rows == {"anomaly_principals": 1, "anomaly_subjects": 1, "anomaly_requests": 2, "anomaly_alerts": 0}


def test_a_database_out_of_reach_costs_alerts_never_the_call(cluster: Cluster,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    settings = {"default": rules(bulk=None, off=None, storm=3)}
    a, b, _ = cluster.detectors(**settings)
    assert a.observe(entry(WED_10, decision="deny")) == []
    if cluster.login is not None:
        cluster.login.lock_out()  # PostgreSQL: every connection of the gateway's role killed, no new login
    else:
        cluster.stores[1].close()  # SQLite: this replica's connection is gone
    with caplog.at_level(logging.ERROR, logger="permitgw.watch"):
        assert b.observe(entry(WED_10 + 1, decision="deny")) == []  # no exception: the call goes on
    assert b.failures == 1 and "anomaly counts unavailable" in caplog.text and SCHOOL in caplog.text
    if cluster.login is not None:
        cluster.login.let_in()  # heals by itself: the store reconnects on the next transaction
        assert b.observe(entry(WED_10 + 2, decision="deny")) == []  # the lost one is not counted: 2 so far
        assert [x.kind for x in b.observe(entry(WED_10 + 3, decision="deny"))] == [DENIED_STORM]
    else:
        assert [x.kind for x in a.observe(entry(WED_10 + 2, decision="deny"))] == []
        assert [x.kind for x in a.observe(entry(WED_10 + 3, decision="deny"))] == [DENIED_STORM]


def test_one_entry_may_not_count_twice_towards_one_kind(cluster: Cluster) -> None:
    """The windows' counts are read together after every window took the entry: a kind named twice would be
    counted wrong, so it is refused before anything is written."""
    store = cluster.stores[0]
    tally = (BULK_LOOKUP, ("aa" * 32,), 5, 60)
    with pytest.raises(ValueError, match="repeat a kind"):
        store.count_anomalies(SCHOOL, 1000.0, [tally, tally], 60.0)
    assert store.anomaly_rows()["anomaly_principals"] == 0  # nothing written
