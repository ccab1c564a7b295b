"""Durable access-log appends (one fsync per entry vs group commit vs batches) and inclusion proofs at 1 M / 10 M.

Prints medians and ratios against baselines measured in the same run: one-entry transactions, and MemoryTree proofs.
The appends are measured on SQLite and, with --backends sqlite,postgres (the default when PostgreSQL answers at
127.0.0.1:5432, see bench/pg_bench.py), on PostgreSQL too — a fresh database of the run's own, dropped at the end
— side by side in one table, the backends taking turns. The proofs at 1 M / 10 M entries are SQLite only.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import psycopg
from pg_bench import LABEL, backends, own_database, use_postgres

from gateway import datadir
from gateway.audit.checkpoint import Checkpoint, sign_checkpoint
from gateway.audit.entry import AccessEntry, Decision, now_rfc3339
from gateway.audit.log import AuditLog, log_origin
from gateway.audit.rfc9162 import MemoryTree, inclusion_proof, leaf_hash, node_hash, root, verify_inclusion
from gateway.datadir import DataDir
from gateway.store.migrations_sqlite import BASE as SCHEMA  # its CREATE ... IF NOT EXISTS remake dropped indexes
from gateway.store.port import Store
from gateway.store.sql_core import ACCESS_COLS as _ACCESS_COLS
from gateway.store.sqlite import SqliteStore

PRINCIPAL = ("school/330203/3302030001", "school", "3302030001", "330203")
METHOD = "/permitgw.v1.PermitService/GetPermitStatus"
SUBJECT_POOL = 200_000  # distinct people looked up in the synthetic log


def entry(time_text: str, subject: str) -> AccessEntry:
    principal, role, org, district = PRINCIPAL
    return AccessEntry(time=time_text, principal=principal, serial="5a1c0ffee0ddba11", role=role, org=org,
                       district=district, method=METHOD, purpose="compulsory-education", case_id="B-1",
                       operator_id="op-7", subject=subject, decision=Decision.ALLOW, reason="",
                       policy_version="3f2a9c1e")


def entry_pool(n: int, seed: int) -> list[AccessEntry]:
    rng = random.Random(seed)
    return [entry(now_rfc3339(), rng.randbytes(32).hex()) for _ in range(n)]


def p99(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=100)[98] if len(xs) > 1 else xs[0]


def fresh_store(data: DataDir) -> SqliteStore:
    """An empty log in the same data directory (keys kept), so each measurement starts from size 0."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{data.database}{suffix}").unlink(missing_ok=True)
    data.migrate(create=True)  # open_store no longer creates a missing database (it would hide a lost log)
    store = data.open_store()
    assert isinstance(store, SqliteStore)
    return store


