"""Where durable appends at 16 threads are lost: the access log's design taken apart, layer by layer, in one run.

`AuditLog.append` from T threads (the server's group commit) makes about half of the 20,000 appends/s the log is
asked for. This measures, with the same callers, the same entries and the same hand-off as the log (each caller
hashes its entry's leaf, queues it on a C-level queue and waits on a lock of its own; one writer thread takes what
is queued, commits it, wakes each caller and yields once), what each layer below the log allows:

- hand-off only: the writer commits nothing — the ceiling of any writer in this interpreter;
- a flat file: the batch's canonical entries appended to one file, one fdatasync per batch — the floor of a
  durable log kept as an append-only segment (no tables, no indexes; not what the gateway does);
- SQLite, entries only: one table keyed by sequence number (leaf and canonical bytes), WAL, synchronous=FULL,
  one COMMIT per batch — the store without the Merkle rows, the search indexes and the signed checkpoint;
- the access log: `AuditLog.append` on the gateway's own SQLite store (the baseline of the ratios).

Variants take turns round by round; medians. Nothing here is used by the gateway.
"""
from __future__ import annotations

import argparse
import os
import queue
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from audit_log import closed_loop, entry_pool, fresh_store, grouped

from gateway import datadir
from gateway.audit.entry import AccessEntry
from gateway.audit.log import _Pending
from gateway.datadir import DataDir

Commit = Callable[[list[_Pending]], None]


def through_handoff(pool: list[AccessEntry], threads: int, seconds: float, commit: Commit) -> tuple[float, float]:
    """T callers appending in a closed loop through the log's hand-off to a writer running `commit` per batch:
    appends/s and mean entries per batch."""
    q: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
    batches = [0]

    def writer() -> None:
        seq = 0
        while True:
            first = q.get()
            if first is None:
                return
            batch = [first]
            while True:
                try:
                    more = q.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    q.put(None)
                    break
                batch.append(more)
            commit(batch)
            batches[0] += 1
            for p in batch:
                p.finish(seq)
                seq += 1
            if len(batch) > 1:
                time.sleep(0)  # as AuditLog._commit: the callers just woken queue into the next batch

    def caller(i: int, stop: float) -> int:
        k, n = i * 7919, 0
        while time.perf_counter() < stop:
            p = _Pending(pool[k % len(pool)])
            q.put(p)
            if not p.wait(10.0):
                raise RuntimeError("the writer did not answer within 10 s")
            k, n = k + 1, n + 1
        return n

    w = threading.Thread(target=writer, name="writer")
    w.start()
    try:
        appended, elapsed = closed_loop(threads, seconds, caller)
    finally:
        q.put(None)
        w.join()
    return appended / elapsed, appended / max(batches[0], 1)


def handoff_only(_: Path) -> tuple[Commit, Callable[[], None]]:
    return (lambda batch: None), (lambda: None)


def flat_file(root: Path) -> tuple[Commit, Callable[[], None]]:
    path = root / "segment.log"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def commit(batch: list[_Pending]) -> None:
        os.write(fd, b"".join(p.entry.canonical_bytes() + b"\n" for p in batch))
        os.fdatasync(fd)

    return commit, lambda: os.close(fd)


def sqlite_entries(root: Path) -> tuple[Commit, Callable[[], None]]:
    path = root / "entries.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE entries (seq INTEGER PRIMARY KEY, leaf BLOB NOT NULL, body BLOB NOT NULL)")
    seq = [0]

    def commit(batch: list[_Pending]) -> None:
        first = seq[0]
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO entries (seq, leaf, body) VALUES (?, ?, ?)",
                       [(first + i, p.leaf, p.entry.canonical_bytes()) for i, p in enumerate(batch)])
        db.execute("COMMIT")
        seq[0] = first + len(batch)

    return commit, db.close


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.threads} threads, "
          f"{args.rounds} rounds x {args.seconds:g} s, medians", flush=True)
    root = Path(tempfile.mkdtemp(prefix="permitgw-floor-"))
    try:
        data = DataDir(root / "data")
        datadir.init(data.root)
        pool = entry_pool(4096, seed=11)
        layers: dict[str, Callable[[Path], tuple[Commit, Callable[[], None]]]] = {
            "hand-off only (nothing written)": handoff_only,
            "flat file, one fdatasync per batch": flat_file,
            "SQLite, entries only, one COMMIT per batch": sqlite_entries,
        }
        rates: dict[str, list[float]] = {name: [] for name in [*layers, "AuditLog.append (the access log)"]}
        sizes: dict[str, list[float]] = {name: [] for name in rates}
        for _ in range(args.rounds):
            for name, make in layers.items():
                commit, close = make(root)
                try:
                    rate, size = through_handoff(pool, args.threads, args.seconds, commit)
                finally:
                    close()
                rates[name].append(rate)
                sizes[name].append(size)
            store = fresh_store(data)
            try:
                rate, _, size = grouped(data, store, pool, args.seconds, args.threads)
            finally:
                store.close()
            rates["AuditLog.append (the access log)"].append(rate)
            sizes["AuditLog.append (the access log)"].append(size)
        base = statistics.median(rates["AuditLog.append (the access log)"])
        print("| layer | appends/s (rounds) | entries per batch | x the access log |")
        print("| --- | ---: | ---: | ---: |")
        for name, xs in rates.items():
            print(f"| {name} | {statistics.median(xs):,.0f} ({', '.join(f'{x:,.0f}' for x in xs)}) "
                  f"| {statistics.median(sizes[name]):.1f} | {statistics.median(xs) / base:.2f} |")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
