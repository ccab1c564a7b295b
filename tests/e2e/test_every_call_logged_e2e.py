"""End to end: every call that reaches the gateway is authenticated and logged, including the ones no servicer
answers: undecodable and oversized requests, unknown methods, health checks and reflection, and calls made with
a certificate whose principal cannot be read (logged by the certificate's fingerprint).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from gateway.client import channel
from gateway.identity.ca import load_ca
from permitgw.v1 import common_pb2, permit_pb2
from tests.conftest import run_cli
from tests.e2e.conftest import Gateway, error_info, valid_holder, wait_until_revoked

STATUS = "/permitgw.v1.PermitService/GetPermitStatus"
REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
UNDECODABLE = {
    "invalid UTF-8": b"\x12\x02\xff\xfe",
    "truncated": b"\x12\x0aab",
    "nested too deep": b"\x2b" * 200 + b"\x2c" * 200,
}


def _raw_call(g: Gateway, prefix: Path, method: str, body: bytes) -> grpc.RpcError:
    with channel(g.address, prefix) as ch, pytest.raises(grpc.RpcError) as exc:
        ch.unary_unary(method, request_serializer=None, response_deserializer=None)(body, timeout=20)
    return exc.value


def _last(g: Gateway, principal: str) -> dict[str, object]:
    return [e for e in g.log() if e["principal"] == principal][-1]


@pytest.mark.parametrize("kind", UNDECODABLE)
def test_an_undecodable_request_is_invalid_argument_and_logged(gw: Gateway, kind: str) -> None:
    err = _raw_call(gw, gw.cert("garbler", "school", "330203"), STATUS, UNDECODABLE[kind])
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    entry = _last(gw, "school/330203/ORG-garbler")
    assert (entry["method"], entry["decision"], entry["reason"]) == (STATUS[1:], "invalid", "INVALID_ARGUMENT")


def test_a_five_megabyte_request_is_refused_and_logged(gw: Gateway) -> None:
    body = permit_pb2.GetPermitStatusRequest(
        context=common_pb2.RequestContext(purpose="compulsory-education", case_id="C-1", operator_id="x" * 5_000_000),
        id_number=valid_holder(gw).id_number).SerializeToString()
    err = _raw_call(gw, gw.cert("stuffer", "school", "330203"), STATUS, body)
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    entry = _last(gw, "school/330203/ORG-stuffer")
    assert (entry["method"], entry["decision"], entry["reason"]) == (STATUS[1:], "invalid", "REQUEST_TOO_LARGE")


def test_an_unknown_method_is_unimplemented_and_logged_without_echoing_a_number(gw: Gateway) -> None:
    prefix = gw.cert("prowler", "school", "330203")
    err = _raw_call(gw, prefix, "/permitgw.v1.PermitService/DumpEverything", b"")
    assert err.code() == grpc.StatusCode.UNIMPLEMENTED
    entry = _last(gw, "school/330203/ORG-prowler")
    assert (entry["method"], entry["decision"], entry["reason"]) == (
        "permitgw.v1.PermitService/DumpEverything", "invalid", "UNKNOWN_METHOD")
    number = valid_holder(gw).id_number
    assert _raw_call(gw, prefix, f"/x.Y/{number}", b"").code() == grpc.StatusCode.UNIMPLEMENTED
    assert _last(gw, "school/330203/ORG-prowler")["method"] == "(unreadable method)"
    assert number not in run_cli("audit", "search", "--data", str(gw.data), "--json").stdout


def _health(g: Gateway, prefix: Path) -> health_pb2.HealthCheckResponse:
    with channel(g.address, prefix) as ch:
        return health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)


def _reflect(g: Gateway, prefix: Path) -> list[str]:
    with channel(g.address, prefix) as ch:
        call = ch.stream_stream(REFLECTION, request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                                response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
        answers = list(call(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
    return [s.name for a in answers for s in a.list_services_response.service]


def test_health_and_reflection_are_logged_and_refused_to_a_revoked_certificate(gw: Gateway) -> None:
    prefix = gw.cert("prober-lb", "school", "330203")
    principal = "school/330203/ORG-prober-lb"
    assert _health(gw, prefix).status == health_pb2.HealthCheckResponse.SERVING
    assert (_last(gw, principal)["method"], _last(gw, principal)["reason"]) == ("grpc.health.v1.Health/Check",
                                                                               "HEALTH")
    assert "permitgw.v1.PermitService" in _reflect(gw, prefix)
    assert (_last(gw, principal)["method"], _last(gw, principal)["reason"]) == (REFLECTION[1:], "REFLECTION")

    serial = format(x509.load_pem_x509_certificate(Path(f"{prefix}.crt").read_bytes()).serial_number, "x")
    run_cli("cert", "revoke", "--data", str(gw.data), "--serial", serial)
    wait_until_revoked(lambda: _health(gw, prefix), 15)  # the revocation list is re-read within seconds
    assert (_last(gw, principal)["decision"], _last(gw, principal)["reason"]) == ("deny", "CERTIFICATE_REVOKED")
    for attempt in (lambda: _reflect(gw, prefix), lambda: _raw_call(gw, prefix, STATUS, UNDECODABLE["truncated"]),
                    lambda: _raw_call(gw, prefix, "/no.Such/Method", b"")):
        before = len(gw.log())
        with pytest.raises(grpc.RpcError) as exc:
            err = attempt()
            raise err if isinstance(err, grpc.RpcError) else AssertionError("answered a revoked certificate")
        assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
        log = gw.log()
        assert len(log) > before and (log[-1]["principal"], log[-1]["reason"]) == (principal, "CERTIFICATE_REVOKED")


def _unreadable_certificate(g: Gateway) -> tuple[Path, str]:
    """A certificate the gateway CA signed for client authentication, but with no principal URI in it."""
    ca_cert, ca_key = load_ca(g.data / "keys")
    key = ec.generate_private_key(ec.SECP256R1())
    now = _dt.datetime.now(_dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no principal")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(hours=1)).not_valid_after(now + _dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    prefix = g.root / "unreadable"
    Path(f"{prefix}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    Path(f"{prefix}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    Path(f"{prefix}.ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return prefix, "sha256:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def test_a_certificate_without_a_readable_principal_is_logged_by_its_fingerprint(gw: Gateway) -> None:
    prefix, fingerprint = _unreadable_certificate(gw)
    for attempt in (lambda: gw.ask(prefix, valid_holder(gw).id_number, "compulsory-education"),
                    lambda: _health(gw, prefix), lambda: _raw_call(gw, prefix, STATUS, UNDECODABLE["truncated"])):
        with pytest.raises(grpc.RpcError) as exc:
            err = attempt()
            raise err if isinstance(err, grpc.RpcError) else AssertionError("answered an unreadable principal")
        assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_info(exc.value).reason == "NOT_A_GATEWAY_PRINCIPAL"
        entry = gw.log()[-1]
        assert (entry["principal"], entry["serial"], entry["decision"]) == ("", fingerprint, "deny")