def fresh_pg_store(data: DataDir) -> Store:
    """An empty log in the data directory's PostgreSQL schema (dropped and created again), keys kept."""
    settings = data.store_settings()
    with psycopg.connect(settings["postgres_dsn"], autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{settings["postgres_schema"]}" CASCADE')
    data.migrate()
    return data.open_store()


def open_log(data: DataDir, store: Store) -> AuditLog:
    return AuditLog(store, log_origin((data.keys / "ca.crt").read_bytes()), data.signing_key(), every_entries=1000)


# ---------------------------------------------------------------------------------------------------------------
# 1. Durable appends
# ---------------------------------------------------------------------------------------------------------------


def naive(store: Store, pool: list[AccessEntry], seconds: float) -> float:
    """store.append_access in a loop: one transaction, one fsync per entry."""
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        store.append_access(pool[n % len(pool)])
        n += 1
    return n / (time.perf_counter() - t0)


def batched(store: Store, pool: list[AccessEntry], seconds: float, size: int) -> float:
    """store.append_accesses with `size` entries per transaction (the upper bound: no queue, no threads)."""
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n == 0:
        start = n % len(pool)
        chunk = pool[start:start + size]
        store.append_accesses(chunk + pool[:size - len(chunk)])
        n += size
    return n / (time.perf_counter() - t0)


def grouped(data: DataDir, store: Store, pool: list[AccessEntry], seconds: float,
            threads: int) -> tuple[float, list[float], float]:
    """AuditLog.append from `threads` threads: appends/s, each append's latency, mean entries per transaction."""
    log = open_log(data, store)
    lat: list[list[float]] = [[] for _ in range(threads)]

    def worker(i: int, stop: float) -> int:
        mine, k = lat[i], i * 7919
        while time.perf_counter() < stop:
            t = time.perf_counter()
            log.append(pool[k % len(pool)])
            mine.append(time.perf_counter() - t)
            k += 1
        return len(mine)

    appended, elapsed = closed_loop(threads, seconds, worker)
    batches = log.batches
    log.close()
    return appended / elapsed, [x for xs in lat for x in xs], appended / max(batches, 1)


def closed_loop(threads: int, seconds: float, worker: Callable[[int, float], int]) -> tuple[int, float]:
    """Run worker(i, stop) on `threads` threads started together; each works until perf_counter() reaches stop
    and says how many appends it made. All their appends, and the seconds they took."""
    done = [0] * threads
    start = threading.Barrier(threads + 1)
    stop = [0.0]

    def run(i: int) -> None:
        start.wait()
        done[i] = worker(i, stop[0])

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    t0 = time.perf_counter()
    stop[0] = t0 + seconds
    start.wait()
    for t in ts:
        t.join()
    return sum(done), time.perf_counter() - t0


def appends(root_dir: Path, seconds: float, rounds: int, threads: list[int], batch_sizes: list[int],
            stores: list[str], pg_dsn: str | None = None) -> None:
    """Every variant on every backend in `stores` (PostgreSQL: the database at pg_dsn), one table."""
    dirs: dict[str, DataDir] = {}
    for backend in stores:
        data = dirs[backend] = DataDir(root_dir / f"appends-{backend}")
        datadir.init(data.root)
        if backend == "postgres":
            assert pg_dsn is not None
            use_postgres(data.config_file, pg_dsn)
    pool = entry_pool(4096, seed=1)
    names = ["one entry per transaction", *(f"AuditLog.append, {t} threads" for t in threads),
             *(f"append_accesses, batches of {b}" for b in batch_sizes)]
    rates: dict[tuple[str, str], list[float]] = {(n, b): [] for n in names for b in stores}
    lat16: dict[str, list[tuple[float, float]]] = {b: [] for b in stores}
    per_batch: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):  # rounds interleave the variants (and backends) so machine noise hits them alike
        for name in names:
            for backend in stores:
                data = dirs[backend]
                store: Store = fresh_store(data) if backend == "sqlite" else fresh_pg_store(data)
                key = (name, backend)
                if name.startswith("one"):
                    rates[key].append(naive(store, pool, seconds))
                elif name.startswith("AuditLog"):
                    t = int(name.split(", ")[1].split()[0])
                    rate, lat, mean_batch = grouped(data, store, pool, seconds, t)
                    rates[key].append(rate)
                    per_batch.setdefault(key, []).append(mean_batch)
                    if t == 16:
                        lat16[backend].append((statistics.median(lat), p99(lat)))
                else:
                    rates[key].append(batched(store, pool, seconds, int(name.rsplit(" ", 1)[1])))
                store.close()
    base = {b: statistics.median(rates[(names[0], b)]) for b in stores}
    where = {"sqlite": "SQLite: WAL, synchronous=FULL", "postgres": "PostgreSQL: synchronous_commit=on"}
    print(f"durable appends ({'; '.join(where[b] for b in stores)}), fresh empty log each time, median of "
          f"{rounds} x {seconds:g} s:")
    cols = [(f"{LABEL[b]} appends/s" if b != "sqlite" or len(stores) > 1 else "appends/s",
             "ratio to one-per-txn", "entries per txn") for b in stores]
    both = len(stores) > 1
    head = "".join(f" {a} | {r} | {e} |" for a, r, e in cols) + (" PG / SQLite |" if both else "")
    print(f"| {'variant':<38} |{head}")
    print(f"| {'-' * 38} |" + "".join(f" {'-' * len(a)} | {'-' * len(r)} | {'-' * len(e)} |" for a, r, e in cols)
          + (f" {'-' * 11} |" if both else ""))
    for name in names:
        cells = []
        for backend, (a, r, e) in zip(stores, cols, strict=True):
            med = statistics.median(rates[(name, backend)])
            per = (f"{statistics.median(per_batch[(name, backend)]):.1f}" if (name, backend) in per_batch
                   else "1" if name.startswith("one") else name.rsplit(" ", 1)[1])
            cells.append(f" {med:>{len(a)},.0f} | {med / base[backend]:>{len(r)}.1f} | {per:>{len(e)}} |")
        pg_vs = ""
        if both:
            ratio = statistics.median(rates[(name, "postgres")]) / statistics.median(rates[(name, "sqlite")])
            pg_vs = f" {ratio:>11.2f} |"
        print(f"| {name:<38} |{''.join(cells)}{pg_vs}")
    for backend in stores:
        line = ceiling_line({n: statistics.median(rates[(n, backend)]) for n in names}, 16)
        if line:
            print(line + (f" ({LABEL[backend]})" if both else ""))
    for backend in stores:
        if lat16[backend]:
            label = f" ({LABEL[backend]})" if both or backend != "sqlite" else ""
            print(f"AuditLog.append latency at 16 threads{label}: median "
                  f"{statistics.median(m for m, _ in lat16[backend]) * 1e3:.2f} ms, "
                  f"p99 {statistics.median(p for _, p in lat16[backend]) * 1e3:.2f} ms (median over rounds); "
                  f"one-per-transaction append: {1e3 / base[backend]:.2f} ms each")


