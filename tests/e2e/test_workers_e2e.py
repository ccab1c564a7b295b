"""End to end: `permitgw serve --workers 2` — two real server processes on one port, one access log.

Which process answers a call is observed from the operating system: a call is served by the process that accepted
its connection, and /proc says which process holds each accepted connection of the server's port. On both backends
(a shared SQLite file; a PostgreSQL database of the test's own), 240 concurrent calls are all answered, each is in
the log exactly once, `permitgw audit verify` passes, a worker killed with SIGKILL is restarted, and SIGTERM stops
every process.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from gateway.synth import psb
from gateway.synth.people import SynthPerson, residents
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc
from tests.conftest import BIN, run_cli
from tests.e2e.conftest import ServerOutput, error_info, issue_cert
from tests.e2e.test_shared_quota_e2e import _set_school_quota
from tests.helpers import wait_until
from tests.integration.test_store_backends import use_postgres
from tests.pg import own_login

pytestmark = pytest.mark.slow
CALLS = 240
CHANNELS = 32  # separate connections: the kernel spreads them over the workers (all on one: odds 2**-31)


@dataclass
class Workers:
    root: Path
    data: Path
    people: list[SynthPerson]
    proc: subprocess.Popen[str] | None = None
    out: ServerOutput | None = None
    address: str = ""
    pids: list[int] = field(default_factory=list)

    def serve(self, listen: str = "127.0.0.1:0", workers: int = 2) -> None:
        err = (self.root / "serve.err").open("w")
        self.proc = subprocess.Popen([str(BIN / "permitgw"), "serve", "--data", str(self.data), "--listen", listen,
                                      "--workers", str(workers)], stdout=subprocess.PIPE, stderr=err, text=True)
        assert self.proc.stdout is not None
        self.out = ServerOutput(self.proc.stdout)
        line = self.out.wait_for("serving on", seconds=60)
        self.address = line.split("serving on ", 1)[1].split()[0]
        said = self.out.wait_for(f"{workers} workers, pids")
        self.pids = [int(p) for p in said.split("pids", 1)[1].split()]

    def stderr(self) -> str:
        return (self.root / "serve.err").read_text("utf-8", errors="replace")

    def sigterm(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"SIGTERM did not stop the workers\n{self.stderr()[-3000:]}") from None


def _gateway(root: Path) -> tuple[Path, list[SynthPerson]]:
    data = root / "data"
    run_cli("init", "--data", str(data))
    return data, residents(20, seed=13)


def _import(data: Path, root: Path, people: list[SynthPerson]) -> None:
    src = root / "jzdj.csv"
    psb.write(src, people, seed=13, messy_rate=0.0)
    run_cli("import", "--data", str(data), "--bureau", "psb", "--json", str(src))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workers]:
    data, people = _gateway(tmp_path)
    if request.param == "postgres":
        with own_login("pgwk") as login:
            use_postgres(data / "config.toml", login.dsn, "permitgw")
            _import(data, tmp_path, people)
            yield from _running(Workers(tmp_path, data, people))
    else:
        _import(data, tmp_path, people)
        yield from _running(Workers(tmp_path, data, people))


def _running(w: Workers) -> Iterator[Workers]:
    try:
        yield w
    finally:
        if w.proc is not None and w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()
        for pid in w.pids:  # never leave a worker behind, whatever the test found
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] if Path(f"/proc/{pid}").exists() \
        else "X"
    return status not in ("Z", "X")


def connections_held(pid: int, port: int) -> int:
    """Established TCP connections on local `port` whose socket process `pid` holds (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    held = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port and inode in inodes:
                held += 1
    return held


def request(who: str, case: str) -> permit_pb2.GetPermitStatusRequest:
    return permit_pb2.GetPermitStatusRequest(
        context=common_pb2.RequestContext(purpose="compulsory-education", case_id=case, operator_id="OP-7"),
        id_number=who)


def schools(w: Workers) -> list[Path]:
    """Four schools' certificates: the load stays within each one's calls in flight (limits.toml)."""
    return [issue_cert(w.data, w.root, f"school{k}", "school", w.people[0].district) for k in range(4)]


def channels(w: Workers, prefixes: list[Path], n: int) -> list[grpc.Channel]:
    """n channels, each its own TCP connection (no subchannel shared between them), the schools in turn."""
    def creds(prefix: Path) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(root_certificates=Path(f"{prefix}.ca.crt").read_bytes(),
                                            private_key=Path(f"{prefix}.key").read_bytes(),
                                            certificate_chain=Path(f"{prefix}.crt").read_bytes())

    return [grpc.secure_channel(w.address, creds(prefixes[k % len(prefixes)]),
                                options=[("grpc.ssl_target_name_override", "localhost"),
                                         ("grpc.use_local_subchannel_pool", 1)])
            for k in range(n)]


def logged_cases(w: Workers) -> list[str]:
    out = run_cli("audit", "search", "--data", str(w.data), "--json").stdout
    return [json.loads(line)["case_id"] for line in out.splitlines()]


def verify(w: Workers) -> None:
    done = subprocess.run([str(BIN / "permitgw"), "audit", "verify", "--data", str(w.data), "--offline"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_two_workers_answer_on_one_port_into_one_log_and_stop_together(workers: Workers) -> None:
    w = workers
    prefixes = schools(w)
    w.serve()
    assert len(set(w.pids)) == 2 and w.proc is not None and w.proc.pid not in w.pids
    port = int(w.address.rsplit(":", 1)[1])
    assert port != 0
    who = w.people[0].id_number
    chans = channels(w, prefixes, CHANNELS)
    try:
        stubs = [permit_pb2_grpc.PermitServiceStub(ch) for ch in chans]
        for n, stub in enumerate(stubs):  # every connection made and used once
            stub.GetPermitStatus(request(who, f"OPEN-{n}"), timeout=20)
        held = {pid: connections_held(pid, port) for pid in w.pids}
        assert all(held.values()), f"one worker holds every connection: {held}"
        assert sum(held.values()) >= CHANNELS, held

        def call(n: int) -> str:
            stubs[n % CHANNELS].GetPermitStatus(request(who, f"LOAD-{n}"), timeout=30)
            return f"LOAD-{n}"

        with ThreadPoolExecutor(max_workers=16) as pool:  # 4 per school
            answered = list(pool.map(call, range(CALLS)))
    finally:
        for ch in chans:
            ch.close()
    assert len(answered) == CALLS
    assert w.sigterm() == 0, w.stderr()[-3000:]
    assert w.out is not None and "permitgw: stopped" in w.out.text()
    wait_until(lambda: not any(_alive(p) for p in w.pids), "every worker to be gone", 10)
    cases = [c for c in logged_cases(w) if c.startswith(("LOAD-", "OPEN-"))]
    assert sorted(cases) == sorted([f"LOAD-{n}" for n in range(CALLS)] + [f"OPEN-{n}" for n in range(CHANNELS)]), \
        "every answered call is in the log exactly once"
    verify(w)
    assert "no signature covers" not in w.stderr(), w.stderr()[-3000:]


def test_a_killed_worker_is_restarted_and_the_gateway_keeps_answering(workers: Workers) -> None:
    w = workers
    prefixes = schools(w)
    w.serve()
    assert w.out is not None
    mark = w.out.mark()
    victim = w.pids[1]
    os.kill(victim, signal.SIGKILL)
    said = w.out.wait_for("restarted (pid", after=mark, seconds=60)
    assert any(f"(pid {victim}) was killed by signal 9 (SIGKILL); restarting it" in line
               for line in w.out.lines[mark:]), w.out.lines[mark:]
    newcomer = int(re.search(r"restarted \(pid (\d+)\)", said).group(1))  # type: ignore[union-attr]
    assert newcomer not in w.pids and _alive(newcomer)
    port = int(w.address.rsplit(":", 1)[1])
    chans = channels(w, prefixes, CHANNELS)
    try:
        for n, ch in enumerate(chans):
            permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(request(w.people[0].id_number, f"AFTER-{n}"),
                                                                  timeout=20)
        assert connections_held(newcomer, port) > 0, "the restarted worker takes connections on the same port"
    finally:
        for ch in chans:
            ch.close()
    assert w.sigterm() == 0, w.stderr()[-3000:]
    wait_until(lambda: not any(_alive(p) for p in (w.pids[0], newcomer)), "every worker to be gone", 10)
    assert sorted(c for c in logged_cases(w) if c.startswith("AFTER-")) == sorted(f"AFTER-{n}"
                                                                                  for n in range(CHANNELS))
    verify(w)


def test_a_fixed_port_is_kept_and_never_shared_with_another_server(tmp_path: Path) -> None:
    data, people = _gateway(tmp_path)
    _import(data, tmp_path, people)
    w = Workers(tmp_path, data, people)
    with socket.socket() as s:  # a port free right now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for _ in _running(w):
        w.serve(f"127.0.0.1:{port}")
        assert w.address == f"127.0.0.1:{port}"
        for extra in (["--workers", "2"], []):  # neither more workers nor a single server may join the port
            done = subprocess.run([str(BIN / "permitgw"), "serve", "--data", str(data), "--listen",
                                   f"127.0.0.1:{port}", *extra], capture_output=True, text=True, timeout=60)
            assert done.returncode == 1, (extra, done.stdout, done.stderr)
            assert "cannot listen on" in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert w.sigterm() == 0


def test_a_worker_that_cannot_start_stops_the_command_with_its_reason(tmp_path: Path) -> None:
    data, people = _gateway(tmp_path)
    _import(data, tmp_path, people)
    policy = data / "policies" / "policy.csv"
    policy.write_text(policy.read_text("utf-8") + "p, school, nonsense\n", "utf-8")
    done = subprocess.run([str(BIN / "permitgw"), "serve", "--data", str(data), "--listen", "127.0.0.1:0",
                           "--workers", "2"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr and lines[-1].startswith("permitgw: "), done.stderr
    assert "policy.csv" in lines[-1], done.stderr
    assert "serving on" not in done.stdout


def test_workers_out_of_range_and_metrics_with_workers_are_refused(tmp_path: Path) -> None:
    data, _ = _gateway(tmp_path)
    for count in ("0", "999", "two"):
        done = subprocess.run([str(BIN / "permitgw"), "serve", "--data", str(data), "--workers", count],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "--workers" in done.stderr, done.stderr
    done = subprocess.run([str(BIN / "permitgw"), "serve", "--data", str(data), "--workers", "2", "--metrics",
                           "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "--metrics" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_workers_on_sqlite_count_one_quota(tmp_path: Path) -> None:
    """Pre-forked workers share quota counts through the SQLite file: 20 people asked at once over connections
    spread on both workers, with a school quota of 6 an hour — exactly 6 answered, 14 QUOTA_EXCEEDED."""
    data, people = _gateway(tmp_path)
    _set_school_quota(data / "policies", 6, 100)
    config = data / "config.toml"  # one certificate asks 20 at once: let each worker hold them all in flight
    config.write_text(config.read_text().replace("calls_per_principal = 8 ", "calls_per_principal = 32"))
    assert "calls_per_principal = 32" in config.read_text()
    _import(data, tmp_path, people)
    w = Workers(tmp_path, data, people)
    with contextmanager(_running)(w):
        prefix = issue_cert(w.data, w.root, "burst", "school", people[0].district)
        w.serve()
        port = int(w.address.rsplit(":", 1)[1])
        chans = channels(w, [prefix], len(people))
        try:
            stubs = [permit_pb2_grpc.PermitServiceStub(ch) for ch in chans]
            for ch in chans:  # every connection made before the burst, so both workers hold some
                grpc.channel_ready_future(ch).result(timeout=20)
            held = {pid: connections_held(pid, port) for pid in w.pids}
            assert all(held.values()), f"one worker holds every connection: {held}"
            start = threading.Barrier(len(people))

            def fire(n: int) -> str:
                start.wait(timeout=30)
                try:
                    stubs[n].GetPermitStatus(request(people[n].id_number, f"BURST-{n}"), timeout=30)
                except grpc.RpcError as err:
                    assert err.code() == grpc.StatusCode.PERMISSION_DENIED, (err.code(), err.details())
                    return error_info(err).reason
                return "allow"

            with ThreadPoolExecutor(max_workers=len(people)) as pool:
                results = sorted(pool.map(fire, range(len(people))))
        finally:
            for ch in chans:
                ch.close()
        assert results.count("allow") == 6, results
        assert results.count("QUOTA_EXCEEDED") == len(people) - 6, results
        assert w.sigterm() == 0, w.stderr()[-3000:]
        out = run_cli("audit", "search", "--data", str(w.data), "--json").stdout
        calls = [e for e in map(json.loads, out.splitlines()) if e["decision"] in ("allow", "deny")]
        assert sorted(e["case_id"] for e in calls if e["case_id"].startswith("BURST-")) == sorted(
            f"BURST-{n}" for n in range(len(people))), "every answer and refusal is in the one log"
        verify(w)
