"""GetPermitStatus against a bare gRPC echo server, same machine, same mTLS, same run.

Prints medians and the ratio gateway/echo for sequential latency and for concurrent throughput.
Run: .venv/bin/python bench/server_latency.py [--calls N] [--threads T]
The server lets one client certificate hold PER_CERTIFICATE calls at a time, so the concurrent run spreads its
threads over as many certificates (one channel each) as that takes; the echo server gets the same channels.
"""
from __future__ import annotations

import argparse
import functools
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from contextlib import ExitStack
from pathlib import Path

import grpc

from gateway import datadir
from gateway.client import channel
from gateway.datadir import DataDir
from gateway.identity.ca import issue_client, server_credentials_material
from gateway.identity.principal import Principal
from gateway.server.app import start
from gateway.service.importer import import_files
from gateway.synth import psb
from gateway.synth.people import residents
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc

PER_CERTIFICATE = 8  # calls one client certificate may hold at a time (gateway/server/limits.py, default)


def echo_server(data: DataDir) -> tuple[grpc.Server, int]:
    handler = grpc.method_handlers_generic_handler("bench.Echo", {
        "Echo": grpc.unary_unary_rpc_method_handler(lambda req, ctx: req)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((handler,))
    key, chain, ca = server_credentials_material(data.keys)
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key, chain)], ca, True))
    server.start()
    return server, port


def latencies(call: Callable[[], object], n: int) -> list[float]:
    for _ in range(min(200, n)):  # warm up
        call()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        out.append(time.perf_counter() - t)
    return out


def throughput(calls: Sequence[Callable[[], object]], threads: int, seconds: float) -> tuple[float, float]:
    """Calls per second of `threads` client threads (thread i uses calls[i % len(calls)], its own certificate), and
    the CPU time this process spent per call meanwhile (clients and server alike; less disturbed than wall time by
    other work sharing the machine)."""
    done = [0] * threads
    cpu = time.process_time()
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        call = calls[i % len(calls)]
        while time.monotonic() < stop:
            call()
            done[i] += 1

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(done) / seconds, (time.process_time() - cpu) / max(sum(done), 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="permitgw-bench-"))
    try:
        data = DataDir(root / "data")
        datadir.init(data.root)
        people = residents(1000, seed=3)
        psb.write(root / "jzdj.csv", people, seed=3)
        store = data.open_store()
        import_files(store, "psb", [root / "jzdj.csv"], data.rejects)
        store.close()
        certs = [root / f"school{i}" for i in range(-(-args.threads // PER_CERTIFICATE))]
        for i, where in enumerate(certs):
            issue_client(data.keys, Principal("school", f"330203{i + 1:04d}", "bench school", "330203"), where)
        gw = start(data, "127.0.0.1:0", workers=16)
        echo, echo_port = echo_server(data)
        req = permit_pb2.GetPermitStatusRequest(
            context=common_pb2.RequestContext(purpose="compulsory-education", case_id="B-1", operator_id="B"),
            id_number=people[0].id_number)
        with ExitStack() as open_channels:
            payload = req.SerializeToString()
            calls: dict[str, list[Callable[[], object]]] = {"gateway": [], "echo": []}
            for where in certs:
                stub = permit_pb2_grpc.PermitServiceStub(
                    open_channels.enter_context(channel(f"127.0.0.1:{gw.port}", where)))
                echo_call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = open_channels.enter_context(
                    channel(f"127.0.0.1:{echo_port}", where)).unary_unary("/bench.Echo/Echo")
                calls["gateway"].append(functools.partial(stub.GetPermitStatus, req))
                calls["echo"].append(functools.partial(echo_call, payload))
            lat: dict[str, list[float]] = {"gateway": [], "echo": []}
            tput: dict[str, list[float]] = {"gateway": [], "echo": []}
            cpu: dict[str, list[float]] = {"gateway": [], "echo": []}
            for _ in range(args.rounds):  # interleave rounds so machine noise hits both alike
                for name, call in calls.items():
                    lat[name].append(statistics.median(latencies(call[0], args.calls)))
                    rate, per_call = throughput(call, args.threads, args.seconds)
                    tput[name].append(rate)
                    cpu[name].append(per_call)
        gw.stop()
        echo.stop(0)
        g_lat, e_lat = statistics.median(lat["gateway"]), statistics.median(lat["echo"])
        g_tp, e_tp = statistics.median(tput["gateway"]), statistics.median(tput["echo"])
        print(f"sequential latency, median of {args.rounds} rounds x {args.calls} calls:")
        print(f"  echo    {e_lat * 1e6:8.0f} us")
        print(f"  gateway {g_lat * 1e6:8.0f} us   ratio gateway/echo {g_lat / e_lat:.2f}")
        print(f"throughput, {args.threads} client threads, median of {args.rounds} x {args.seconds:.0f} s:")
        print(f"  echo    {e_tp:8.0f} calls/s")
        print(f"  gateway {g_tp:8.0f} calls/s   ratio gateway/echo {g_tp / e_tp:.2f}")
        g_cpu, e_cpu = statistics.median(cpu["gateway"]), statistics.median(cpu["echo"])
        print(f"CPU time of the process per concurrent call (client + server), median of {args.rounds}:")
        print(f"  echo    {e_cpu * 1e6:8.0f} us")
        print(f"  gateway {g_cpu * 1e6:8.0f} us   the gateway's own work: {(g_cpu - e_cpu) * 1e6:.0f} us per call")
        print("(each gateway call: mTLS principal, policy table, blind index, SQLite read, fsync'd log append)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
