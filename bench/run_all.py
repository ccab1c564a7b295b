"""Run every benchmark in bench/ one after another (make bench); each prints its own ratios."""
from __future__ import annotations

import pathlib
import runpy
import sys

# used by the benchmarks, not benchmarks themselves
HELPERS = {"run_all.py", "echo_server.py", "load_client.py", "pg_bench.py"}

for path in sorted(pathlib.Path(__file__).parent.glob("*.py")):
    if path.name not in HELPERS:
        print(f"== {path.name}", flush=True)
        sys.argv = [str(path)]
        runpy.run_path(str(path), run_name="__main__")
