"""End to end (a real server in this process, real mutual TLS): the access log's batches wait only for entries of
calls that can still come, and every kind of call — answered, refused, undecodable, unknown, refused by gRPC over
its concurrency bound — stops being waited for once it is over (gateway/audit/arrivals.py).

An expected entry left behind would make every later batch wait its full gather time: these tests look at the
server's own count of expected entries after the calls.
"""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.audit.arrivals import Arrivals
from gateway.client import channel
from gateway.datadir import DataDir
from gateway.domain import clock
from gateway.identity.ca import issue_client
from gateway.identity.principal import Principal
from gateway.server.app import ListenError, RunningServer, start
from gateway.service.importer import import_files
from gateway.synth import psb
from gateway.synth.people import SynthPerson, residents
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc
from tests.helpers import wait_until

CTX = common_pb2.RequestContext(purpose="compulsory-education", case_id="C-1", operator_id="op-1")


@pytest.fixture
def people(data: DataDir, tmp_path: Path) -> list[SynthPerson]:
    found = residents(60, seed=11)
    psb.write(tmp_path / "jzdj.csv", found, seed=11)
    store = data.open_store()
    try:
        import_files(store, "psb", [tmp_path / "jzdj.csv"], data.rejects)
    finally:
        store.close()
    return found


@pytest.fixture
def school(data: DataDir, tmp_path: Path) -> Path:
    issue_client(data.keys, Principal("school", "S1", "school", "330203"), tmp_path / "school")
    return tmp_path / "school"


def serve(data: DataDir, max_calls: int = 64) -> RunningServer:
    config = data.config_file.read_text()
    assert "max_calls = 64 " in config
    data.config_file.write_text(config.replace("max_calls = 64 ", f"max_calls = {max_calls} "))
    return start(data, "127.0.0.1:0", workers=2)


@pytest.fixture
def running(data: DataDir, people: list[SynthPerson]) -> Iterator[RunningServer]:
    server = serve(data)
    yield server
    server.stop()


def arrivals(server: RunningServer) -> Arrivals:
    assert server.audit.arrivals is not None, "the server's log does not gather batches"
    return server.audit.arrivals


def nothing_expected(server: RunningServer) -> None:
    wait_until(lambda: arrivals(server).expected() == 0, "no call's entry to be expected any more", 10)


def holder(people: list[SynthPerson]) -> SynthPerson:
    today = clock.today()
    return next(p for p in people if p.permit_state == "1" and p.permit_valid_until >= today)


def test_every_kind_of_call_leaves_nothing_to_wait_for(running: RunningServer, school: Path,
                                                       people: list[SynthPerson]) -> None:
    address = f"127.0.0.1:{running.port}"
    codes: list[grpc.StatusCode] = []
    with channel(address, school) as ch:
        stub = permit_pb2_grpc.PermitServiceStub(ch)
        number = holder(people).id_number
        answer = stub.GetPermitStatus(permit_pb2.GetPermitStatusRequest(context=CTX, id_number=number), timeout=10)
        assert answer.status == permit_pb2.PERMIT_STATUS_VALID
        for request in (
            permit_pb2.GetPermitStatusRequest(context=common_pb2.RequestContext(purpose="marketing"),
                                              id_number=holder(people).id_number),  # refused: purpose
            permit_pb2.GetPermitStatusRequest(context=CTX, id_number="12345"),  # invalid
        ):
            with pytest.raises(grpc.RpcError) as err:
                stub.GetPermitStatus(request, timeout=10)
            codes.append(err.value.code())
        for method, body in (("/permitgw.v1.PermitService/GetPermitStatus", b"\x12\x02\xff\xfe"),  # undecodable
                             ("/permitgw.v1.PermitService/NoSuchMethod", b"")):
            with pytest.raises(grpc.RpcError) as err:
                ch.unary_unary(method, request_serializer=None, response_deserializer=None)(body, timeout=10)
            codes.append(err.value.code())
        health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert codes == [grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT,
                     grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED]
    nothing_expected(running)


def test_calls_refused_over_the_concurrency_bound_leave_nothing_to_wait_for(data: DataDir, school: Path,
                                                                           people: list[SynthPerson]) -> None:
    """gRPC refuses a call over max_calls after the interceptors made its handler; the handler never runs."""
    server = serve(data, max_calls=1)
    try:
        address = f"127.0.0.1:{server.port}"
        request = permit_pb2.GetPermitStatusRequest(context=CTX, id_number=holder(people).id_number)
        seen: Counter[grpc.StatusCode] = Counter()
        with channel(address, school) as ch:
            stub = permit_pb2_grpc.PermitServiceStub(ch)

            def burst() -> None:
                go = threading.Barrier(8)

                def one() -> None:
                    go.wait(10)
                    try:
                        stub.GetPermitStatus(request, timeout=20)
                        seen[grpc.StatusCode.OK] += 1
                    except grpc.RpcError as exc:
                        seen[exc.code()] += 1

                threads = [threading.Thread(target=one) for _ in range(8)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(30)

            wait_until(lambda: burst() or seen[grpc.StatusCode.RESOURCE_EXHAUSTED] > 0,
                       "a call refused over the concurrency bound", 60, poll=0)
            assert seen[grpc.StatusCode.OK] > 0
            nothing_expected(server)
            assert stub.GetPermitStatus(request, timeout=10).status == permit_pb2.PERMIT_STATUS_VALID
        nothing_expected(server)
    finally:
        server.stop()


@pytest.mark.parametrize("value", ['"4"', "-1", "51", "true"])
def test_a_bad_gather_time_is_refused_at_start_naming_the_setting(data: DataDir, value: str) -> None:
    config = data.config_file.read_text()
    assert "gather_ms = 4 " in config
    data.config_file.write_text(config.replace("gather_ms = 4 ", f"gather_ms = {value} "))
    with pytest.raises(ListenError, match=r"\[log\] gather_ms must be a number of milliseconds from 0 to 50"):
        start(data, "127.0.0.1:0", workers=2)


def test_a_gather_time_of_zero_commits_what_is_queued(data: DataDir, people: list[SynthPerson],
                                                      school: Path) -> None:
    config = data.config_file.read_text()
    data.config_file.write_text(config.replace("gather_ms = 4 ", "gather_ms = 0 "))
    server = start(data, "127.0.0.1:0", workers=2)
    try:
        assert server.audit.gather_seconds == 0
        with channel(f"127.0.0.1:{server.port}", school) as ch:
            answer = permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(
                permit_pb2.GetPermitStatusRequest(context=CTX, id_number=holder(people).id_number), timeout=10)
        assert answer.status == permit_pb2.PERMIT_STATUS_VALID
    finally:
        server.stop()


@pytest.mark.parametrize("value", ["0", '"16"', "-2"])
def test_a_bad_worker_thread_count_is_refused_at_start_naming_the_setting(data: DataDir, value: str) -> None:
    config = data.config_file.read_text()
    assert "workers = 16 " in config
    data.config_file.write_text(config.replace("workers = 16 ", f"workers = {value} "))
    with pytest.raises(ListenError, match=r"\[server\] workers must be a whole number of threads, at least 1"):
        start(data, "127.0.0.1:0")