def ceiling_line(rates: dict[str, float], threads: int) -> str | None:
    """What the store allows T threads, when both figures were measured: T callers who each wait for their entry
    to be durable never form a batch of more than T, so one writer committing batches of T back to back, with no
    callers to hand off to or wake (and, as `batched` commits them, no signed checkpoint), is more than any hand-off
    to this store can reach at T threads."""
    grouped_rate = rates.get(f"AuditLog.append, {threads} threads")
    alone = rates.get(f"append_accesses, batches of {threads}")
    if grouped_rate is None or alone is None:
        return None
    return (f"at {threads} threads a batch holds at most {threads} entries: the store alone, committing batches of "
            f"{threads} back to back (no callers, no signed checkpoint), makes {alone:,.0f}/s; AuditLog.append from "
            f"{threads} threads makes {grouped_rate:,.0f}/s, {grouped_rate / alone:.2f} of it")


# ---------------------------------------------------------------------------------------------------------------
# 2. A store of N entries, built directly, and inclusion proofs on it
# ---------------------------------------------------------------------------------------------------------------


def canonical_template() -> tuple[bytes, bytes, bytes]:
    """Canonical bytes of a synthetic entry split around its time and subject (both ASCII: no JSON escaping)."""
    raw = entry("@@TIME@@", "@@SUBJECT@@").canonical_bytes()
    head, rest = raw.split(b"@@SUBJECT@@")
    middle, tail = rest.split(b"@@TIME@@")  # sorted keys: "subject" comes before "time"
    return head, middle, tail


def synthetic_time(i: int) -> str:
    """Entry i is 50 ms after entry i - 1, from 2026-11-01 UTC."""
    ms = i * 50
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    return f"2026-{11 + d // 30:02d}-{1 + d % 30:02d}T{h:02d}:{m:02d}:{s:02d}.{ms:03d}000Z"


def synthetic_rows(n: int, subjects: list[str], leaves: list[bytes], chunk: int = 100_000) -> Iterator[list[tuple]]:
    """access_log rows for entries 0..n-1 in chunks; each leaf hash is appended to `leaves` (and is honest)."""
    head, middle, tail = canonical_template()
    principal, role, org, district = PRINCIPAL
    fixed = entry("", "")
    rng = random.Random(n)
    for lo in range(0, n, chunk):
        rows = []
        for i in range(lo, min(n, lo + chunk)):
            subject, t = subjects[rng.randrange(len(subjects))], synthetic_time(i)
            leaf = leaf_hash(head + subject.encode() + middle + t.encode() + tail)
            leaves.append(leaf)
            rows.append((i + 1, leaf, t, principal, fixed.serial, role, org, district, METHOD, fixed.purpose,
                         fixed.case_id, fixed.operator_id, subject, fixed.decision, fixed.reason,
                         fixed.policy_version))
        yield rows


