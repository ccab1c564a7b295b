"""End to end: a real gateway on PostgreSQL loses its database connection, fails closed, and heals by itself.

The gateway connects as a role of the test's own, in a database of the test's own. Its connections are killed
with pg_terminate_backend; while the role may not log in (NOLOGIN) the gateway cannot reconnect, which gives a
deterministic "database unreachable" window: calls must fail fast with UNAVAILABLE (never hang into
DEADLINE_EXCEEDED), health must say NOT_SERVING, and SIGTERM must still stop the server. Once the role may log in
again, the gateway must serve again without a restart, and every answered call must be in the log exactly once.
"""
from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.client import channel
from gateway.synth import psb
from gateway.synth.people import SynthPerson, residents
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc
from tests.conftest import BIN, run_cli
from tests.helpers import wait_until
from tests.integration.test_store_backends import use_postgres
from tests.pg import OwnLogin, own_login

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
SERVICE = "permitgw.v1.PermitService"


@dataclass
class PgGateway:
    root: Path
    data: Path
    login: OwnLogin
    people: list[SynthPerson]
    proc: subprocess.Popen[str] | None = None
    address: str = ""

    def serve(self) -> None:
        """Start `permitgw serve`; its stderr goes to a file (a pipe nobody reads could fill and block it)."""
        err = (self.root / "serve.err").open("w")
        self.proc = subprocess.Popen([str(BIN / "permitgw"), "serve", "--data", str(self.data), "--listen",
                                      "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=err, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        assert "serving on" in line, f"server did not start: {line!r} {self.stderr()}"
        self.address = line.split("serving on ", 1)[1].split()[0]

    def stderr(self) -> str:
        return (self.root / "serve.err").read_text("utf-8", errors="replace")

    def kill_connections(self) -> int:
        return self.login.kill()

    def lock_out(self) -> None:
        self.login.lock_out()

    def let_in(self) -> None:
        self.login.let_in()

    def sigterm(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"SIGTERM did not stop the server within 20 s\n{self.stderr()[-3000:]}") from None


@pytest.fixture
def pg_gateway(tmp_path: Path) -> Iterator[PgGateway]:
    with own_login("pgw") as login:
        data = tmp_path / "data"
        run_cli("init", "--data", str(data))
        use_postgres(data / "config.toml", login.dsn, "permitgw")
        people = residents(20, seed=11)
        src = tmp_path / "jzdj.csv"
        psb.write(src, people, seed=11, messy_rate=0.0)
        run_cli("import", "--data", str(data), "--bureau", "psb", "--json", str(src))
        g = PgGateway(tmp_path, data, login, people)
        try:
            yield g
        finally:
            if g.proc is not None and g.proc.poll() is None:
                g.proc.kill()
                g.proc.wait()


def ask(g: PgGateway, prefix: Path, who: str, case_id: str) -> permit_pb2.GetPermitStatusResponse:
    req = permit_pb2.GetPermitStatusRequest(
        context=common_pb2.RequestContext(purpose="compulsory-education", case_id=case_id, operator_id="OP-7"),
        id_number=who)
    with channel(g.address, prefix) as ch:
        return permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(req, timeout=10)


def health(g: PgGateway, prefix: Path, service: str) -> int:
    with channel(g.address, prefix) as ch:
        return int(health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service),
                                                           timeout=10).status)


def school(g: PgGateway) -> Path:
    prefix = g.root / "school"
    run_cli("cert", "issue", "--data", str(g.data), "--role", "school", "--org", "ORG-S", "--name", "学校",
            "--district", g.people[0].district, "--out", str(prefix))
    return prefix


def fails_unavailable(g: PgGateway, prefix: Path, who: str, case_id: str) -> None:
    """The call is refused at once with UNAVAILABLE, well inside its deadline (a hang would be DEADLINE_EXCEEDED)."""
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as err:
        ask(g, prefix, who, case_id)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE, (err.value.code(), err.value.details())
    assert time.monotonic() - started < 8, "the refusal took most of the call's deadline"


def test_a_lost_connection_fails_closed_then_heals_by_itself(pg_gateway: PgGateway) -> None:
    g = pg_gateway
    prefix = school(g)
    g.serve()
    who = g.people[0].id_number
    answered: list[str] = []
    for n in range(3):
        ask(g, prefix, who, f"BEFORE-{n}")
        answered.append(f"BEFORE-{n}")

    assert g.kill_connections() >= 1  # a blip: the gateway may reconnect at once
    for n in range(3):
        case = f"BLIP-{n}"
        try:
            ask(g, prefix, who, case)
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.UNAVAILABLE, (err.code(), err.details())
        else:
            answered.append(case)

    g.lock_out()  # now it cannot reconnect: fail closed, fast, and say so in health
    for n in range(3):
        fails_unavailable(g, prefix, who, f"LOCKED-{n}")
    wait_until(lambda: health(g, prefix, "") == health_pb2.HealthCheckResponse.NOT_SERVING, "health NOT_SERVING", 10)
    assert health(g, prefix, SERVICE) == health_pb2.HealthCheckResponse.NOT_SERVING

    g.let_in()  # heals without a restart

    tries = iter(range(10**6))

    def serves() -> bool:
        case = f"HEAL-{next(tries)}"  # a case id has few digits (an identity number must never fit)
        try:
            ask(g, prefix, who, case)
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.UNAVAILABLE, (err.code(), err.details())
            return False
        answered.append(case)
        return True

    wait_until(serves, "serving again after the database came back", 20)
    wait_until(lambda: health(g, prefix, "") == health_pb2.HealthCheckResponse.SERVING, "health SERVING", 10)
    assert health(g, prefix, SERVICE) == health_pb2.HealthCheckResponse.SERVING
    for n in range(3):
        ask(g, prefix, who, f"AFTER-{n}")
        answered.append(f"AFTER-{n}")

    assert g.sigterm() == 0, g.stderr()[-3000:]
    verified = run_cli("audit", "verify", "--data", str(g.data), check=False)
    assert verified.returncode == 0 and "OK" in verified.stdout, verified.stdout + verified.stderr
    logged = run_cli("audit", "search", "--data", str(g.data), "--json").stdout
    entries = [json.loads(line) for line in logged.splitlines()]
    allowed = [e["case_id"] for e in entries if e["decision"] == "allow"]
    for case in answered:
        assert allowed.count(case) == 1, f"answered call {case} is in the log {allowed.count(case)} times"


def test_sigterm_stops_the_server_while_the_database_is_unreachable(pg_gateway: PgGateway) -> None:
    g = pg_gateway
    prefix = school(g)
    g.serve()
    who = g.people[0].id_number
    ask(g, prefix, who, "BEFORE-0")
    g.lock_out()
    fails_unavailable(g, prefix, who, "LOCKED-0")
    fails_unavailable(g, prefix, who, "LOCKED-1")
    wait_until(lambda: health(g, prefix, "") == health_pb2.HealthCheckResponse.NOT_SERVING, "health NOT_SERVING", 10)
    assert g.sigterm() == 0, g.stderr()[-3000:]
