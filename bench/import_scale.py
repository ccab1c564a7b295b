"""Import of N social-insurance contribution rows: time, rows/s and peak memory of the import process.

Baseline in the same run: a bare csv.reader pass over the same file. Target: 1,000,000
rows with peak RSS under 300 MB. Run: .venv/bin/python bench/import_scale.py [--rows N] [--again]
"""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gateway.synth.people import make_id

BIN = Path(sys.executable).parent


def write_contributions(path: Path, rows: int, seed: int = 9) -> None:
    """Plausible rows: ~40 people-months per person, pension and medical, some late and back-paid."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["AAC002", "AAC003", "AAB001", "AAB004", "AAE140", "AAE002", "AAE003", "AAA115"])
        written, person = 0, 0
        while written < rows:
            pid = make_id("340102", _dt.date(1970, 1, 1) + _dt.timedelta(days=person % 15000), person // 15000)
            person += 1
            start = 2020 * 12 + rng.randrange(0, 24)
            for m in range(start, start + 20):
                for ins in ("110", "310"):
                    if written >= rows:
                        break
                    month = f"{m // 12}{m % 12 + 1:02d}"
                    kind = rng.choices(("10", "21", "31"), (90, 7, 3))[0]
                    w.writerow([pid, "张三", "U330203001", "宁波某某有限公司", ins, month, month, kind])
                    written += 1


def _child_cpu() -> float:
    """User and system CPU seconds of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--again", action="store_true", help="import the file a second time (all duplicates)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="permitgw-import-bench-"))
    try:
        src = root / "sbjf_bench.csv"
        write_contributions(src, args.rows)
        size_mb = src.stat().st_size / 1e6

        t = time.perf_counter()
        with src.open(encoding="utf-8", newline="") as f:
            n = sum(1 for _ in csv.reader(f)) - 1
        baseline = time.perf_counter() - t

        subprocess.run([str(BIN / "permitgw"), "init", "--data", str(root / "d")], check=True, capture_output=True)
        cpu0 = _child_cpu()
        t = time.perf_counter()
        proc = subprocess.run([str(BIN / "permitgw"), "import", "--data", str(root / "d"), "--bureau", "hrss",
                               "--json", str(src)], check=True, capture_output=True, text=True)
        took = time.perf_counter() - t
        cpu = _child_cpu() - cpu0
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        summary = json.loads(proc.stdout)
        print(f"file: {n:,} rows, {size_mb:.0f} MB; load average {os.getloadavg()}")
        print(f"baseline csv.reader pass: {baseline:.1f} s ({n / baseline:,.0f} rows/s)")
        print(f"permitgw import:          {took:.1f} s ({n / took:,.0f} rows/s), ratio import/baseline "
              f"{took / baseline:.1f}")
        print(f"CPU time of the import process: {cpu:.1f} s ({n / cpu:,.0f} rows per CPU second; on a shared "
              "machine the wall-clock figure also counts waiting for the CPU and the disk)")
        print(f"peak RSS of the import process: {peak_mb:.0f} MB (limit 300 MB)")
        print(f"summary: {summary}")
        db = sum(p.stat().st_size for p in (root / "d").glob("gateway.db*")) / 1e6
        print(f"database size: {db:.0f} MB; load average {os.getloadavg()}")
        if args.again:  # the same file again: every row a duplicate, nothing doubled
            t = time.perf_counter()
            proc = subprocess.run([str(BIN / "permitgw"), "import", "--data", str(root / "d"), "--bureau", "hrss",
                                   "--json", str(src)], check=True, capture_output=True, text=True)
            took = time.perf_counter() - t
            print(f"the same file again:      {took:.1f} s ({n / took:,.0f} rows/s), summary: {proc.stdout.strip()}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