def build_store(data: DataDir, n: int) -> tuple[list[bytes], dict[str, float]]:
    """Fill access_log and merkle for n synthetic entries in big unjournalled transactions; return the leaves."""
    datadir.init(data.root)
    db = sqlite3.connect(str(data.database), isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")  # leave WAL: a multi-GB transaction would write it all twice
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-1000000")
    db.execute("DROP INDEX access_subject")  # recreated from SCHEMA after the load: a sort, not 10 M random inserts
    db.execute("DROP INDEX access_principal")
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    srng = random.Random(7)
    subjects = [srng.randbytes(32).hex() for _ in range(SUBJECT_POOL)]
    leaves: list[bytes] = []
    insert = f"INSERT INTO access_log (seq, leaf, {','.join(_ACCESS_COLS)}) VALUES (?, ?{', ?' * len(_ACCESS_COLS)})"
    db.execute("BEGIN")
    for rows in synthetic_rows(n, subjects, leaves):
        db.executemany(insert, rows)
    db.execute("COMMIT")
    timing["entries: generate, hash, insert"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    levels = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    timing["subtree hashes (node_hash)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    db.execute("BEGIN")
    for level, hashes in enumerate(levels):
        db.executemany("INSERT INTO merkle (level, idx, hash) VALUES (?, ?, ?)", zip(
            [level] * len(hashes), range(len(hashes)), hashes, strict=True))
    db.execute("COMMIT")
    timing["merkle rows insert"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    db.executescript(SCHEMA)  # IF NOT EXISTS: recreates exactly the two dropped indexes
    timing["access_log indexes"] = time.perf_counter() - t0
    merkle_rows = sum(len(h) for h in levels)
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    del levels
    return leaves, {**timing, "merkle_rows": merkle_rows}


class Counting:
    """A SubtreeSource that counts the look-ups a proof makes."""

    def __init__(self, source: SqliteStore | MemoryTree) -> None:
        self.source, self.calls = source, 0

    def subtree(self, level: int, index: int) -> bytes:
        self.calls += 1
        return self.source.subtree(level, index)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def available_bytes() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def proofs_at(root_dir: Path, n: int, proofs: int, seconds: float, rounds: int) -> None:
    need_disk = n * 500  # access_log ~330 B/entry with its indexes, merkle ~2 rows x ~60 B, and headroom
    free_disk = shutil.disk_usage(root_dir).free
    if need_disk > free_disk * 0.8:
        print(f"\n{n:,} entries: skipped, needs ~{need_disk / 1e9:.1f} GB of disk, {free_disk / 1e9:.1f} GB free")
        return
    data = DataDir(root_dir / f"log{n}")
    t_build = time.perf_counter()
    leaves, build = build_store(data, n)
    t_build = time.perf_counter() - t_build
    db_bytes = data.database.stat().st_size
    print(f"\n=== {n:,} entries: store built directly in {t_build:.0f} s, database {db_bytes / 1e9:.2f} GB "
          f"({build['merkle_rows']:,} merkle rows)")
    print("  build: " + "; ".join(f"{k} {v:.0f} s" for k, v in build.items() if k != "merkle_rows"))
    store = data.open_store()
    assert store.log_size() == n
    t_size = statistics.median(timed(store.log_size)[0] for _ in range(5))
    raw = sqlite3.connect(f"file:{data.database}?mode=ro", uri=True)
    t_max = statistics.median(timed(lambda: raw.execute("SELECT max(seq) FROM access_log").fetchone())[0]
                              for _ in range(5))
    raw.close()
    mem_ok = n * 2 * 110 < available_bytes() * 0.6  # leaf/node bytes objects + list slots, with headroom
    tree: MemoryTree | None = None
    if mem_ok:
        t_mem, tree = timed(lambda: MemoryTree(leaves))
        print(f"  MemoryTree(leaves) built in {t_mem:.0f} s")
    else:
        print(f"  MemoryTree skipped: ~{n * 2 * 110 / 1e9:.1f} GB needed, "
              f"{available_bytes() / 1e9:.1f} GB available")
    sources: dict[str, SqliteStore | MemoryTree] = {"SqliteStore": store}
    if tree is not None:
        sources["MemoryTree"] = tree
    roots = {name: root(n, s) for name, s in sources.items()}
    assert len(set(roots.values())) == 1, "store and memory roots differ"
    head = roots["SqliteStore"]
    root_times: dict[str, list[float]] = {name: [] for name in sources}
    for _ in range(50):
        for name, s in sources.items():
            root_times[name].append(timed(lambda s=s: root(n, s))[0])
    rng = random.Random(n + 1)
    indices = [rng.randrange(n) for _ in range(proofs)]
    for i in indices[:50]:  # the synthetic entries are honest: stored entry -> leaf hash -> merkle level 0
        (stored,) = list(store.access_entries_at(i + 1))
        assert leaf_hash(stored.canonical_bytes()) == leaves[i] == store.subtree(0, i)
    prove: dict[str, list[float]] = {name: [] for name in sources}
    verify: list[float] = []
    for i in indices:  # the two sources take turns proof by proof
        paths = []
        for name, s in sources.items():
            t, path = timed(lambda s=s, i=i: inclusion_proof(i, n, s))
            prove[name].append(t)
            paths.append(path)
        assert all(p == path for p in paths), f"the sources' proofs for {i} differ"
        tv, ok = timed(lambda i=i, path=path: verify_inclusion(leaves[i], i, n, path, head))
        assert ok, f"proof for {i} does not verify"
        verify.append(tv)
    lookups = []
    for i in indices:
        counter = Counting(store)
        inclusion_proof(i, n, counter)
        lookups.append(counter.calls)
    path_len = len(inclusion_proof(indices[0], n, store))
    print(f"  {proofs} random indices, proof length {path_len}; subtree look-ups per proof: "
          f"min {min(lookups)}, median {statistics.median(lookups):.0f}, max {max(lookups)}; "
          f"all {proofs} verify against root({n:,})")
    print(f"  log_size() (SELECT count(*), run by every append_accesses and every AuditLog batch): median "
          f"{t_size * 1e3:.1f} ms; SELECT max(seq) for comparison: {t_max * 1e3:.3f} ms")
    print(f"| {'operation':<34} | {'median µs':>9} | {'p99 µs':>8} | {'ratio to MemoryTree':>19} |")
    print(f"| {'-' * 34} | {'-' * 9} | {'-' * 8} | {'-' * 19} |")
    base = statistics.median(prove["MemoryTree"]) if tree is not None else None
    rbase = statistics.median(root_times["MemoryTree"]) if tree is not None else None
    for name in sources:
        med = statistics.median(prove[name])
        ratio = f"{med / base:.1f}" if base else "n/a"
        print(f"| inclusion_proof, {name:<17} | {med * 1e6:>9,.0f} | {p99(prove[name]) * 1e6:>8,.0f} | {ratio:>19} |")
    for name in sources:
        med = statistics.median(root_times[name])
        ratio = f"{med / rbase:.1f}" if rbase else "n/a"
        label = f"root({n:,}), {name}"
        print(f"| {label:<34} | {med * 1e6:>9,.0f} | "
              f"{p99(root_times[name]) * 1e6:>8,.0f} | {ratio:>19} |")
    print(f"| {'verify_inclusion':<34} | {statistics.median(verify) * 1e6:>9,.1f} | {p99(verify) * 1e6:>8,.1f} | "
          f"{'':>19} |")
    tree, leaves = None, []  # free the memory before the append runs
    sources.clear()
    gc.collect()
    appends_at(data, store, n, seconds, rounds)
    store.close()
    shutil.rmtree(data.root, ignore_errors=True)


def sign_head(data: DataDir, store: SqliteStore) -> None:
    """Sign and store a checkpoint of the whole log with the gateway's key, as its writer would have: the entries
    this benchmark put in directly (the built store, the batches of 100) are then the gateway's own. (AuditLog
    refuses to sign on top of entries no signature covers: rows somebody else wrote into its database.)"""
    size = store.log_size()
    origin = log_origin((data.keys / "ca.crt").read_bytes())
    head = Checkpoint(origin, size, root(size, store))
    store.add_checkpoint(size, head.root, sign_checkpoint(head, origin, data.signing_key()).decode("utf-8"))


def appends_at(data: DataDir, store: SqliteStore, n: int, seconds: float, rounds: int) -> None:
    """The same durable appends on this big log, against an empty log measured now (fresh data dir)."""
    small = DataDir(data.root.parent / f"small{n}")
    datadir.init(small.root)
    pool = entry_pool(4096, seed=2)
    results: dict[tuple[str, str], list[float]] = {}
    lat: dict[str, list[float]] = {}
    for _ in range(rounds):
        for where, d in (("empty", small), ("big", data)):
            s = fresh_store(d) if where == "empty" else store
            results.setdefault(("batches of 100", where), []).append(batched(s, pool, seconds, 100))
            sign_head(d, s)  # the log's writer signs only on top of a signed head of every entry it holds
            rate, ls, _ = grouped(d, s, pool, seconds, 16)
            results.setdefault(("AuditLog, 16 threads", where), []).append(rate)
            lat.setdefault(where, []).append(statistics.median(ls))
            if where == "empty":
                s.close()
    shutil.rmtree(small.root, ignore_errors=True)
    grown = store.log_size() - n
    print(f"  durable appends on this {n:,}-entry log vs an empty one, median of {rounds} x {seconds:g} s "
          f"({grown:,} entries added):")
    big = f"{n:,} log /s"
    w = len(big)
    print(f"| {'variant':<22} | {'empty log /s':>12} | {big} | {'ratio big/empty':>15} |")
    print(f"| {'-' * 22} | {'-' * 12} | {'-' * w} | {'-' * 15} |")
    for variant in ("batches of 100", "AuditLog, 16 threads"):
        e, b = (statistics.median(results[(variant, w)]) for w in ("empty", "big"))
        print(f"| {variant:<22} | {e:>12,.0f} | {b:>{w},.0f} | {b / e:>15.2f} |")
    print(f"  AuditLog.append median latency at 16 threads: empty {statistics.median(lat['empty']) * 1e3:.1f} ms, "
          f"{n:,} entries {statistics.median(lat['big']) * 1e3:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000", help="log sizes for the proof benchmark")
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each append measurement")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,4,16,64")
    ap.add_argument("--batches", default="16,100,1000",
                    help="batch sizes of append_accesses alone; 16 is the ceiling of 16 threads (ceiling_line)")
    ap.add_argument("--proofs", type=int, default=2000)
    ap.add_argument("--skip-appends", action="store_true")
    ap.add_argument("--backends", default=None,
                    help="stores the appends are measured on, comma-separated: sqlite, postgres (default: both if "
                         "PostgreSQL answers at 127.0.0.1:5432, else sqlite); proofs are SQLite only")
    args = ap.parse_args()
    stores = backends(args.backends) if not args.skip_appends else ["sqlite"]
    root_dir = Path(tempfile.mkdtemp(prefix="permitgw-log-bench-"))
    started = time.perf_counter()
    print(f"{_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, temp dir {root_dir}")
    print(f"load average (1, 5, 15 min) at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    try:
        if not args.skip_appends:
            with ExitStack() as pg:
                dsn = pg.enter_context(own_database()) if "postgres" in stores else None
                appends(root_dir, args.seconds, args.rounds, [int(t) for t in args.threads.split(",")],
                        [int(b) for b in args.batches.split(",")], stores, dsn)
        sizes = [int(s) for s in args.sizes.split(",") if s]
        if sizes and stores != ["sqlite"]:
            print("\n(inclusion proofs and appends on a big log: SQLite only)")
        for n in sizes:
            proofs_at(root_dir, n, args.proofs, args.seconds, args.rounds)
    finally:
        shutil.rmtree(root_dir, ignore_errors=True)
    print(f"load average (1, 5, 15 min) at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
