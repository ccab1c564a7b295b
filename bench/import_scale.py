"""Import of N social-insurance contribution rows: time, rows/s and peak memory of the import process.

Each size is imported --rounds times, each into a fresh data directory; the import's own CPU time (os.wait4) and
peak RSS (its /proc VmHWM) are its process's alone. Baseline in the same run: a bare csv.reader pass over the same
file; rows per CPU second at each size is also given as a ratio to the first size (flat: within 20 %). Goals:
>= 50,000 rows per CPU second, peak RSS under 300 MB.
Run: .venv/bin/python bench/import_scale.py [--rows 100000,1000000,5000000] [--rounds 2]
"""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
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


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _peak_rss_mb(pid: int) -> float:
    """VmHWM of a running process (MB): its own peak since its exec, 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _import(data: Path, src: Path) -> tuple[float, float, float, dict[str, object]]:
    """`permitgw import` of src into data in a child process: wall seconds, its CPU seconds (os.wait4: this child's
    alone), its peak RSS in MB, and its JSON summary. The peak is the child's VmHWM, read every 0.1 s while it runs:
    rusage's ru_maxrss would count the image the child was forked from (a big benchmark process, under run_all)."""
    peak = [0.0]
    t = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen([str(BIN / "permitgw"), "import", "--data", str(data), "--bureau", "hrss", "--json",
                                 str(src)], stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(0.1):
                peak[0] = max(peak[0], _peak_rss_mb(proc.pid))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        out = proc.stdout.read()
        peak[0] = max(peak[0], _peak_rss_mb(proc.pid))  # stdout closed: the import has finished its work
        _, status, usage = os.wait4(proc.pid, 0)  # reaped here, so that its usage is this child's alone
        stop.set()
        watcher.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        took = time.perf_counter() - t
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"permitgw import failed ({proc.returncode}): {err.read().strip()}")
    return took, usage.ru_utime + usage.ru_stime, peak[0], json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="1000000", help="comma-separated file sizes, e.g. 100000,1000000,5000000")
    ap.add_argument("--rounds", type=int, default=2, help="imports of each file, each into a fresh data directory")
    ap.add_argument("--again", action="store_true", help="import the file a second time (all duplicates)")
    args = ap.parse_args()
    sizes = [int(n) for n in args.rows.split(",")]
    print(f"load average at start {_load()}")
    lines = ["| rows | round | wall s | rows/s (wall) | CPU s | rows per CPU second | ratio to the first size "
             "| peak RSS | database | csv.reader pass |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    first: float | None = None
    for rows in sizes:
        root = Path(tempfile.mkdtemp(prefix="permitgw-import-bench-"))
        try:
            src = root / "sbjf_bench.csv"
            write_contributions(src, rows)
            size_mb = src.stat().st_size / 1e6
            for r in range(1, args.rounds + 1):
                t = time.perf_counter()
                with src.open(encoding="utf-8", newline="") as f:
                    n = sum(1 for _ in csv.reader(f)) - 1
                baseline = time.perf_counter() - t
                data = root / f"d{r}"
                subprocess.run([str(BIN / "permitgw"), "init", "--data", str(data)], check=True,
                               capture_output=True)
                took, cpu, peak_mb, summary = _import(data, src)
                per_cpu = n / cpu
                first = first or per_cpu
                db = sum(p.stat().st_size for p in data.glob("gateway.db*")) / 1e6
                print(f"{n:,} rows ({size_mb:.0f} MB), round {r}: {took:.1f} s wall, {cpu:.1f} s CPU, "
                      f"{per_cpu:,.0f} rows per CPU second, peak RSS {peak_mb:.0f} MB; summary {summary}; "
                      f"load average {_load()}", flush=True)
                lines.append(f"| {n:,} | {r} | {took:.1f} | {n / took:,.0f} | {cpu:.1f} | {per_cpu:,.0f} | "
                             f"{per_cpu / first:.2f} | {peak_mb:.0f} MB | {db:,.0f} MB | {n / baseline:,.0f} rows/s |")
                if args.again and r == 1:  # the same file again: every row a duplicate, nothing doubled
                    took, cpu, _, summary = _import(data, src)
                    print(f"the same file again: {took:.1f} s ({n / took:,.0f} rows/s), summary: {summary}")
                shutil.rmtree(data, ignore_errors=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print("\n".join(lines))
    print(f"load average at end {_load()} (goal: >= 50,000 rows per CPU second, flat within 20 %, "
          "peak RSS < 300 MB)")


if __name__ == "__main__":
    main()
