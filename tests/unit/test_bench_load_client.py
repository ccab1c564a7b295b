"""The load client's arithmetic (bench/load_client.py): nearest-rank percentiles and server CPU from /proc stat text.

bench/ is not a package, so the module is loaded from its file.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import script_module

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    return script_module(ROOT / "bench" / "load_client.py", "bench_load_client")


lc = _load()

# /proc/<pid>/stat of a process named "a) b (c" (a name may hold spaces and parentheses): utime 1234, stime 56.
STAT = ("4242 (a) b (c) S 1 4242 4242 0 -1 4194560 2811 0 0 0 1234 56 7 8 20 0 17 0 9057 "
        "1034752000 23555 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 0 0 0 0 0 0")


def test_cpu_ticks_are_utime_plus_stime_counted_from_the_last_parenthesis() -> None:
    assert lc.stat_cpu_ticks(STAT) == 1234 + 56


def test_cpu_ticks_of_a_plain_name() -> None:
    plain = STAT.replace("(a) b (c)", "(permitgw)")
    assert lc.stat_cpu_ticks(plain) == 1290


def test_children_cpu_fields_are_not_counted() -> None:
    """cutime/cstime (fields 16 and 17: 7 and 8 above) belong to reaped children, not to this process."""
    changed = STAT.replace(" 1234 56 7 8 ", " 1234 56 700 800 ")
    assert lc.stat_cpu_ticks(changed) == 1290


def test_cpu_per_call_is_the_difference_over_the_calls_in_microseconds() -> None:
    assert lc.cpu_us_per_call(10.0, 10.5, 1000) == pytest.approx(500.0)
    assert math.isnan(lc.cpu_us_per_call(10.0, 10.5, 0))


def test_the_tree_holds_this_process_and_its_children() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert {os.getpid(), child.pid} <= set(lc.process_tree(os.getpid()))
    finally:
        assert child.stdin is not None
        child.stdin.close()
        assert child.wait(timeout=30) == 0


def test_cpu_of_this_process_grows_as_it_works() -> None:
    pid = os.getpid()
    before = lc.tree_cpu_seconds(pid)
    budget = time.process_time() + 5  # this process's own CPU clock, not the wall clock
    while lc.tree_cpu_seconds(pid) == before and time.process_time() < budget:
        pass
    assert lc.tree_cpu_seconds(pid) > before


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert lc.percentile(values, 50) == 50.0
    assert lc.percentile(values, 99) == 99.0
    assert lc.percentile(values, 100) == 100.0
    assert lc.percentile([7.0], 99) == 7.0
    assert lc.percentile([1.0, 2.0], 50) == 1.0
    assert lc.percentile([1.0, 2.0], 51) == 2.0


def test_p99_of_a_thousand_values_is_the_990th() -> None:
    values = [i / 1000 for i in range(1000)]
    assert lc.percentile(values, 99) == values[989]


@pytest.mark.parametrize("q", [0, -1, 101])
def test_percentile_outside_its_range_is_refused(q: float) -> None:
    with pytest.raises(ValueError, match="percentile"):
        lc.percentile([1.0], q)


def test_percentile_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        lc.percentile([], 50)


def test_result_figures() -> None:
    r = lc.Result(calls=4, seconds=2.0, latencies=[0.001, 0.002, 0.003, 0.010])
    assert (r.rate, r.p50, r.p99) == (2.0, 0.002, 0.010)
    assert math.isnan(lc.Result(calls=0, seconds=1.0, latencies=[]).p99)
