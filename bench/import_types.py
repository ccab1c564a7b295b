"""Import rows/s for each kind of bureau file the adapters accept, against a bare csv.reader pass over the same file.

One synthetic population (gateway/synth), every file kind of every bureau in adapters/registry.py written with its
own writer, each imported into a fresh data directory by the importer itself (service/importer.import_files, as
`permitgw import` runs it, in this process so that interpreter start-up is not counted). Per file: rows, wall-clock
and CPU time (rows/s of each), the ratio to the csv.reader baseline measured in the same run, and the load average.
The contributions file (sbjf) has ~55 rows a person: it is written for as many people as give --contribution-rows.
Run: .venv/bin/python bench/import_types.py [--residents 20000] [--contribution-rows 100000] [--messy-rate 0]
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from adapters.registry import BUREAUS
from gateway.datadir import DataDir
from gateway.service.importer import import_files
from gateway.synth.mess import pick_encoding
from gateway.synth.people import SynthPerson, residents
from gateway.synth.write import BUREAU_FILES

BIN = Path(sys.executable).parent
ROWS_PER_PERSON_GUESS = 55  # contributions per insured resident, roughly: only a slice of people is written for sbjf


def _people_for(name: str, people: Sequence[SynthPerson], contribution_rows: int) -> Sequence[SynthPerson]:
    if not name.startswith("sbjf"):
        return people
    return people[:max(1, contribution_rows // ROWS_PER_PERSON_GUESS)]


def _baseline(path: Path, encoding: str) -> tuple[int, float]:
    """(data rows, seconds) of a bare csv.reader pass: reading and splitting only."""
    t = time.perf_counter()
    with path.open(encoding=encoding, newline="") as f:
        n = sum(1 for _ in csv.reader(f)) - 1
    return n, time.perf_counter() - t


def _import(root: Path, bureau: str, path: Path) -> tuple[dict[str, object], float, float]:
    """The import's summary, wall-clock seconds and CPU seconds, into a fresh data directory."""
    data = root / f"data-{path.stem}"
    subprocess.run([str(BIN / "permitgw"), "init", "--data", str(data)], check=True, capture_output=True)
    d = DataDir(data).require()
    store = d.open_store()
    try:
        cpu, t = time.process_time(), time.perf_counter()
        summary = import_files(store, bureau, [path], d.rejects, batch_size=d.config()["import"]["batch_size"])
        return summary.as_dict(), time.perf_counter() - t, time.process_time() - cpu
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--residents", type=int, default=20_000)
    ap.add_argument("--contribution-rows", type=int, default=100_000, help="about this many sbjf rows")
    ap.add_argument("--messy-rate", type=float, default=0.0, help="share of messy rows (some rejected)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="permitgw-import-types-"))
    try:
        people = residents(args.residents, args.seed)
        print(f"{args.residents} residents, messy rate {args.messy_rate}; load average at start "
              f"{os.getloadavg()}", flush=True)
        print(f"{'file':<6} {'bureau':<10} {'rows':>8} {'rejected':>8} {'csv rows/s':>11} {'import rows/s':>13} "
              f"{'rows/CPU s':>10} {'ratio':>6}")
        for bureau, files in BUREAU_FILES.items():
            assert bureau in BUREAUS, bureau
            for name, writer in files:
                path = root / name
                encoding = pick_encoding(args.seed, name, args.messy_rate)
                writer(path, _people_for(name, people, args.contribution_rows), seed=args.seed,
                       messy_rate=args.messy_rate, encoding=encoding)
                rows, baseline = _baseline(path, "utf-8-sig" if encoding == "utf-8" else encoding)
                summary, took, cpu = _import(root, bureau, path)
                print(f"{name.split('_')[0]:<6} {bureau:<10} {rows:>8} {summary['rejected']:>8} "
                      f"{rows / baseline:>11,.0f} {rows / took:>13,.0f} {rows / cpu:>10,.0f} "
                      f"{took / baseline:>6.1f}", flush=True)
                path.unlink()
        print("ratio: import wall-clock time / csv.reader pass; rows/CPU s: the import's own CPU time (this process)."
              f" Load average at end {os.getloadavg()}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
