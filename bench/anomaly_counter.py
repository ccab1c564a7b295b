"""What counting anomalies in the database costs per observed entry, against the in-memory detector (same run).

Measured: µs per observe() for the in-memory AnomalyDetector, the SharedAnomalyDetector on SQLite (BEGIN IMMEDIATE)
and on PostgreSQL (advisory lock per principal; with synchronous commit and without), and — the alternative not
taken — counting a principal's distinct subjects straight from access_log, which grows with the principal's
traffic in the window. Prints the load average, since 2 cores are shared.

    .venv/bin/python bench/anomaly_counter.py [--n 3000] [--dsn "host=127.0.0.1 dbname=test user=postgres"]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from gateway.audit.entry import AccessEntry
from gateway.identity.principal import ROLES
from gateway.store.crypto import FieldCipher
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SqliteStore
from gateway.watch.anomalies import AnomalyDetector, AnomalySettings, OfficeHours, RoleRules, Rule
from gateway.watch.shared_anomalies import SharedAnomalyDetector

START = _dt.datetime(2025, 6, 11, 1, 0, tzinfo=_dt.UTC).timestamp()  # Wednesday 09:00 in China
CIPHER = FieldCipher(bytes(32), bytes(range(32)))
RELAXED = PostgresStore.ANOMALY_SETTINGS


def settings() -> AnomalySettings:
    office = OfficeHours(frozenset(range(5)), 450, 1170)
    base = RoleRules(Rule(50, 600), Rule(20, 1800), office, Rule(10, 300))  # the shipped defaults
    return AnomalySettings(base, dict.fromkeys(ROLES, base), 1800)


def workload(n: int, principals: int, seed: int = 3) -> list[AccessEntry]:
    """Calls 0.05 s apart from `principals` schools; most ask about a person (bulk), some are refused."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t = _dt.datetime.fromtimestamp(START + i * 0.05, _dt.UTC).isoformat(timespec="microseconds")
        p = f"school/330203/S{rng.randrange(principals)}"
        out.append(AccessEntry(t.replace("+00:00", "Z"), p, "0a", "school", "S", "330203",
                               "/permitgw.v1.PermitService/GetPermitStatus", "compulsory-education", "", "",
                               rng.randbytes(32).hex(), "deny" if rng.random() < 0.1 else "allow", "", "v1"))
    return out


def per_call(observe: Callable[[AccessEntry], object], entries: list[AccessEntry]) -> float:
    """Median µs per observe over 5 slices of the workload."""
    slices = [entries[k::5] for k in range(5)]
    times = []
    for part in slices:
        started = time.perf_counter()
        for e in part:
            observe(e)
        times.append((time.perf_counter() - started) / len(part) * 1e6)
    return statistics.median(times)


def log_counting(store: SqliteStore | PostgresStore, in_window: int, total: int) -> float:
    """µs to count one principal's distinct subjects of the last 10 minutes from access_log (the alternative),
    with `in_window` of its entries in the window among `total` entries of the log."""
    rng = random.Random(5)
    base = _dt.datetime(2025, 6, 11, 2, 0, tzinfo=_dt.UTC)
    batch = []
    for i in range(total):
        hot = i >= total - in_window
        t = (base + _dt.timedelta(seconds=(i - total + 1) * (600 / in_window) if hot else i - 10 * total)).isoformat(
            timespec="microseconds").replace("+00:00", "Z")
        who = f"HOT{in_window}" if hot or i % 3 == 0 else f"X{i % 97}"  # the hot principal has a long history too
        batch.append(AccessEntry(t, f"school/330203/{who}", "0a", "school", "S", "330203", "m", "p", "", "",
                                 rng.randbytes(32).hex(), "allow", "", "v1"))
    for k in range(0, total, 5000):
        store.append_accesses(batch[k:k + 5000])
    since = (base - _dt.timedelta(seconds=600)).isoformat(timespec="microseconds").replace("+00:00", "Z")
    until = base.isoformat(timespec="microseconds").replace("+00:00", "Z")
    sql = ("SELECT count(*) FROM (SELECT subject FROM access_log WHERE principal = ? AND time > ? AND time <= ? "
           "AND decision <> 'alert' AND subject <> '' UNION SELECT s.subject FROM access_subjects s JOIN access_log a "
           "ON a.seq = s.seq WHERE a.principal = ? AND a.time > ? AND a.time <= ? AND a.decision <> 'alert') u")
    args = (f"school/330203/HOT{in_window}", since, until) * 2
    found = store._query(sql, args)[0][0]
    assert found == in_window, found
    started = time.perf_counter()
    for _ in range(50):
        store._query(sql, args)
    return (time.perf_counter() - started) / 50 * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--principals", type=int, default=20)
    ap.add_argument("--dsn", default=os.environ.get("PERMITGW_TEST_PG_DSN",
                                                    "host=127.0.0.1 port=5432 dbname=test user=postgres"))
    args = ap.parse_args()
    entries = workload(args.n, args.principals)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.n} entries, "
          f"{args.principals} principals")
    memory = per_call(AnomalyDetector(settings()).observe, entries)
    print(f"in-memory AnomalyDetector:            {memory:8.1f} µs/observe")
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "gateway.db", CIPHER)
        lite = per_call(SharedAnomalyDetector(settings(), store).observe, entries)
        print(f"shared, SQLite (BEGIN IMMEDIATE):     {lite:8.1f} µs/observe  ({lite / memory:.0f}x); "
              f"rows kept {store.anomaly_rows()}")
        for in_window in (100, 2000):
            fresh = SqliteStore(Path(tmp) / f"log{in_window}.db", CIPHER)
            cost = log_counting(fresh, in_window, 100_000)
            print(f"  alternative, count from access_log (SQLite, 100k entries, {in_window} of the principal "
                  f"in the window): {cost:8.1f} µs per count")
            fresh.close()
        store.close()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        for k, (label, session) in enumerate((("synchronous commit", ""), ("synchronous_commit off", RELAXED))):
            pg = PostgresStore(args.dsn, CIPHER, schema=f"{schema}_{k}")
            pg.ANOMALY_SETTINGS = session
            cost = per_call(SharedAnomalyDetector(settings(), pg).observe, entries)
            print(f"shared, PostgreSQL ({label}): {cost:8.1f} µs/observe  ({cost / memory:.0f}x)")
            pg.close()
        pg = PostgresStore(args.dsn, CIPHER, schema=schema + "_log")
        for in_window in (100, 2000):
            cost = log_counting(pg, in_window, 50_000)
            print(f"  alternative, count from access_log (PostgreSQL, +50k entries, {in_window} of the principal "
                  f"in the window): {cost:8.1f} µs per count")
        pg.close()
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            for suffix in ("_0", "_1", "_log"):
                admin.execute(f'DROP SCHEMA IF EXISTS "{schema}{suffix}" CASCADE')
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
