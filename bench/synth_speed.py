"""How fast `permitgw synth` writes every bureau's files: residents per second at 10k and 100k residents.

Target: 100,000 residents in under 60 s on a 2-core machine. Prints rows per file too (sbjf is the largest).
Run: .venv/bin/python bench/synth_speed.py [--residents 10000 100000] [--messy-rate 0.05]
"""
from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from gateway.synth.write import write_all


def run(residents: int, messy_rate: float) -> None:
    out = Path(tempfile.mkdtemp(prefix="synth-speed-"))
    try:
        start = time.perf_counter()
        written = write_all(out, residents=residents, seed=1, messy_rate=messy_rate)
        seconds = time.perf_counter() - start
        size = sum(p.stat().st_size for p in written) / 1e6
        rows = ", ".join(f"{p.name.split('_')[0]} {n}" for p, n in written.items())
        print(f"{residents:>7} residents, messy {messy_rate}: {seconds:6.1f} s, {residents / seconds:8.0f} residents/s,"
              f" {sum(written.values())} rows, {size:.0f} MB ({rows})", flush=True)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--messy-rate", type=float, default=0.05)
    args = parser.parse_args()
    for n in args.residents:
        run(n, args.messy_rate)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:.0f} MB")


if __name__ == "__main__":
    main()
