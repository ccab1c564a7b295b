"""The gateway against a bare gRPC echo server: calls/s, ratio, p50, p99 and server CPU per call, one run.

A synthetic data directory (1,000 residents, PSB registrations and permits imported, one school certificate in
the district of an entitled child's guardian) serves both: `permitgw serve` (one process, the gateway as
shipped, except [server] calls_per_principal and max_calls raised to 128 so that one certificate at
concurrency 64 is not refused — the limits are still checked on every call), and bench/echo_server.py (same
keys, same mutual TLS, same thread count, /bench.Echo/Echo returning the GetPermitStatus request's bytes).
Both servers are pinned to core 0 and this process — the asyncio load client of bench/load_client.py, 4
channels — to core 1. For each concurrency (1, 16, 64) the three targets take turns, round after round, so
machine noise hits them alike; every figure is the median of its rounds. Every answer the gateway gives is
checked once before measuring (GetPermitStatus OK, CheckEnrollment ENTITLED) and every non-OK answer during
measurement is counted and shown. Server CPU µs per call is utime + stime of the server's process tree over the
measured window divided by the calls answered in it.
With --backends sqlite,postgres (the default when PostgreSQL answers at 127.0.0.1:5432, see bench/pg_bench.py) a
second gateway serves a copy of the data directory (same keys, same certificate) whose store is a fresh
PostgreSQL database of the run's own (permitgw_bench_<pid>, dropped at the end), the same residents imported into
it; its two methods join the turns and the table. The PostgreSQL server's processes are not pinned; their CPU
(the backends connected to that database, from pg_stat_activity and /proc) is added to the gateway's in server
CPU µs/call and shown on its own in "of which PG".
Run: .venv/bin/python bench/server_vs_echo.py [--seconds 3] [--warmup 1] [--rounds 2] [--concurrency 1,16,64]
     [--backends sqlite,postgres]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import grpc
from echo_server import METHOD as ECHO_METHOD
from load_client import CpuProbe, Result, credentials, run
from pg_bench import LABEL, BackendCpu, backends, own_database, use_postgres

from gateway import datadir
from gateway.datadir import DataDir
from gateway.domain import clock
from gateway.identity.ca import issue_client
from gateway.identity.principal import Principal
from gateway.service.importer import import_files
from gateway.synth import psb
from gateway.synth.people import SynthPerson, residents
from permitgw.v1 import common_pb2, entitlement_pb2, permit_pb2

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
SERVER_CORE, CLIENT_CORE = 0, 1
PERMIT = "/permitgw.v1.PermitService/GetPermitStatus"
ENROL = "/permitgw.v1.EntitlementService/CheckEnrollment"
CTX = common_pb2.RequestContext(purpose="compulsory-education", case_id="B-1", operator_id="B")


def _of_age(p: SynthPerson) -> bool:
    cutoff = _dt.date(clock.today().year, 8, 31)
    age = cutoff.year - p.birth.year - ((cutoff.month, cutoff.day) < (p.birth.month, p.birth.day))
    return 6 <= age <= 15


def raise_limits(data: DataDir, to: int = 128) -> None:
    """[server] calls_per_principal and max_calls raised to `to` in the data directory's config.toml, so that one
    certificate at high concurrency is not refused (the limits are still checked on every call)."""
    config = data.config_file.read_text()
    for key in ("calls_per_principal", "max_calls"):
        config, n = re.subn(rf"^{key} = \d+", f"{key} = {to}", config, flags=re.M)
        if n != 1:
            raise SystemExit(f"{data.config_file}: no {key} line to raise")
    data.config_file.write_text(config)


def prepare(root: Path) -> tuple[DataDir, Path, dict[str, bytes]]:
    """The data directory (SQLite), the school's certificate prefix, and the serialised request of each method."""
    data = DataDir(root / "data")
    datadir.init(data.root)
    raise_limits(data)
    people = residents(1000, seed=3)
    psb.write(root / "jzdj.csv", people, seed=3)
    store = data.open_store()
    import_files(store, "psb", [root / "jzdj.csv"], data.rejects)
    store.close()
    today = clock.today()
    child = next(p for p in people if p.guardian and _of_age(p) and p.guardian.permit_state == "1"
                 and p.guardian.permit_valid_until >= today)
    assert child.guardian is not None
    holder = next(p for p in people if p.permit_state == "1" and p.permit_valid_until >= today)
    district = child.guardian.district
    school = root / "school"
    issue_client(data.keys, Principal("school", f"{district}0001", "bench school", district), school)
    requests = {
        "GetPermitStatus": permit_pb2.GetPermitStatusRequest(context=CTX, id_number=holder.id_number)
        .SerializeToString(),
        "CheckEnrollment": entitlement_pb2.CheckEnrollmentRequest(
            context=CTX, child_id_number=child.id_number, guardian_id_numbers=[child.guardian.id_number])
        .SerializeToString(),
    }
    return data, school, requests


