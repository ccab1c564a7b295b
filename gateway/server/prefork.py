"""`permitgw serve --workers N`: N pre-forked server processes on one port, and the supervisor that keeps them.

One Python process serves on one core (the interpreter lock); N processes use N cores. gRPC Python survives a
fork only if no gRPC object or thread exists yet (gRPC's multiprocessing example), so this supervisor forks first
and opens nothing a child could inherit in a broken state: no store connection, no gRPC server, no thread. It
reserves the port itself (a socket bound with SO_REUSEPORT, never listening), so that port 0 means one free port
for every worker and the port stays this gateway's while a worker restarts. Each child builds its own server with
`grpc.so_reuseport` on that port — the kernel spreads new connections over the children — and opens its own store,
access log, revocation list and policy watcher. The access log stays one log: every child's appends are
serialised by the store (SQLite BEGIN IMMEDIATE, a PostgreSQL advisory lock) and each batch signs on top of the
stored head, whichever worker wrote it (gateway/audit/log.py).

The supervisor forwards SIGTERM/SIGINT (drain and stop) and SIGHUP (reload the policy) to every child. A child
that fails to start stops them all and its one-line message is the command's failure. A child that dies later is
restarted with backoff (RestartPolicy); one that keeps dying stops the whole gateway, fail closed. Only worker 0
serves the console; `--metrics` is refused with more than one worker (each would count only its own calls).
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gateway.errors import GatewayError

MAX_PER_CORE = 4  # workers per core at most: more only adds memory and contention for one SQLite writer
START_SECONDS = 120.0  # a worker must be serving within this (its start may ask witnesses, bounded by their own)
STOP_SECONDS = 30.0  # a worker must have drained and stopped within this after SIGTERM, else it is killed
POLL_SECONDS = 0.2  # how often the supervisor looks for a dead worker or a signal it was handed

RELAYED = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}  # what the supervisor passes on to its workers

Describe = Callable[[BaseException], str | None]
"""How the command line words a failure a worker met at start (None: not one it explains)."""


class WorkersError(GatewayError):
    """The workers could not be started or kept running (a bad count, a port in use, a worker that failed)."""


def check_workers(n: int, cores: int | None) -> int:
    """N workers, 1 to MAX_PER_CORE per core of this machine; else WorkersError with the allowed range."""
    most = max(cores or 1, 1) * MAX_PER_CORE
    if not 1 <= n <= most:
        raise WorkersError(f"--workers must be from 1 to {most} ({MAX_PER_CORE} per core, {cores or 1} cores "
                           f"here), not {n}")
    return n


@dataclass
class RestartPolicy:
    """When to restart a worker that died: after a delay doubling from `first` to `most` seconds; and never once
    `limit` deaths of one worker fall within `window` seconds (it keeps dying: stop everything, fail closed)."""

    first: float = 0.5
    most: float = 8.0
    limit: int = 5
    window: float = 60.0
    deaths: list[float] = field(default_factory=list)

    def after_death(self, now: float) -> float | None:
        """Record a death at `now` (monotonic seconds); the delay before the restart, or None to give up."""
        self.deaths = [t for t in self.deaths if now - t < self.window] + [now]
        if len(self.deaths) >= self.limit:
            return None
        return min(self.first * 2 ** (len(self.deaths) - 1), self.most)


@dataclass
class Reservation:
    """The port every worker serves on, held by the supervisor for as long as it runs."""

    host: str  # as given (brackets kept for IPv6), for the address printed and handed to the workers
    port: int
    sockets: list[socket.socket]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        for s in self.sockets:
            s.close()


def split_listen(listen: str) -> tuple[str, int]:
    """HOST:PORT (HOST may be [IPv6]) as (host, port); WorkersError if it is not one."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise WorkersError(f"--listen must be HOST:PORT with a port from 0 to 65535, not {listen!r}")
    return host, int(port)


def reserve(listen: str) -> Reservation:
    """Bind HOST:PORT with SO_REUSEPORT (port 0: a free one) without listening, so the workers can join it.

    A fixed port another program listens on is refused here (a probe bind without SO_REUSEPORT), not shared.
    """
    host, port = split_listen(listen)
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise WorkersError(f"cannot listen on {listen}: {exc.strerror}") from exc
    held: list[socket.socket] = []
    try:
        for family, kind, proto, _, addr in dict.fromkeys((i[0], i[1], i[2], i[3], i[4]) for i in infos):
            if port:
                _probe(family, kind, proto, addr, listen)
            s = socket.socket(family, kind, proto)
            held.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr[0], port, *addr[2:]))
            port = port or s.getsockname()[1]
    except (OSError, WorkersError) as exc:
        for s in held:
            s.close()
        if isinstance(exc, WorkersError):
            raise
        raise WorkersError(f"cannot listen on {listen}: {exc.strerror or exc}") from exc
    return Reservation(host, port, held)


