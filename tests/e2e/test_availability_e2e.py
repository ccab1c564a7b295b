"""One client cannot freeze the gateway: each attack runs against a real `permitgw serve` over real mTLS
while a legitimate client keeps asking, and the legitimate client's slowest answer stays small.

The server runs with tightened bounds (config.toml [server]) so that the stream deadline and the
handshake deadline pass within the test; the bounds are what an operator would set, only shorter.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from gateway.client import channel
from gateway.domain.idnumber import check_char
from permitgw.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    common_pb2,
    entitlement_pb2,
    entitlement_pb2_grpc,
    permit_pb2,
    permit_pb2_grpc,
)
from tests.conftest import init_with_people, run_cli
from tests.e2e.conftest import Gateway, serve

LEGIT_BOUND = 2.0  # seconds: the legitimate client's slowest answer while an attack runs (unbounded before)
STREAM_IDLE = 2  # seconds a stream may sit without a request in these tests
HANDSHAKE = 2  # seconds a connection has to finish its TLS handshake in these tests
TUNED = {"streams": 4, "calls_per_principal": 4, "stream_idle_seconds": STREAM_IDLE, "stream_seconds": 30,
         "handshake_seconds": HANDSHAKE}


def _tune(config: Path, values: dict[str, int]) -> None:
    text = config.read_text()
    for key, value in values.items():
        text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
    config.write_text(text)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("availability")
    data, people = init_with_people(root, 20, seed=13)
    _tune(data / "config.toml", TUNED)
    proc, address = serve(data)
    g = Gateway(root, address, proc, people)
    yield g
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def _legit_latencies(g: Gateway, n: int = 30) -> list[float]:
    """n GetPermitStatus calls from a school, one after another; each one's latency (a timeout: infinity)."""
    school = g.cert("school", "school", "330203")
    req = permit_pb2.GetPermitStatusRequest(
        context=common_pb2.RequestContext(purpose="compulsory-education", case_id="C-1", operator_id="OP-1"),
        id_number=g.people[0].id_number)
    out = []
    with channel(g.address, school) as ch:
        stub = permit_pb2_grpc.PermitServiceStub(ch)
        for _ in range(n):
            t0 = time.perf_counter()
            try:
                stub.GetPermitStatus(req, timeout=5)
                out.append(time.perf_counter() - t0)
            except grpc.RpcError as err:
                out.append(float("inf") if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED else -1.0)
    return out


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_idle_reflection_streams_do_not_starve_other_clients(gw: Gateway) -> None:
    g = gw
    attacker = g.cert("mallory", "school", "330203")
    serial = re.search(r"serial (\w+)", run_cli("cert", "issue", "--data", str(g.data), "--role", "police",
                                                "--org", "X", "--name", "x", "--district", "330203",
                                                "--out", str(g.root / "revoked")).stdout)
    assert serial
    run_cli("cert", "revoke", "--data", str(g.data), "--serial", serial.group(1))
    release = threading.Event()
    ended: list[grpc.StatusCode] = []

    def idle() -> Iterator[reflection_pb2.ServerReflectionRequest]:
        release.wait()  # never sends a request while the test runs
        return
        yield  # pragma: no cover

    channels = [channel(g.address, prefix) for prefix in (attacker, g.root / "revoked")]
    calls = []
    try:
        for i in range(16):  # as many streams as the server has worker threads
            call = reflection_pb2_grpc.ServerReflectionStub(channels[i % 2]).ServerReflectionInfo(idle())
            call.add_done_callback(lambda c: ended.append(c.code()))
            calls.append(call)
        latencies = _legit_latencies(g)
        assert max(latencies) < LEGIT_BOUND, latencies
        assert min(latencies) >= 0, "every legitimate call is answered"
        # an access-log search streams its answer too, but the server ends it: it needs no stream slot
        with channel(g.address, g.cert("auditor", "auditor", "330200")) as ch:
            found = list(audit_pb2_grpc.AuditServiceStub(ch).SearchAccessLog(audit_pb2.SearchAccessLogRequest(
                context=common_pb2.RequestContext(purpose="access-audit", case_id="SJ-1", operator_id="A-1"),
                role="school"), timeout=5))
        assert found
        # the server ends the streams it admitted once they sit idle: none is left holding a worker
        assert _wait(lambda: len(ended) == 16, timeout=STREAM_IDLE + 20), ended
        # at most `streams` are admitted (and ended when idle); the others are refused at once — the revoked
        # certificate's by authentication or by the stream bound, whichever the server meets first
        admitted = ended.count(grpc.StatusCode.CANCELLED)
        assert admitted <= TUNED["streams"], ended
        assert ended.count(grpc.StatusCode.UNAUTHENTICATED) + ended.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= (
            16 - TUNED["streams"]), ended
        assert set(ended) <= {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED,
                              grpc.StatusCode.UNAUTHENTICATED}, ended
    finally:
        release.set()
        for call in calls:
            call.cancel()
        for ch in channels:
            ch.close()
    refusals = [e for e in g.log() if e["reason"] in ("TOO_MANY_STREAMS", "TOO_MANY_CALLS", "CERTIFICATE_REVOKED")
                and e["method"].startswith("grpc.reflection")]
    assert len(refusals) >= 16 - TUNED["streams"], "each refusal is in the access log"


