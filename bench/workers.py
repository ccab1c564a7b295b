"""GetPermitStatus throughput of `permitgw serve --workers 1` against `--workers 2`, same machine, same run.

Each gateway is a real `permitgw serve` process tree on a fresh SQLite data directory. The load comes from
client processes (so the client's own interpreter lock does not cap the figure), each with threads on separate
connections (the kernel spreads connections, not calls, over the workers). Prints calls/s for each, the ratio 2/1,
and the load average before and after. The client shares the cores with the server: on a 2-core machine the ratio
is a lower bound of what a second core gives a gateway whose clients are elsewhere.
Run: .venv/bin/python bench/workers.py [--seconds S] [--rounds R] [--clients P] [--threads T]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def prepare(root: Path) -> tuple[Path, list[Path], str]:
    from gateway import datadir
    from gateway.datadir import DataDir
    from gateway.identity.ca import issue_client
    from gateway.identity.principal import Principal
    from gateway.service.importer import import_files
    from gateway.synth import psb
    from gateway.synth.people import residents

    data = DataDir(root / "data")
    datadir.init(data.root)
    people = residents(1000, seed=3)
    psb.write(root / "jzdj.csv", people, seed=3)
    store = data.open_store()
    import_files(store, "psb", [root / "jzdj.csv"], data.rejects)
    store.close()
    prefixes = []
    for k in range(8):  # one certificate per client thread group: calls_per_principal bounds each
        prefix = root / f"school{k}"
        issue_client(data.keys, Principal("school", f"33020300{k:02d}", f"bench school {k}", "330203"), prefix)
        prefixes.append(prefix)
    return data.root, prefixes, people[0].id_number


def load(address: str, prefixes: list[str], who: str, threads: int, seconds: float, out: mp.Queue) -> None:
    """One client process: `threads` threads, each on its own connection, calling until `seconds` have passed."""
    import grpc

    from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc

    req = permit_pb2.GetPermitStatusRequest(
        context=common_pb2.RequestContext(purpose="compulsory-education", case_id="B-1", operator_id="B"),
        id_number=who)
    done = [0] * threads
    go = threading.Barrier(threads + 1)

    def worker(i: int) -> None:
        p = prefixes[i % len(prefixes)]
        creds = grpc.ssl_channel_credentials(Path(f"{p}.ca.crt").read_bytes(), Path(f"{p}.key").read_bytes(),
                                             Path(f"{p}.crt").read_bytes())
        with grpc.secure_channel(address, creds, options=[("grpc.ssl_target_name_override", "localhost"),
                                                          ("grpc.use_local_subchannel_pool", 1)]) as ch:
            stub = permit_pb2_grpc.PermitServiceStub(ch)
            for _ in range(20):
                stub.GetPermitStatus(req, timeout=30)  # connect and warm up
            go.wait()
            stop = time.monotonic() + seconds
            while time.monotonic() < stop:
                stub.GetPermitStatus(req, timeout=30)
                done[i] += 1

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    go.wait()
    started = time.monotonic()
    for t in ts:
        t.join()
    out.put(sum(done) / (time.monotonic() - started))


def serve(data: Path, workers: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([str(BIN / "permitgw"), "serve", "--data", str(data), "--listen", "127.0.0.1:0",
                             "--workers", str(workers)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"serving on (\S+)", line)
    if not m:
        raise SystemExit(f"the gateway did not start: {line!r}")
    return proc, m.group(1)


def throughput(data: Path, workers: int, prefixes: list[Path], who: str, args: argparse.Namespace) -> float:
    proc, address = serve(data, workers)
    try:
        ctx = mp.get_context("spawn")
        out: mp.Queue = ctx.Queue()
        per = [[str(p) for p in prefixes[c::args.clients]] for c in range(args.clients)]
        clients = [ctx.Process(target=load, args=(address, per[c], who, args.threads, args.seconds, out))
                   for c in range(args.clients)]
        for c in clients:
            c.start()
        rate = sum(out.get(timeout=args.seconds + 120) for _ in clients)
        for c in clients:
            c.join()
        return rate
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=2, help="each figure is measured this many times, interleaved")
    ap.add_argument("--clients", type=int, default=2, help="client processes")
    ap.add_argument("--threads", type=int, default=8, help="threads (connections) per client process")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="permitgw-bench-workers-"))
    try:
        data, prefixes, who = prepare(root)
        before = os.getloadavg()
        rates: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(args.rounds):  # interleaved, so that machine noise hits both alike
            for workers in (1, 2):
                rates[workers].append(throughput(data, workers, prefixes, who, args))
        after = os.getloadavg()
        print(f"GetPermitStatus throughput, {args.clients} client processes x {args.threads} connections, "
              f"{args.rounds} rounds x {args.seconds:g} s, {os.cpu_count()} cores, SQLite:")
        for workers, figures in rates.items():
            shown = ", ".join(f"{r:.0f}" for r in figures)
            print(f"  --workers {workers}: {statistics.median(figures):7.0f} calls/s (rounds: {shown})")
        print(f"  ratio workers 2/1: {statistics.median(rates[2]) / statistics.median(rates[1]):.2f}")
        print(f"  load average (1, 5, 15 min) before {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}, "
              f"after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
