"""End to end: `permitgw cert server --host NAME` gives the gateway a certificate for the name its clients dial
(a load balancer's), and a real server presents it over mutual TLS; a name it does not carry is refused by the
client's TLS check, as it must be."""
from __future__ import annotations

import signal
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.client import channel
from tests.conftest import run_cli
from tests.e2e.conftest import issue_cert, serve

LB_NAME = "permitgw.nb.example.gov.cn"


def _health(address: str, prefix: Path, name: str) -> int:
    with channel(address, prefix, server_name=name) as ch:
        return health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=20).status


def test_a_server_certificate_for_the_load_balancers_name_is_presented(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli("init", "--data", str(data))
    said = run_cli("cert", "server", "--data", str(data), "--host", LB_NAME).stdout
    assert f"server certificate for {LB_NAME}, localhost, 127.0.0.1, ::1 written to" in said
    prefix = issue_cert(data, tmp_path, "hospital", "health", "330203")
    proc, address = serve(data)
    try:
        assert _health(address, prefix, LB_NAME) == health_pb2.HealthCheckResponse.SERVING
        assert _health(address, prefix, "localhost") == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as refused:
            _health(address, prefix, "elsewhere.example.gov.cn")
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE  # the client's TLS check fails: no connection
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_a_server_certificate_for_garbage_is_refused_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli("init", "--data", str(data))
    before = (data / "keys" / "server.crt").read_bytes()
    done = run_cli("cert", "server", "--data", str(data), "--host", "https://gw.example:443", check=False)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "not a host name or IP address" in done.stderr and "Traceback" not in done.stderr
    assert (data / "keys" / "server.crt").read_bytes() == before