def _probe(family: int, kind: int, proto: int, addr: tuple[object, ...], listen: str) -> None:
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            probe.bind(addr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise WorkersError(f"cannot listen on {listen}: address in use") from exc
            raise


@dataclass(frozen=True)
class Plan:
    """What every worker is told: the data directory, the reserved address, and worker 0's console."""

    data: Path
    address: str
    console: str | None
    describe: Describe


@dataclass
class Worker:
    index: int
    pid: int
    report: int  # read end of the pipe the child says "serving" (or its failure) on


def _die_with_parent() -> None:
    """Ask Linux to send this child SIGTERM when the supervisor dies, so that no worker is left orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _tell(report: int, message: dict[str, object]) -> bool:
    """Say `message` to the supervisor; False if it no longer listens."""
    try:
        os.write(report, json.dumps(message).encode("utf-8"))
    except BrokenPipeError:
        return False
    return True


def _child(index: int, plan: Plan, report: int, parent: int) -> int:
    """In the forked child: install its own signal handlers, build its own server, say so, serve until told."""
    stop, reload = threading.Event(), threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    signal.pthread_sigmask(signal.SIG_UNBLOCK, RELAYED)  # blocked by the supervisor across the fork
    _die_with_parent()
    if os.getppid() != parent:  # the supervisor died before the request above took effect
        return 1
    from gateway.datadir import DataDir
    from gateway.server import heap
    from gateway.server.app import start

    try:
        running = start(DataDir(plan.data), plan.address, console=plan.console if index == 0 else None,
                        reuse_port=True)
    except Exception as exc:
        said = plan.describe(exc)
        if said is None and not isinstance(exc, GatewayError | OSError):
            raise
        _tell(report, {"error": said or str(exc)})
        return 1
    heap.settle()
    web = running.console
    if not _tell(report, {"pid": os.getpid(), "console": [web.host, web.port] if web else None}):
        running.stop()  # the supervisor gave up on this worker (another failed to start): never serve alone
        return 1
    os.close(report)
    while not stop.wait(POLL_SECONDS):
        if reload.is_set():
            reload.clear()
            running.watcher.request_reload()
    running.stop()
    return 0


class Supervisor:
    """Forks the workers, relays signals to them, restarts one that dies, stops them all on SIGTERM."""

    def __init__(self, plan: Plan, count: int, out: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.plan, self.count, self.out, self.clock = plan, count, out, clock
        self.workers: dict[int, Worker] = {}
        self.policies = {i: RestartPolicy() for i in range(count)}
        self.stopping = False
        self.pid = os.getpid()

    # --- forking -----------------------------------------------------------------------------------
    def fork(self, index: int) -> Worker:
        read, write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        # Signals wait until the child has its own handlers (it must not run the supervisor's).
        signal.pthread_sigmask(signal.SIG_BLOCK, RELAYED)
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, RELAYED)
            raise
        if pid == 0:  # the child never returns from here
            code = 1
            try:
                os.close(read)
                code = _child(index, self.plan, write, self.pid)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, RELAYED)
        os.close(write)
        worker = Worker(index, pid, read)
        self.workers[index] = worker
        return worker

    def await_ready(self, pending: list[Worker]) -> dict[int, dict[str, object]]:
        """Each worker's "serving" message; WorkersError with the first failure (a worker that could not start,
        or one that did not say within START_SECONDS)."""
        deadline = self.clock() + START_SECONDS
        said: dict[int, dict[str, object]] = {}
        chunks: dict[int, bytes] = {w.report: b"" for w in pending}
        by_fd = {w.report: w for w in pending}
        try:
            while chunks:
                left = deadline - self.clock()
                if left <= 0:
                    names = ", ".join(f"worker {by_fd[fd].index}" for fd in chunks)
                    raise WorkersError(f"{names} did not start serving within {START_SECONDS:g} s")
                readable, _, _ = select.select(list(chunks), [], [], min(left, POLL_SECONDS))
                for fd in readable:
                    data = os.read(fd, 65536)
                    if data:
                        chunks[fd] += data
                        continue
                    worker = by_fd[fd]
                    text = chunks.pop(fd).decode("utf-8", "replace")
                    message = json.loads(text) if text.startswith("{") else {}
                    if "error" in message or "pid" not in message:
                        raise WorkersError(str(message.get("error") or
                                               f"worker {worker.index} exited while starting"))
                    said[worker.index] = message
        finally:
            for w in pending:
                os.close(w.report)
        return said

    # --- running ---------------------------------------------------------------------------------------
    def start_all(self) -> dict[int, dict[str, object]]:
        return self.await_ready([self.fork(i) for i in range(self.count)])

    def signal_all(self, sig: int) -> None:
        for w in self.workers.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(w.pid, sig)

    def reap(self) -> list[tuple[Worker, int]]:
        """The workers that have exited since last asked, with their wait status."""
        gone = []
        for index, w in list(self.workers.items()):
            pid, status = os.waitpid(w.pid, os.WNOHANG)
            if pid:
                del self.workers[index]
                gone.append((w, status))
        return gone

    def stop_all(self, seconds: float = STOP_SECONDS) -> bool:
        """SIGTERM every worker and wait for each to drain; kill any still running after `seconds`. True if every
        worker stopped by itself with status 0."""
        self.signal_all(signal.SIGTERM)
        clean = True
        deadline = self.clock() + seconds
        while self.workers and self.clock() < deadline:
            for _, status in self.reap():
                clean = clean and os.waitstatus_to_exitcode(status) == 0
            if self.workers:
                time.sleep(0.05)  # polling child exits: waitpid with a timeout does not exist
        if self.workers:
            self.signal_all(signal.SIGKILL)
            for w in list(self.workers.values()):
                os.waitpid(w.pid, 0)
            self.workers.clear()
            clean = False
        return clean

    def restart(self, worker: Worker, status: int) -> None:
        """A worker died while the gateway was serving: start it again after a backoff, or fail closed."""
        how = describe_status(status)
        delay = self.policies[worker.index].after_death(self.clock())
        if delay is None:
            raise WorkersError(f"worker {worker.index} (pid {worker.pid}) {how}, the "
                               f"{self.policies[worker.index].limit}th time within "
                               f"{self.policies[worker.index].window:g} s: stopping every worker (fail closed)")
        self.out(f"permitgw: worker {worker.index} (pid {worker.pid}) {how}; restarting it in {delay:g} s")
        if self._pause(delay):
            return
        try:
            said = self.await_ready([self.fork(worker.index)])
        except WorkersError as exc:
            dead = self.workers.pop(worker.index, None)
            if dead is not None:
                os.waitpid(dead.pid, 0)
            self.out(f"permitgw: worker {worker.index} did not restart: {exc}")
            self.restart(Worker(worker.index, dead.pid if dead else 0, -1), 1 << 8)
            return
        self.out(f"permitgw: worker {worker.index} restarted (pid {said[worker.index]['pid']})")

    def _pause(self, seconds: float) -> bool:
        """Wait `seconds` unless a stop is asked for meanwhile (True then)."""
        until = self.clock() + seconds
        while not self.stopping and self.clock() < until:
            time.sleep(min(POLL_SECONDS, max(until - self.clock(), 0)))
        return self.stopping


def describe_status(status: int) -> str:
    """A wait status in words: 'exited with status 3', 'was killed by signal 9 (SIGKILL)'."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return f"was killed by signal {sig} ({signal.Signals(sig).name})"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


