"""A SQLite server's memory at start against the size of the last day of its access log.

A single SQLite server keeps its quotas in memory and rebuilds them at start from the last 24 hours of the access log
(gateway/server/quota_choice.py), and its anomaly detector replays the same day: so its memory follows the day's
traffic, not the number of residents. For each size, a data directory gets that many allowed lookups from the last
20 hours (distinct people, spread over enough school certificates that none passes its daily quota, as in a real
day), its head is signed as the gateway's writer would have, and `permitgw serve` is started: its VmRSS once it
listens and its VmHWM (the peak during the rebuild), from /proc. The baseline is the same server on an empty log,
measured in the same run; the table gives the extra memory per entry of the day.

Run: .venv/bin/python bench/start_memory.py [--entries 0,100000,300000] [--rounds 2]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from audit_log import sign_head
from scale import memory_kb
from server_vs_echo import BIN, start

from gateway import datadir
from gateway.audit.entry import AccessEntry, Decision
from gateway.datadir import DataDir
from gateway.store.sqlite import SqliteStore

METHOD = "/permitgw.v1.PermitService/GetPermitStatus"
PER_PRINCIPAL = 800  # distinct people per school certificate in the day: below the shipped per_day quota of 1,000
DAY_SPAN = 20 * 3600.0  # the entries' times: the last 20 hours, inside the 24 hours the server rebuilds from


def lookups(n: int, now: _dt.datetime, seed: int) -> list[AccessEntry]:
    """n allowed GetPermitStatus entries of the last DAY_SPAN seconds, oldest first, each about a new person."""
    rng = random.Random(seed)
    schools = max(1, -(-n // PER_PRINCIPAL))
    first = now - _dt.timedelta(seconds=DAY_SPAN)
    out = []
    for i in range(n):
        org = f"3302{i % schools:06d}"
        when = first + _dt.timedelta(seconds=DAY_SPAN * i / max(n, 1))
        out.append(AccessEntry(time=when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), principal=f"school/330203/{org}",
                               serial="5a1c0ffee0ddba11", role="school", org=org, district="330203", method=METHOD,
                               purpose="compulsory-education", case_id=f"B-{i}", operator_id="op-7",
                               subject=rng.randbytes(32).hex(), decision=Decision.ALLOW, reason="",
                               policy_version="3f2a9c1e"))
    return out


def build(where: Path, n: int, seed: int) -> DataDir:
    data = DataDir(where)
    datadir.init(data.root)
    store = data.open_store()
    assert isinstance(store, SqliteStore)
    try:
        entries = lookups(n, _dt.datetime.now(_dt.UTC), seed)
        for lo in range(0, n, 5000):
            store.append_accesses(entries[lo:lo + 5000])
        if n:
            sign_head(data, store)
    finally:
        store.close()
    return data


def measure(data: DataDir) -> tuple[int, int]:
    """VmRSS once the server listens, and VmHWM, in kB."""
    proc, _ = start([str(BIN / "permitgw"), "serve", "--data", str(data.root), "--listen", "127.0.0.1:0"],
                    pinned=False)
    try:
        return memory_kb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", default="0,100000,300000", help="access-log entries of the last day, comma-separated")
    ap.add_argument("--rounds", type=int, default=2, help="server starts per size (sizes take turns)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    sizes = [int(s) for s in args.entries.split(",")]
    if 0 not in sizes:
        sizes.insert(0, 0)  # the baseline
    root = Path(tempfile.mkdtemp(prefix="permitgw-bench-startmem-"))
    print(f"{_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    print(f"command: {Path(sys.executable).name} {' '.join(sys.argv)}")
    print(f"load average (1, 5, 15 min) at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    try:
        dirs = {n: build(root / str(n), n, args.seed) for n in sizes}
        found: dict[int, list[tuple[int, int]]] = {n: [] for n in sizes}
        for _ in range(args.rounds):
            for n in sizes:
                found[n].append(measure(dirs[n]))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base_rss = statistics.median(r for r, _ in found[0])
    base_hwm = statistics.median(h for _, h in found[0])
    print(f"SQLite server at start, median of {args.rounds} starts (kB figures from /proc/PID/status, shown in MB):")
    print("| entries in the last day | VmRSS MB (starts) | VmHWM MB (starts) | RSS over the empty log, KB per entry "
          "| peak over the empty log, KB per entry |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for n in sizes:
        rss = statistics.median(r for r, _ in found[n])
        hwm = statistics.median(h for _, h in found[n])
        each = "; ".join(f"{r / 1024:.0f}" for r, _ in found[n])
        peaks = "; ".join(f"{h / 1024:.0f}" for _, h in found[n])
        per = f"{(rss - base_rss) / n:.2f}" if n else "–"
        per_peak = f"{(hwm - base_hwm) / n:.2f}" if n else "–"
        print(f"| {n:,} | {rss / 1024:.0f} ({each}) | {hwm / 1024:.0f} ({peaks}) | {per} | {per_peak} |")
    print(f"load average (1, 5, 15 min) at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
