"""Where a call's server CPU goes under real load: thread-CPU µs per stage of the request path, per thread kind.

bench/call_instructions.py counts instructions (exact, but valgrind runs threads one at a time, so the log's batches
and every wait differ from a real run). This benchmark measures the real run instead: `permitgw serve` (pinned to
the server core, on the data directory bench/server_vs_echo.py prepares) is started through this file, which first
wraps named functions of the installed gateway (STAGES below) so that each adds the CPU time its thread spent in it
(CLOCK_THREAD_CPUTIME_ID) to a total; the load client of bench/load_client.py then drives each method for --seconds
at --concurrency, and the totals of that window are printed per call, with the CPU of each kind of thread (gRPC's
worker threads, its polling thread, the access log's writer, gRPC's C-core threads) read from /proc.

Stages nest (gate.answer includes gate.log, which includes auditlog.append…): each figure is inclusive. Thread CPU
counts a thread's own CPU, user and kernel, not its waits: the work of taking the GIL back after a SQLite step or a
lock wait shows in the stage that gave it up. Each wrapped call adds two clock reads (~0.3 µs); the writer's stages
run once per batch (their "/call" column says how often). With --backend postgres the gateway serves a fresh
PostgreSQL database of the run's own, as in server_vs_echo.py (PostgreSQL's own CPU is not counted).
Run: .venv/bin/python bench/call_stages.py [--seconds 4] [--concurrency 16] [--backend sqlite|postgres]
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

STAGES = [  # (module, owner in it or "" for a module function, function, label)
    ("gateway.server.intake", "Intake", "intercept_service", "intake.intercept_service (polling thread)"),
    ("gateway.server.permit_service", "PermitService", "GetPermitStatus", "handler GetPermitStatus"),
    ("gateway.server.entitlement_service", "EntitlementService", "CheckEnrollment", "handler CheckEnrollment"),
    ("gateway.server.gate", "Gate", "admit_peer", "gate.admit_peer"),
    ("gateway.server.gate", "Gate", "authenticate_peer", "gate.authenticate_peer"),
    ("gateway.server.gate", "", "context_id", "gate.context_id"),
    ("gateway.server.gate", "Gate", "_check_quota", "gate._check_quota"),
    ("gateway.watch.quotas", "QuotaTracker", "check", "quotas.check"),
    ("gateway.watch.shared_quotas", "SharedQuotaCounter", "check", "shared_quotas.check (PostgreSQL)"),
    ("gateway.watch.shared_quotas", "SharedQuotaCounter", "_check_batch", "shared_quotas: a transaction"),
    ("gateway.store.sql_core", "SqlStore", "latest_district", "store.latest_district"),
    ("gateway.store.sql_core", "SqlStore", "permits", "store.permits"),
    ("gateway.store.sql_core", "SqlStore", "guardianships", "store.guardianships"),
    ("gateway.store.sql_core", "SqlStore", "facts", "store.facts"),
    ("gateway.server.gate", "Gate", "answer", "gate.answer"),
    ("gateway.server.gate", "", "project", "projection.project"),
    ("gateway.server.gate", "Gate", "log", "gate.log"),
    ("gateway.server.gate", "", "access_entry", "access.access_entry"),
    ("gateway.audit.log", "AuditLog", "append_leaf", "auditlog.append_leaf (hand-off and wait)"),
    ("gateway.watch.anomalies", "AnomalyDetector", "observe", "anomalies.observe"),
    ("gateway.watch.shared_anomalies", "SharedAnomalyDetector", "observe", "shared_anomalies.observe (PostgreSQL)"),
    ("gateway.watch.shared_anomalies", "SharedAnomalyDetector", "_count_batch", "shared_anomalies: a transaction"),
    ("gateway.server.metrics", "Metrics", "count", "metrics.count"),
    ("gateway.server.metrics", "Metrics", "time", "metrics.time"),
    ("gateway.audit.log", "AuditLog", "attest", "auditlog.attest"),
    ("gateway.audit.log", "AuditLog", "_commit", "auditlog._commit (writer, per batch)"),
    ("gateway.store.sql_core", "SqlStore", "append_accesses", "store.append_accesses (writer, per batch)"),
]
METHODS = {"GetPermitStatus": "handler GetPermitStatus", "CheckEnrollment": "handler CheckEnrollment"}


# --- inside the server's process -------------------------------------------------------------------------------
def _serve(control: Path, argv: list[str]) -> None:
    """Wrap the stages, watch `control` for `on` (zero the totals) and `off` (write them to totals.json), serve."""
    import importlib

    spent: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    counting = threading.Event()
    clock = time.thread_time_ns

    def wrap(fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                if counting.is_set():
                    spent[label] += clock() - t0
                    calls[label] += 1
        return timed

    for module_name, owner_name, name, label in STAGES:
        module = importlib.import_module(module_name)
        owner = getattr(module, owner_name) if owner_name else module
        setattr(owner, name, wrap(getattr(owner, name), label))

    def thread_cpu() -> dict[int, int]:
        out = {}
        for tid in os.listdir("/proc/self/task"):
            try:
                fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # the thread ended meanwhile
                continue
            out[int(tid)] = (int(fields[11]) + int(fields[12])) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
        return out

    def watch() -> None:
        start: dict[int, int] = {}
        while True:
            if (control / "on").exists():
                spent.clear()
                calls.clear()
                start = thread_cpu()
                counting.set()
                (control / "on").unlink()
            if (control / "off").exists():
                counting.clear()
                names = {t.native_id: t.name for t in threading.enumerate()}
                kinds: Counter[str] = Counter()
                for tid, ns in thread_cpu().items():
                    name = names.get(tid, "")
                    kind = ("gRPC worker threads" if name.startswith("ThreadPoolExecutor") else
                            "gRPC polling thread" if name.endswith("(_serve)") else
                            "access log writer" if name == "audit-log" else
                            "gRPC C-core threads" if not name else f"other ({name})")
                    kinds[kind] += ns - start.get(tid, 0)
                (control / "totals.tmp").write_text(json.dumps({"spent": spent, "calls": calls, "threads": kinds}))
                (control / "totals.tmp").rename(control / "totals.json")
                (control / "off").unlink()
            time.sleep(0.02)

    threading.Thread(target=watch, name="bench-stages", daemon=True).start()
    from gateway.cli.main import main as permitgw

    sys.argv = ["permitgw", *argv]
    permitgw()


# --- the driver -------------------------------------------------------------------------------------------------
def _ask(control: Path, what: str, seconds: float = 30.0) -> None:
    (control / what).touch()
    deadline = time.monotonic() + seconds
    while (control / what).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"the server did not take '{what}' within {seconds:g} s")
        time.sleep(0.01)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        _serve(Path(sys.argv[2]), sys.argv[3:])
        return
    import datetime as _dt
    import platform

    from load_client import run
    from pg_bench import own_database
    from server_vs_echo import ENROL, PERMIT, check_answers, prepare, prepare_postgres, shut_down, start

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite",
                    help="the gateway's store (postgres: a database of the run's own at 127.0.0.1:5432, whose server's "
                         "CPU is not counted: only the gateway's threads)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="permitgw-bench-stages-"))
    control = root / "control"
    control.mkdir()
    procs = []
    cleanup = ExitStack()
    try:
        data, school, requests = prepare(root)
        if args.backend == "postgres":
            data = prepare_postgres(root, data, cleanup.enter_context(own_database()))  # dropped last
        load = os.getloadavg()
        gateway, address = start([sys.executable, __file__, "--serve", str(control), "serve", "--data",
                                  str(data.root), "--listen", "127.0.0.1:0"], pinned=True)
        procs.append(gateway)
        check_answers(address, school, requests)
        print(f"{_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, server "
              f"pinned to core 0; {args.backend}; {args.concurrency} in flight, {args.seconds:g} s per method; load "
              f"average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        for name, method in (("GetPermitStatus", PERMIT), ("CheckEnrollment", ENROL)):
            run(address, school, method, requests[name], concurrency=args.concurrency, seconds=1.0, warmup=0.5)
            _ask(control, "on")
            result = run(address, school, method, requests[name], concurrency=args.concurrency, seconds=args.seconds,
                         warmup=0.0)
            _ask(control, "off")
            totals = json.loads((control / "totals.json").read_text())
            (control / "totals.json").unlink()
            n = totals["calls"].get(METHODS[name], 0)
            if not n:
                raise SystemExit(f"{name}: no call was counted")
            print(f"\n{name}: {result.rate:,.0f} calls/s, {n:,} calls counted, non-OK {dict(result.errors) or 0}")
            print("| stage (inclusive) | thread-CPU µs per call | times per call |")
            print("| --- | ---: | ---: |")
            for label, ns in sorted(totals["spent"].items(), key=lambda kv: -kv[1]):
                print(f"| {label} | {ns / 1000 / n:,.1f} | {totals['calls'][label] / n:.2f} |")
            print("| **threads** | | |")
            for kind, ns in sorted(totals["threads"].items(), key=lambda kv: -kv[1]):
                if ns:
                    print(f"| {kind} | {ns / 1000 / n:,.1f} | |")
        print(f"\nload average after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shut_down(procs, cleanup, root)


if __name__ == "__main__":
    main()
