"""Run every benchmark in bench/ one after another (`make bench`); each prints its own ratios.

`make bench` runs each with its defaults (sizes that take minutes). `make bench ARGS=--full` runs the sizes
docs/benchmarks.md reports (an hour or more: 5 M-row imports, a 5 M-resident city, a 10 M-entry log);
`ARGS="--only scale,audit_log"` runs some of them. Every benchmark is preceded by the machine, the time and the
load average, and followed by the load average and its duration: a figure taken while the load average is well
above zero was shared with something else — run it again.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import runpy
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Used by the benchmarks, not benchmarks themselves.
HELPERS = {"run_all.py", "echo_server.py", "load_client.py", "pg_bench.py"}
# The arguments of the figures in docs/benchmarks.md; a benchmark not named here runs with its defaults.
FULL: dict[str, list[str]] = {
    "audit_log.py": ["--sizes", "1000000,10000000"],
    "import_scale.py": ["--rows", "100000,1000000,5000000"],
    "scale.py": ["--scales", "10000,1000000,5000000"],
    "server_vs_echo.py": ["--concurrency", "1,16,64", "--rounds", "3"],
}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the sizes docs/benchmarks.md reports (long)")
    ap.add_argument("--only", default="", help="comma-separated benchmark names (without .py) to run")
    args = ap.parse_args()
    only = {f"{n.strip()}.py" for n in args.only.split(",") if n.strip()}
    scripts = [p for p in sorted(HERE.glob("*.py")) if p.name not in HELPERS and (not only or p.name in only)]
    unknown = only - {p.name for p in scripts}
    if unknown:
        raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))}")
    print(f"# {platform.node()}: {os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}, "
          f"{'--full' if args.full else 'default sizes'}", flush=True)
    failed: list[str] = []
    sys.path.insert(0, str(HERE))  # the benchmarks import their helpers (load_client, echo_server) by name
    for path in scripts:
        argv = FULL.get(path.name, []) if args.full else []
        started = time.monotonic()
        print(f"\n== {path.name} {' '.join(argv)}\n"
              f"   {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC, load average (1, 5, 15 min) {load()}", flush=True)
        sys.argv = [str(path), *argv]
        try:
            runpy.run_path(str(path), run_name="__main__")
        except SystemExit as exc:  # one broken benchmark must not cost the others' figures
            if exc.code not in (None, 0):
                failed.append(path.name)
                print(f"   {path.name} stopped: {exc.code}", flush=True)
        except Exception:
            failed.append(path.name)
            traceback.print_exc()
        print(f"   {path.name} took {time.monotonic() - started:.0f} s; load average now {load()}", flush=True)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
