"""bench/audit_log.py's ceiling line: what the store alone allows T threads, said only when both figures exist."""
from __future__ import annotations

from pathlib import Path

from tests.helpers import script_module

ROOT = Path(__file__).resolve().parents[2]
bench = script_module(ROOT / "bench" / "audit_log.py", "bench_audit_log")


def test_the_ceiling_compares_the_threads_with_the_store_committing_batches_of_as_many() -> None:
    line = bench.ceiling_line({"AuditLog.append, 16 threads": 6_500.0, "append_accesses, batches of 16": 15_000.0,
                               "append_accesses, batches of 100": 23_000.0}, 16)
    assert line is not None
    assert "batches of 16 back to back (no callers, no signed checkpoint), makes 15,000/s" in line
    assert "from 16 threads makes 6,500/s, 0.43 of it" in line


def test_no_ceiling_without_the_batches_of_the_thread_count() -> None:
    assert bench.ceiling_line({"AuditLog.append, 16 threads": 6_500.0,
                               "append_accesses, batches of 100": 23_000.0}, 16) is None
    assert bench.ceiling_line({"append_accesses, batches of 16": 15_000.0}, 16) is None
