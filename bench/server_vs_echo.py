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
Run: .venv/bin/python bench/server_vs_echo.py [--seconds 3] [--warmup 1] [--rounds 2] [--concurrency 1,16,64]
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
from pathlib import Path

import grpc
from echo_server import METHOD as ECHO_METHOD
from load_client import Result, credentials, run

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
    """The data directory, the school's certificate prefix, and the serialised request of each method."""
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


def table(results: dict[tuple[str, int], list[Result]], concurrency: list[int]) -> list[str]:
    head = ("| target | concurrency | calls/s (rounds) | ratio to echo | p50 ms | p99 ms | server CPU µs/call "
            "| client CPU | non-OK |")
    lines = [head, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for c in concurrency:
        echo = statistics.median(r.rate for r in results[("echo", c)])
        for target in ("echo", "GetPermitStatus", "CheckEnrollment"):
            rs = results[(target, c)]
            rate = statistics.median(r.rate for r in rs)
            rounds = ", ".join(f"{r.rate:,.0f}" for r in rs)
            errors: Counter[str] = sum((r.errors for r in rs), Counter())
            med = lambda xs: statistics.median(xs) if xs else math.nan  # noqa: E731
            lines.append(
                f"| {target} | {c} | {rate:,.0f} ({rounds}) | {rate / echo:.2f} | {med([r.p50 for r in rs]) * 1e3:.2f} "
                f"| {med([r.p99 for r in rs]) * 1e3:.2f} | {med([r.server_cpu_us_per_call for r in rs]):,.0f} "
                f"| {med([r.client_cpu_share for r in rs]):.0%} | {dict(errors) or 0} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="measured window of each figure")
    ap.add_argument("--warmup", type=float, default=1.0, help="calls before each window, not counted")
    ap.add_argument("--rounds", type=int, default=2, help="each figure is measured this many times, interleaved")
    ap.add_argument("--concurrency", default="1,16,64", help="calls in flight, comma-separated")
    ap.add_argument("--channels", type=int, default=4)
    args = ap.parse_args()
    concurrency = [int(c) for c in args.concurrency.split(",")]
    pinned = len(os.sched_getaffinity(0)) >= 2 and {SERVER_CORE, CLIENT_CORE} <= os.sched_getaffinity(0)
    root = Path(tempfile.mkdtemp(prefix="permitgw-bench-echo-"))
    procs: list[subprocess.Popen[str]] = []
    own_cores = os.sched_getaffinity(0)
    try:
        data, school, requests = prepare(root)
        gw, gw_address = start([str(BIN / "permitgw"), "serve", "--data", str(data.root), "--listen",
                                "127.0.0.1:0"], pinned)
        procs.append(gw)
        threads = str(data.config()["server"]["workers"])
        echo, echo_address = start([sys.executable, str(HERE / "echo_server.py"), "--data", str(data.root),
                                    "--threads", threads], pinned)
        procs.append(echo)
        if pinned:
            os.sched_setaffinity(0, {CLIENT_CORE})
        check_answers(gw_address, school, requests)
        targets = {"echo": (echo_address, ECHO_METHOD, requests["GetPermitStatus"], echo.pid),
                   "GetPermitStatus": (gw_address, PERMIT, requests["GetPermitStatus"], gw.pid),
                   "CheckEnrollment": (gw_address, ENROL, requests["CheckEnrollment"], gw.pid)}
        before = os.getloadavg()
        results: dict[tuple[str, int], list[Result]] = {}
        for _ in range(args.rounds):  # interleaved: each round measures every target at every concurrency
            for c in concurrency:
                for name, (address, method, request, pid) in targets.items():
                    results.setdefault((name, c), []).append(run(
                        address, school, method, request, channels=args.channels, concurrency=c,
                        warmup=args.warmup, seconds=args.seconds, server_pid=pid))
        after = os.getloadavg()
        print(f"{_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
              f"{'servers pinned to core 0, load client to core 1' if pinned else 'NOT pinned (fewer than 2 cores)'}")
        print(f"{args.channels} channels, {args.rounds} rounds x ({args.warmup:g} s warm-up + {args.seconds:g} s), "
              f"medians over rounds; echo answers the GetPermitStatus request's {len(requests['GetPermitStatus'])} "
              f"bytes")
        print("\n".join(table(results, concurrency)))
        print(f"load average (1, 5, 15 min) before {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}, "
              f"after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}")
        print("(each gateway call: mTLS principal, limits, policy decision, blind index, store read, access-log "
              "append durable before the answer)")
    finally:
        os.sched_setaffinity(0, own_cores)  # make bench runs the next benchmark in this process
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