def serve_workers(data: Path, listen: str, count: int, console: str | None, describe: Describe,
                  out: Callable[[str], None]) -> int:
    """Run `count` workers on `listen` until SIGTERM or SIGINT; the exit code (0: every worker stopped cleanly)."""
    reservation = reserve(listen)
    sup = Supervisor(Plan(data, reservation.address, console, describe), count, out)
    stop = threading.Event()

    def asked_to_stop(*_: object) -> None:
        sup.stopping = True
        stop.set()

    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, asked_to_stop)
        signal.signal(signal.SIGHUP, lambda *_: sup.signal_all(signal.SIGHUP))
        said = sup.start_all()
        out(f"permitgw: serving on {reservation.address} (mTLS)")
        out(f"permitgw: {count} workers, pids {' '.join(str(said[i]['pid']) for i in range(count))}")
        web = said[0].get("console")
        if isinstance(web, list):
            shown = f"[{web[0]}]" if ":" in str(web[0]) else web[0]
            out(f"permitgw: console on https://{shown}:{web[1]}/ (worker 0)")
        while not stop.wait(POLL_SECONDS):
            for worker, status in sup.reap():
                if not sup.stopping:
                    sup.restart(worker, status)
        clean = sup.stop_all()
    finally:
        if sup.workers:
            sup.stop_all()
        reservation.close()
    out("permitgw: stopped")
    return 0 if clean else 1