def prepare_postgres(root: Path, sqlite_data: DataDir, dsn: str) -> DataDir:
    """A copy of the SQLite data directory (keys, config, policy) whose store is PostgreSQL at dsn, with the same
    registrations imported."""
    data = DataDir(root / "data-pg")
    shutil.copytree(sqlite_data.root, data.root, ignore=shutil.ignore_patterns("gateway.db*"))
    use_postgres(data.config_file, dsn)
    data.migrate()
    store = data.open_store()
    import_files(store, "psb", [root / "jzdj.csv"], data.rejects)
    store.close()
    return data


def _pin_to_server_core() -> None:
    os.sched_setaffinity(0, {SERVER_CORE})


def pin_tree(pid: int, core: int) -> None:
    """Pin every thread of pid (threads and processes started later inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), {core})


def start(argv: list[str], pinned: bool) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            preexec_fn=_pin_to_server_core if pinned else None)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"serving on (\S+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"{argv[0]} did not start: {line!r}")
    if pinned:
        pin_tree(proc.pid, SERVER_CORE)
    return proc, m.group(1)


def shut_down(procs: list[subprocess.Popen[str]], cleanup: ExitStack, root: Path, wait: float = 60.0) -> None:
    """Stop the servers (SIGTERM, then kill after `wait` s), then what `cleanup` holds (a PostgreSQL database, after
    its gateway stopped), then remove the run's directory."""
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            proc.kill()
    try:
        cleanup.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def check_answers(address: str, school: Path, requests: dict[str, bytes]) -> None:
    """One call of each method, decoded: the bench measures real answers, not refusals."""
    with grpc.secure_channel(address, credentials(school),
                             options=[("grpc.ssl_target_name_override", "localhost")]) as ch:
        permit = permit_pb2.GetPermitStatusResponse.FromString(ch.unary_unary(PERMIT)(requests["GetPermitStatus"],
                                                                                      timeout=30))
        enrol = entitlement_pb2.CheckEnrollmentResponse.FromString(
            ch.unary_unary(ENROL)(requests["CheckEnrollment"], timeout=30))
    if not permit.ByteSize():
        raise SystemExit("GetPermitStatus answered an empty message")
    if enrol.decision != entitlement_pb2.ENROLLMENT_DECISION_ENTITLED:
        raise SystemExit(f"CheckEnrollment did not answer ENTITLED: {enrol}")


def _target(name: str, backend: str) -> str:
    return f"{name} ({LABEL[backend]})"


