"""An asyncio gRPC load client: N channels, C calls in flight, warm-up, then a fixed measured window.

It sends ready-serialised request bytes (one request, or several taken in turn, e.g. about many different people)
and takes the answer as bytes (no protobuf work on the client), so the gateway and a bare echo server are driven by
exactly the same loop. It reports calls/s, p50 and p99 latency,
non-OK answers by status code, and the CPU the server's process tree spent per call, read from /proc/<pid>/stat
(utime + stime of every process in the tree) at the start and at the end of the measured window.
Used by bench/server_vs_echo.py; on its own:
  .venv/bin/python bench/load_client.py --address HOST:PORT --cert PREFIX --method /pkg.Svc/M --request-hex HEX
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import grpc
import grpc.aio

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0 < q <= 100) of ascending values, nearest-rank: the smallest value with at least
    q % of the values at or below it."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {q}")
    rank = math.ceil(q / 100 * len(sorted_values))
    return sorted_values[rank - 1]


def stat_cpu_ticks(stat_text: str) -> int:
    """utime + stime (clock ticks) from the text of /proc/<pid>/stat.

    The command name (field 2) is in parentheses and may hold spaces or ')', so fields are counted from the
    last ')': after it come state (field 3) ... utime (field 14) and stime (field 15).
    """
    rest = stat_text[stat_text.rindex(")") + 2:].split()
    return int(rest[11]) + int(rest[12])


def stat_children(pid: int) -> list[int]:
    """The child processes of pid, from /proc/<pid>/task/*/children."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tasks:
        try:
            out.extend(int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split())
        except FileNotFoundError:
            continue
    return out


def process_tree(pid: int) -> list[int]:
    """pid and every process below it."""
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(stat_children(p))
    return tree


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) spent so far by pid and its descendants that are still running."""
    ticks = 0
    for p in process_tree(pid):
        try:
            ticks += stat_cpu_ticks(Path(f"/proc/{p}/stat").read_text())
        except FileNotFoundError:
            continue
    return ticks / CLOCK_TICKS


def cpu_us_per_call(before_seconds: float, after_seconds: float, calls: int) -> float:
    """Server CPU per call in µs over a window, from two tree_cpu_seconds readings."""
    if calls <= 0:
        return math.nan
    return (after_seconds - before_seconds) * 1e6 / calls


class CpuProbe(Protocol):
    """CPU spent by processes that are not the server's children (a database's backends) over a window."""

    def start(self) -> None: ...

    def stop(self) -> float:
        """CPU seconds since start()."""
        ...


@dataclass
class Result:
    """One measured window."""

    calls: int
    seconds: float
    latencies: list[float]  # seconds, ascending, of the calls answered OK within the window
    errors: Counter[str] = field(default_factory=Counter)
    server_cpu_us_per_call: float = math.nan
    client_cpu_share: float = math.nan  # the client process's CPU time over the window's wall time
    extra_cpu_us_per_call: float = math.nan  # of the CpuProbe given (e.g. the PostgreSQL backends serving it)

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50) if self.latencies else math.nan

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99) if self.latencies else math.nan


def credentials(prefix: Path) -> grpc.ChannelCredentials:
    """The client certificate PREFIX.crt/.key and the gateway CA PREFIX.ca.crt (as `permitgw cert issue` writes)."""
    return grpc.ssl_channel_credentials(Path(f"{prefix}.ca.crt").read_bytes(), Path(f"{prefix}.key").read_bytes(),
                                        Path(f"{prefix}.crt").read_bytes())


async def _drive(address: str, prefix: Path, method: str, request: bytes | Sequence[bytes], channels: int,
                 concurrency: int, warmup: float, seconds: float, server_pid: int | None,
                 extra_cpu: CpuProbe | None) -> Result:
    options = [("grpc.ssl_target_name_override", "localhost"),
               ("grpc.use_local_subchannel_pool", 1)]  # each channel its own connection
    creds = credentials(prefix)
    chans = [grpc.aio.secure_channel(address, creds, options=options) for _ in range(channels)]
    try:
        for ch in chans:
            await asyncio.wait_for(ch.channel_ready(), timeout=30)
        calls: list[grpc.aio.UnaryUnaryMultiCallable] = [ch.unary_unary(method) for ch in chans]  # bytes in/out
        requests = itertools.cycle([request] if isinstance(request, bytes) else request)
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        measuring = False
        stop = False

        async def worker(i: int) -> None:
            call = calls[i % len(calls)]
            while not stop:
                t = time.perf_counter()
                try:
                    await call(next(requests), timeout=30)
                except grpc.aio.AioRpcError as err:
                    if measuring:
                        errors[err.code().name] += 1
                    continue
                if measuring:
                    latencies.append(time.perf_counter() - t)

        tasks = [asyncio.create_task(worker(i)) for i in range(concurrency)]
        await asyncio.sleep(warmup)
        cpu0 = tree_cpu_seconds(server_pid) if server_pid else math.nan
        if extra_cpu is not None:
            extra_cpu.start()
        own0 = time.process_time()
        measuring, t0 = True, time.perf_counter()
        await asyncio.sleep(seconds)
        measuring, elapsed = False, time.perf_counter() - t0
        cpu1 = tree_cpu_seconds(server_pid) if server_pid else math.nan
        own = time.process_time() - own0
        extra = extra_cpu.stop() if extra_cpu is not None else math.nan
        stop = True
        await asyncio.gather(*tasks)
    finally:
        for ch in chans:
            await ch.close()
    done = len(latencies)
    return Result(done, elapsed, sorted(latencies), errors, cpu_us_per_call(cpu0, cpu1, done), own / elapsed,
                  cpu_us_per_call(0.0, extra, done))


def run(address: str, prefix: Path, method: str, request: bytes | Sequence[bytes], *, channels: int = 4,
        concurrency: int = 16, warmup: float = 1.0, seconds: float = 3.0, server_pid: int | None = None,
        extra_cpu: CpuProbe | None = None) -> Result:
    """Drive `method` at `address` with `concurrency` calls in flight over `channels` connections. `request` is
    one serialised request sent every time, or several sent in turn (each call takes the next, cycling);
    `extra_cpu` measures CPU spent for the server outside its process tree (Result.extra_cpu_us_per_call)."""
    return asyncio.run(_drive(address, prefix, method, request, channels, concurrency, warmup, seconds,
                              server_pid, extra_cpu))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--address", required=True)
    ap.add_argument("--cert", required=True, type=Path, help="client certificate prefix (PREFIX.crt/.key/.ca.crt)")
    ap.add_argument("--method", required=True, help="full method path, e.g. /bench.Echo/Echo")
    ap.add_argument("--request-hex", default="", help="the serialised request, in hex")
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--server-pid", type=int, default=None)
    args = ap.parse_args()
    r = run(args.address, args.cert, args.method, bytes.fromhex(args.request_hex), channels=args.channels,
            concurrency=args.concurrency, warmup=args.warmup, seconds=args.seconds, server_pid=args.server_pid)
    print(f"{r.rate:.0f} calls/s, p50 {r.p50 * 1e3:.2f} ms, p99 {r.p99 * 1e3:.2f} ms, "
          f"server CPU {r.server_cpu_us_per_call:.0f} us/call, errors {dict(r.errors) or 'none'}")


if __name__ == "__main__":
    main()
