"""The per-call cost of a quota check counted in the database (shared by replicas) against the in-memory tracker.

Every measurement runs in the same process and run: the in-memory QuotaTracker (the single-process SQLite fast
path) is the baseline; then SharedQuotaCounter on SQLite (BEGIN IMMEDIATE; its commit skips its own fsync, see
sqlite.py) and on PostgreSQL
(advisory lock per principal; the commit asynchronous as shipped, and synchronous for comparison), one thread;
then on PostgreSQL several threads over several store objects (replicas) asking for ONE principal, the worst
case, where every check waits for the one before. Subjects are 64-hex blind indexes; most checks are allowed
(the path that writes). The load average is printed before and after: a busy machine inflates every number.

Run: .venv/bin/python bench/quota_counter.py [--checks N] [--pg-dsn DSN]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from gateway import datadir
from gateway.datadir import DataDir
from gateway.store import postgres
from gateway.store.postgres import PostgresStore
from gateway.watch.quotas import QuotaCounter, QuotaLimits, QuotaSettings, QuotaTracker
from gateway.watch.shared_quotas import SharedQuotaCounter

SETTINGS = QuotaSettings({"school": QuotaLimits(2000, 10_000)}, alert_ratio=0.8)
PRINCIPALS = [f"school/330203/S{n:04d}" for n in range(50)]
DEFAULT_DSN = os.environ.get("PERMITGW_TEST_PG_DSN", "host=127.0.0.1 port=5432 dbname=test user=postgres")


class Clock:
    """Half a second per check: a day of traffic passes in the run, so rows age and are pruned as in service."""

    def __init__(self) -> None:
        self.now = 1_750_000_000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self.now += 0.5
            return self.now


def per_check_us(counter: QuotaCounter, checks: int, seed: int = 1) -> float:
    rng = random.Random(seed)
    pool = [f"{rng.getrandbits(256):064x}" for _ in range(5000)]
    asks = [(rng.choice(PRINCIPALS), rng.choice(pool)) for _ in range(checks)]
    started = time.perf_counter()
    for principal, subject in asks:
        counter.check(principal, "school", subject)
    return (time.perf_counter() - started) / checks * 1e6


def concurrent(make: Callable[[], QuotaCounter], threads: int, checks: int) -> float:
    """Checks per second with `threads` threads over as many counters, all for one principal."""
    counters = [make() for _ in range(threads)]
    start = threading.Barrier(threads + 1)

    def run(k: int) -> None:
        rng = random.Random(k)
        start.wait()
        for _ in range(checks):
            counters[k].check(PRINCIPALS[0], "school", f"{rng.getrandbits(256):064x}")

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    began = time.perf_counter()
    for w in workers:
        w.join()
    return threads * checks / (time.perf_counter() - began)


def line(name: str, us: float, base: float) -> None:
    print(f"  {name:<48} {us:9.1f} µs/check  ({us / base:6.1f} × in-memory)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checks", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pg-dsn", default=DEFAULT_DSN)
    args = ap.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs; "
          f"{args.checks} checks per round, median of {args.rounds} rounds", flush=True)
    root = Path(tempfile.mkdtemp(prefix="permitgw-quota-bench-"))
    try:
        data = DataDir(root / "data")
        datadir.init(data.root)
        base = statistics.median(per_check_us(QuotaTracker(SETTINGS, clock=Clock()), args.checks * 10)
                                 for _ in range(args.rounds))
        print(f"  {'in-memory QuotaTracker':<48} {base:9.1f} µs/check", flush=True)
        store = data.open_store()
        try:
            us = statistics.median(per_check_us(SharedQuotaCounter(SETTINGS, store, clock=Clock()), args.checks, r)
                                   for r in range(args.rounds))
            line("shared, SQLite (counts commit with synchronous=NORMAL)", us, base)
        finally:
            store.close()
        postgres_part(args, data, base)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def postgres_part(args: argparse.Namespace, data: DataDir, base: float) -> None:
    try:
        admin = psycopg.connect(args.pg_dsn, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        print(f"  PostgreSQL not reachable at {args.pg_dsn!r} ({exc}): its rows are not measured")
        return
    schema = f"bench_quota_{uuid.uuid4().hex[:12]}"
    stores: list[PostgresStore] = []

    def open_store() -> PostgresStore:
        stores.append(PostgresStore(args.pg_dsn, data.cipher(), schema))
        return stores[-1]

    shipped = postgres.QUOTA_BEGIN
    try:
        store = open_store()
        us = statistics.median(per_check_us(SharedQuotaCounter(SETTINGS, store, clock=Clock()), args.checks, r)
                               for r in range(args.rounds))
        line("shared, PostgreSQL (commit asynchronous: shipped)", us, base)
        postgres.QUOTA_BEGIN = shipped.replace("'synchronous_commit', 'off'", "'synchronous_commit', 'on'")
        us = statistics.median(per_check_us(SharedQuotaCounter(SETTINGS, store, clock=Clock()), args.checks, r)
                               for r in range(args.rounds))
        line("shared, PostgreSQL (commit synchronous)", us, base)
        postgres.QUOTA_BEGIN = shipped
        for threads in (4, 8):
            clock = Clock()
            rate = concurrent(lambda c=clock: SharedQuotaCounter(SETTINGS, open_store(), clock=c), threads,
                              args.checks // threads)
            print(f"  shared, PostgreSQL, {threads} replicas, one principal:  {rate:9.0f} checks/s "
                  f"({1e6 / rate:.1f} µs/check serialised)", flush=True)
    finally:
        postgres.QUOTA_BEGIN = shipped
        for s in stores:
            s.close()
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


if __name__ == "__main__":
    main()
