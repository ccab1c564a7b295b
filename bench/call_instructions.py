"""Instructions the gateway's process executes per call (callgrind), for before/after comparisons on noisy machines.

Calls per second on these shared 2-core machines move by ±10–20 % from one minute to the next (the bare echo
server of bench/server_vs_echo.py answered 5,000–7,100 calls/s within one run), which hides a change worth 5 %.
Valgrind's callgrind counts the instructions a process executes instead of timing it: the same code, inputs and
thread interleaving give the same count whatever else the machine is doing. So this benchmark runs `permitgw serve`
under callgrind (on the data directory and certificate bench/server_vs_echo.py prepares), warms it up, then for each
method counts the instructions of every thread of the server (Python, gRPC, TLS, SQLite, the log's writer) while a
client of this process makes exactly --calls calls, --concurrency in flight, none in flight when counting starts
or stops. Instructions per call is that count divided by --calls; each figure is repeated --rounds times.

What it does not show: time spent waiting (fsync, locks, thread wake-ups cost more than their instructions), and
under valgrind threads take turns on one core, so the log's batches differ from a real run's (the writer's
instructions per call with them). Compare two versions of the code with this; judge speed with server_vs_echo.py.
Needs valgrind (Debian's package). A run takes minutes (callgrind runs the server ~50 times slower).
With --backend postgres the gateway serves a fresh PostgreSQL database of the run's own (as server_vs_echo.py's);
only the gateway's process is counted, not PostgreSQL's.
Run: .venv/bin/python bench/call_instructions.py [--calls 1000] [--warmup 200] [--rounds 2] [--concurrency 16]
     [--backend sqlite|postgres]
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import grpc
from echo_server import METHOD as ECHO_METHOD
from load_client import credentials
from pg_bench import own_database
from server_vs_echo import BIN, ENROL, HERE, PERMIT, check_answers, prepare, prepare_postgres, shut_down, start

METHODS = {"GetPermitStatus": PERMIT, "CheckEnrollment": ENROL}
START_SECONDS = 600  # callgrind starts (and stops) the server ~50 times slower than usual


async def _calls(address: str, prefix: Path, method: str, request: bytes, total: int, concurrency: int) -> int:
    """Exactly `total` calls, `concurrency` in flight; returns how many were not OK."""
    chan = grpc.aio.secure_channel(address, credentials(prefix), options=[("grpc.ssl_target_name_override",
                                                                           "localhost")])
    left, failed = total, 0
    try:
        call = chan.unary_unary(method)

        async def worker() -> None:
            nonlocal left, failed
            while left > 0:
                left -= 1
                try:
                    await call(request, timeout=300)
                except grpc.aio.AioRpcError:
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await chan.close()
    return failed


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, stdout=subprocess.DEVNULL, timeout=300)


def _last_dump_total(out_dir: Path, pid: int) -> int:
    """The instruction total of the newest dump callgrind wrote for pid."""
    dumps = sorted(out_dir.glob(f"cg.{pid}.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
    text = dumps[-1].read_text()
    m = re.search(r"^(?:totals|summary): (\d+)", text, re.M)
    if not m:
        raise SystemExit(f"no totals in {dumps[-1]}")
    return int(m.group(1))


def _under_callgrind(argv: list[str], out_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """The server of argv started under callgrind (not pinned: valgrind runs its threads one at a time anyway)."""
    return start(["valgrind", "--tool=callgrind", "--dump-instr=no", f"--callgrind-out-file={out_dir}/cg.%p", *argv],
                 pinned=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1000, help="calls counted per figure")
    ap.add_argument("--warmup", type=int, default=200, help="calls of each method before counting")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite",
                    help="the gateway's store (postgres: a database of the run's own at 127.0.0.1:5432, whose "
                         "server's instructions are not counted: only the gateway's process)")
    args = ap.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("needs valgrind (apt-get install valgrind)")
    root = Path(tempfile.mkdtemp(prefix="permitgw-bench-instr-"))
    procs: list[subprocess.Popen[str]] = []
    cleanup = ExitStack()
    try:
        data, school, requests = prepare(root)
        served = data
        if args.backend == "postgres":
            served = prepare_postgres(root, data, cleanup.enter_context(own_database()))  # dropped last
        gateway, gw_address = _under_callgrind([sys.executable, str(BIN / "permitgw"), "serve", "--data",
                                                str(served.root), "--listen", "127.0.0.1:0"], root)
        procs.append(gateway)
        threads = str(data.config()["server"]["workers"])
        echo, echo_address = _under_callgrind([sys.executable, str(HERE / "echo_server.py"), "--data",
                                               str(data.root), "--threads", threads], root)
        procs.append(echo)
        check_answers(gw_address, school, requests)
        targets = {"echo": (echo, echo_address, ECHO_METHOD, requests["GetPermitStatus"])}
        for name, method in METHODS.items():
            targets[name] = (gateway, gw_address, method, requests[name])
        for _, address, method, request in targets.values():
            asyncio.run(_calls(address, school, method, request, args.warmup, args.concurrency))
        results: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, (proc, address, method, request) in targets.items():
                _control(proc.pid, "-z")  # counts from zero, no call in flight
                failed = asyncio.run(_calls(address, school, method, request, args.calls, args.concurrency))
                _control(proc.pid, "-d")  # every call answered
                if failed:
                    raise SystemExit(f"{name}: {failed} calls were not OK")
                results[name].append(_last_dump_total(root, proc.pid) / args.calls)
        print(f"{_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
              f"callgrind; {args.backend}; {args.calls} calls per figure, {args.concurrency} in flight, "
              f"{args.warmup} warm-up calls")
        print("| target | instructions per call (rounds) | echo's per call over the target's |")
        print("| --- | ---: | ---: |")
        echo_count = min(results["echo"])
        for name, counts in results.items():
            print(f"| {name} | {min(counts):,.0f} ({', '.join(f'{c:,.0f}' for c in counts)}) | "
                  f"{echo_count / min(counts):.2f} |")
    finally:
        shut_down(procs, cleanup, root, wait=START_SECONDS)


if __name__ == "__main__":
    main()