def _ids(n: int) -> list[str]:
    """n distinct valid-looking identity numbers (nobody the gateway knows)."""
    out = []
    for i in range(n):
        born = _dt.date(1950, 1, 1) + _dt.timedelta(days=i // 1000)
        first17 = f"330203{born:%Y%m%d}{i % 1000:03d}"
        out.append(first17 + check_char(first17))
    return out


@pytest.mark.parametrize(("guardians", "refusal"), [
    (30_000, grpc.StatusCode.INVALID_ARGUMENT),  # 600 KB: over the method's cap (policies/limits.toml)
    (150_000, grpc.StatusCode.INVALID_ARGUMENT),  # 3 MB: refused before its guardians are read
])
def test_huge_enrollment_requests_are_refused_at_once(gw: Gateway, guardians: int,
                                                      refusal: grpc.StatusCode) -> None:
    g = gw
    attacker = g.cert("mallory", "school", "330203")
    guardian_ids = _ids(guardians)
    child = g.people[1].id_number
    req = entitlement_pb2.CheckEnrollmentRequest(
        context=common_pb2.RequestContext(purpose="compulsory-education", case_id="C-9", operator_id="OP-9"),
        child_id_number=child, guardian_id_numbers=guardian_ids)

    def attack() -> tuple[grpc.StatusCode, float]:
        t0 = time.perf_counter()
        with channel(g.address, attacker) as ch:
            try:
                entitlement_pb2_grpc.EntitlementServiceStub(ch).CheckEnrollment(req, timeout=20)
                return grpc.StatusCode.OK, time.perf_counter() - t0
            except grpc.RpcError as err:
                return err.code(), time.perf_counter() - t0

    with ThreadPoolExecutor(8) as pool:
        attacks = [pool.submit(attack) for _ in range(8)]
        latencies = _legit_latencies(g)
        outcomes = [a.result() for a in attacks]
    assert max(latencies) < LEGIT_BOUND, latencies
    assert min(latencies) >= 0
    assert {code for code, _ in outcomes} == {refusal}, outcomes
    assert max(seconds for _, seconds in outcomes) < 10, outcomes
    if refusal == grpc.StatusCode.INVALID_ARGUMENT:
        logged = [e for e in g.log() if e["method"].endswith("EntitlementService/CheckEnrollment")
                  and e["decision"] == "invalid"]
        assert len(logged) >= 8, "each refused request is in the access log"
        assert child not in json.dumps(logged)


def test_repeated_field_over_its_cap_is_invalid_argument(gw: Gateway) -> None:
    g = gw
    school = g.cert("school", "school", "330203")
    req = entitlement_pb2.CheckEnrollmentRequest(
        context=common_pb2.RequestContext(purpose="compulsory-education"),
        child_id_number=g.people[1].id_number, guardian_id_numbers=_ids(5))
    with channel(g.address, school) as ch, pytest.raises(grpc.RpcError) as exc:
        entitlement_pb2_grpc.EntitlementServiceStub(ch).CheckEnrollment(req, timeout=10)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "guardian_id_numbers" in (exc.value.details() or "")


def test_connections_that_never_start_tls_are_closed(gw: Gateway) -> None:
    g = gw
    host, port = g.address.rsplit(":", 1)
    sockets = [socket.create_connection((host, int(port)), timeout=5) for _ in range(300)]
    try:
        latencies = _legit_latencies(g, n=10)  # while 300 silent connections are open
        assert max(latencies) < LEGIT_BOUND and min(latencies) >= 0, latencies
        deadline = time.monotonic() + HANDSHAKE + 20
        for s in sockets:  # the server closes each: recv sees end of stream, not a timeout
            s.settimeout(max(deadline - time.monotonic(), 0.1))
            assert s.recv(1) == b""
    finally:
        for s in sockets:
            s.close()
    assert max(_legit_latencies(g, n=5)) < LEGIT_BOUND