def table(results: dict[tuple[str, int], list[Result]], concurrency: list[int], stores: list[str]) -> list[str]:
    """One row per target and concurrency; with several stores, each method once per store (named in brackets)
    and a column with the PostgreSQL backends' share of server CPU."""
    several = len(stores) > 1 or stores != ["sqlite"]
    targets = ["echo", *((_target(m, b) if several else m) for b in stores
                         for m in ("GetPermitStatus", "CheckEnrollment"))]
    pg = "postgres" in stores
    head = ("| target | concurrency | calls/s (rounds) | ratio to echo | p50 ms | p99 ms | server CPU µs/call "
            f"{'| of which PG ' if pg else ''}| client CPU | non-OK |")
    lines = [head, f"| --- | ---: | ---: | ---: | ---: | ---: | ---: | {'---: | ' if pg else ''}---: | --- |"]
    med = lambda xs: statistics.median(xs) if xs else math.nan  # noqa: E731
    for c in concurrency:
        echo = statistics.median(r.rate for r in results[("echo", c)])
        for target in targets:
            rs = results[(target, c)]
            rate = statistics.median(r.rate for r in rs)
            rounds = ", ".join(f"{r.rate:,.0f}" for r in rs)
            errors: Counter[str] = sum((r.errors for r in rs), Counter())
            on_pg = target.endswith(f"({LABEL['postgres']})")
            server = med([r.server_cpu_us_per_call + (r.extra_cpu_us_per_call if on_pg else 0.0) for r in rs])
            of_pg = (f"{med([r.extra_cpu_us_per_call for r in rs]):,.0f} | " if on_pg else "– | ") if pg else ""
            lines.append(
                f"| {target} | {c} | {rate:,.0f} ({rounds}) | {rate / echo:.2f} | {med([r.p50 for r in rs]) * 1e3:.2f} "
                f"| {med([r.p99 for r in rs]) * 1e3:.2f} | {server:,.0f} | {of_pg}"
                f"{med([r.client_cpu_share for r in rs]):.0%} | {dict(errors) or 0} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="measured window of each figure")
    ap.add_argument("--warmup", type=float, default=1.0, help="calls before each window, not counted")
    ap.add_argument("--rounds", type=int, default=2, help="each figure is measured this many times, interleaved")
    ap.add_argument("--concurrency", default="1,16,64", help="calls in flight, comma-separated")
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--backends", default=None,
                    help="stores the gateway is measured on, comma-separated: sqlite, postgres (default: both if "
                         "PostgreSQL answers at 127.0.0.1:5432, else sqlite)")
    args = ap.parse_args()
    concurrency = [int(c) for c in args.concurrency.split(",")]
    stores = backends(args.backends)
    pinned = len(os.sched_getaffinity(0)) >= 2 and {SERVER_CORE, CLIENT_CORE} <= os.sched_getaffinity(0)
    root = Path(tempfile.mkdtemp(prefix="permitgw-bench-echo-"))
    procs: list[subprocess.Popen[str]] = []
    own_cores = os.sched_getaffinity(0)
    cleanup = ExitStack()
    try:
        data, school, requests = prepare(root)
        dirs = {"sqlite": data}
        probes: dict[str, CpuProbe | None] = {"sqlite": None}
        if "postgres" in stores:
            dsn = cleanup.enter_context(own_database())  # dropped by cleanup.close(), after the servers stopped
            dirs["postgres"] = prepare_postgres(root, data, dsn)
        gateways = {}
        for backend in stores:
            gw, gw_address = start([str(BIN / "permitgw"), "serve", "--data", str(dirs[backend].root), "--listen",
                                    "127.0.0.1:0"], pinned)
            procs.append(gw)
            gateways[backend] = (gw, gw_address)
        if "postgres" in stores:
            probe = BackendCpu(dsn)
            cleanup.callback(probe.close)
            probes["postgres"] = probe
        threads = str(data.config()["server"]["workers"])
        echo, echo_address = start([sys.executable, str(HERE / "echo_server.py"), "--data", str(data.root),
                                    "--threads", threads], pinned)
        procs.append(echo)
        if pinned:
            os.sched_setaffinity(0, {CLIENT_CORE})
        several = stores != ["sqlite"]
        targets: dict[str, tuple[str, str, bytes, int, CpuProbe | None]] = {
            "echo": (echo_address, ECHO_METHOD, requests["GetPermitStatus"], echo.pid, None)}
        for backend, (gw, gw_address) in gateways.items():
            check_answers(gw_address, school, requests)
            for method, path in (("GetPermitStatus", PERMIT), ("CheckEnrollment", ENROL)):
                targets[_target(method, backend) if several else method] = (
                    gw_address, path, requests[method], gw.pid, probes[backend])
        before = os.getloadavg()
        results: dict[tuple[str, int], list[Result]] = {}
        for _ in range(args.rounds):  # interleaved: each round measures every target at every concurrency
            for c in concurrency:
                for name, (address, method, request, pid, probe) in targets.items():
                    results.setdefault((name, c), []).append(run(
                        address, school, method, request, channels=args.channels, concurrency=c,
                        warmup=args.warmup, seconds=args.seconds, server_pid=pid, extra_cpu=probe))
        after = os.getloadavg()
        print(f"{_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
              f"{'servers pinned to core 0, load client to core 1' if pinned else 'NOT pinned (fewer than 2 cores)'}")
        print(f"{args.channels} channels, {args.rounds} rounds x ({args.warmup:g} s warm-up + {args.seconds:g} s), "
              f"medians over rounds; echo answers the GetPermitStatus request's {len(requests['GetPermitStatus'])} "
              f"bytes")
        print("\n".join(table(results, concurrency, stores)))
        print(f"load average (1, 5, 15 min) before {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}, "
              f"after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}")
        print("(each gateway call: mTLS principal, limits, policy decision, blind index, store read, access-log "
              "append durable before the answer)")
        if "postgres" in stores:
            print("(PostgreSQL: its processes are not pinned; server CPU µs/call of a PostgreSQL target is the "
                  "gateway's process tree plus the backends connected to its database, \"of which PG\"; the WAL "
                  "writer and other shared server processes are not counted; on PostgreSQL the quota checks and "
                  "anomaly counts are kept in the database, shared by replicas: more transactions per call)")
    finally:
        os.sched_setaffinity(0, own_cores)  # make bench runs the next benchmark in this process
        shut_down(procs, cleanup, root)


if __name__ == "__main__":
    main()
