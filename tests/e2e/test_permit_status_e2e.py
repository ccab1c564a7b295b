"""End to end: `permitgw` init, import, cert issue and serve as real processes; real mTLS clients.

What the demo shows, asserted: a school is answered, a hospital with the wrong purpose is refused,
bad input is INVALID_ARGUMENT naming the field, identity comes only from the certificate, and every
call — allowed or not — is in the access log with no plaintext identity number.
"""
from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from gateway.client import channel
from gateway.domain import clock
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc
from tests.conftest import run_cli
from tests.e2e.conftest import Gateway, error_info, valid_holder, wait_until_revoked

GPS = "permitgw.v1.PermitService/GetPermitStatus"


def test_school_is_answered_with_masked_identity(gw: Gateway) -> None:
    holder = valid_holder(gw)
    answer = gw.ask(gw.cert("school", "school", "330203"), holder.id_number, "compulsory-education")
    assert answer.status == permit_pb2.PERMIT_STATUS_VALID
    assert answer.valid_until == holder.permit_valid_until.isoformat()
    assert answer.district == holder.district
    assert answer.id_number == holder.id_number[:6] + "********" + holder.id_number[-4:]
    assert answer.reasons and answer.reasons[0].code == "S-1..S-6"


def test_every_status_is_reported(gw: Gateway) -> None:
    school = gw.cert("school", "school", "330203")
    today = clock.today()
    expected = {"2": permit_pb2.PERMIT_STATUS_EXPIRED, "3": permit_pb2.PERMIT_STATUS_CANCELLED,
                "4": permit_pb2.PERMIT_STATUS_REVOKED}
    seen = set()
    for p in gw.people:
        if not p.permit_number:
            want = permit_pb2.PERMIT_STATUS_NONE
        elif p.permit_state == "1":
            want = permit_pb2.PERMIT_STATUS_VALID if p.permit_valid_until >= today else permit_pb2.PERMIT_STATUS_EXPIRED
        else:
            want = expected[p.permit_state]
        assert gw.ask(school, p.id_number, "compulsory-education").status == want
        seen.add(want)
    assert {permit_pb2.PERMIT_STATUS_VALID, permit_pb2.PERMIT_STATUS_NONE} <= seen


def test_police_see_the_whole_number(gw: Gateway) -> None:
    holder = valid_holder(gw)
    answer = gw.ask(gw.cert("police", "police", "330203"), holder.id_number, "permit-administration")
    assert answer.id_number == holder.id_number


@pytest.mark.parametrize("purpose", ["compulsory-education", "", "housing-security", "made-up"])
def test_hospital_with_a_purpose_its_role_may_not_use_is_refused(gw: Gateway, purpose: str) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        gw.ask(gw.cert("hospital", "health", "330212"), valid_holder(gw).id_number, purpose)
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(exc.value).reason == "PURPOSE_NOT_ALLOWED"


def test_bad_identity_number_is_invalid_argument_naming_the_field(gw: Gateway) -> None:
    holder = valid_holder(gw)
    bad = holder.id_number[:-1] + ("0" if holder.id_number[-1] != "0" else "1")
    with pytest.raises(grpc.RpcError) as exc:
        gw.ask(gw.cert("school", "school", "330203"), bad, "compulsory-education")
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    st = rpc_status.from_call(exc.value)  # type: ignore[arg-type]
    br = error_details_pb2.BadRequest()
    assert any(d.Unpack(br) for d in st.details)
    assert [v.field for v in br.field_violations] == ["id_number"]
    assert bad not in exc.value.details() and bad[:17] not in exc.value.details()


def test_identity_claimed_in_metadata_is_ignored(gw: Gateway) -> None:
    school = gw.cert("school", "school", "330203")
    with pytest.raises(grpc.RpcError) as exc:
        gw.ask(school, valid_holder(gw).id_number, "permit-administration",
               metadata=(("x-role", "police"), ("x-principal", "police/330203/PSB"), ("role", "police")))
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert gw.log()[-1]["role"] == "school"


def test_no_client_certificate_no_connection(gw: Gateway) -> None:
    ca = Path(f"{gw.cert('school', 'school', '330203')}.ca.crt").read_bytes()
    creds = grpc.ssl_channel_credentials(root_certificates=ca)
    with grpc.secure_channel(gw.address, creds, options=[("grpc.ssl_target_name_override", "localhost")]) as ch:
        req = permit_pb2.GetPermitStatusRequest(id_number=valid_holder(gw).id_number)
        with pytest.raises(grpc.RpcError) as exc:
            permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(req, timeout=5)
    assert exc.value.code() == grpc.StatusCode.UNAVAILABLE


def test_certificate_from_another_ca_is_refused(gw: Gateway, tmp_path: Path) -> None:
    other = tmp_path / "other"
    run_cli("init", "--data", str(other))
    prefix = tmp_path / "rogue"
    run_cli("cert", "issue", "--data", str(other), "--role", "police", "--org", "X", "--name", "rogue",
            "--district", "330203", "--out", str(prefix))
    # trust our gateway's server certificate, but present a client certificate from the other CA
    Path(f"{prefix}.ca.crt").write_bytes(Path(f"{gw.cert('school', 'school', '330203')}.ca.crt").read_bytes())
    with pytest.raises(grpc.RpcError) as exc:
        gw.ask(prefix, valid_holder(gw).id_number, "permit-administration")
    assert exc.value.code() == grpc.StatusCode.UNAVAILABLE


def test_revoked_certificate_is_refused_within_five_seconds(gw: Gateway) -> None:
    prefix = gw.cert("revokee", "school", "330205")
    holder = valid_holder(gw)
    gw.ask(prefix, holder.id_number, "compulsory-education")
    serial = format(__import__("cryptography.x509", fromlist=["x"]).load_pem_x509_certificate(
        Path(f"{prefix}.crt").read_bytes()).serial_number, "x")
    run_cli("cert", "revoke", "--data", str(gw.data), "--serial", serial)
    wait_until_revoked(lambda: gw.ask(prefix, holder.id_number, "compulsory-education"), 5)
    assert gw.log()[-1]["reason"] == "CERTIFICATE_REVOKED"


def test_revoking_an_unknown_serial_fails_clearly(gw: Gateway) -> None:
    proc = run_cli("cert", "revoke", "--data", str(gw.data), "--serial", "deadbeef", check=False)
    assert proc.returncode == 1 and "never issued" in proc.stderr


def test_health_and_reflection(gw: Gateway) -> None:
    with channel(gw.address, gw.cert("school", "school", "330203")) as ch:
        h = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service="permitgw.v1.PermitService"))
        assert h.status == health_pb2.HealthCheckResponse.SERVING
        req = reflection_pb2.ServerReflectionRequest(list_services="")
        resp = next(iter(reflection_pb2_grpc.ServerReflectionStub(ch).ServerReflectionInfo(iter([req]))))
        names = {s.name for s in resp.list_services_response.service}
    assert {"permitgw.v1.PermitService", "grpc.health.v1.Health"} <= names


def test_every_call_is_logged_without_plaintext(gw: Gateway) -> None:
    school = gw.cert("school", "school", "330203")
    holder = valid_holder(gw)
    before = len(gw.log())
    gw.ask(school, holder.id_number, "compulsory-education")
    with pytest.raises(grpc.RpcError):
        gw.ask(school, holder.id_number, "public-health")
    with pytest.raises(grpc.RpcError):
        gw.ask(school, "123", "compulsory-education")
    entries = gw.log()
    assert len(entries) == before + 3
    allowed, denied, invalid = entries[-3:]
    assert (allowed["decision"], allowed["reason"], allowed["method"]) == ("allow", "S-1..S-6", GPS)
    assert (denied["decision"], denied["reason"]) == ("deny", "PURPOSE_NOT_ALLOWED")
    assert (invalid["decision"], invalid["reason"]) == ("invalid", "INVALID_ARGUMENT")
    # a refused request still records whom it tried to look up (by blind index); an invalid number cannot be
    assert len(allowed["subject"]) == 64 and denied["subject"] == allowed["subject"] and invalid["subject"] == ""
    for e in entries[-3:]:
        assert e["role"] == "school" and e["district"] == "330203" and e["org"] == "ORG-school"
        assert e["case_id"] == "CASE-1" and e["operator_id"] == "OP-7" and e["policy_version"].startswith("sha256:")
    by_subject = run_cli("audit", "search", "--data", str(gw.data), "--subject", holder.id_number, "--json").stdout
    assert by_subject.count("\n") >= 1 and holder.id_number not in by_subject
    raw = b"".join(p.read_bytes() for p in gw.data.glob("gateway.db*"))
    for p in gw.people:
        assert p.id_number.encode() not in raw and p.name.encode() not in raw


# --- the health bureau's own dialect (permitgw.health.v1), through the same authorise → log path ---------

HEALTH_GPS = "permitgw.health.v1.HealthPermitService/GetPermitStatus"


def _ask_health(g: Gateway, prefix: Path, id_number: str, purpose: str) -> object:
    from permitgw.health.v1 import permit_status_pb2, permit_status_pb2_grpc

    req = permit_status_pb2.GetPermitStatusRequest(
        context=common_pb2.RequestContext(purpose=purpose, case_id="MZ-1", operator_id="D-1"),
        DE02_01_030_00=id_number)
    with channel(g.address, prefix) as ch:
        return permit_status_pb2_grpc.HealthPermitServiceStub(ch).GetPermitStatus(req, timeout=10)


def test_hospital_dialect_answers_in_data_elements(gw: Gateway) -> None:
    from google.protobuf import json_format

    holder = valid_holder(gw)
    hospital = gw.cert(f"hospital-{holder.district}", "health", holder.district)
    answer = _ask_health(gw, hospital, holder.id_number, "public-health")
    assert json_format.MessageToDict(answer) == {
        "DE02.01.030.00": holder.id_number[:6] + "********" + holder.id_number[-4:],
        "JZZZT": "1", "JZZYXQ": holder.permit_valid_until.isoformat(), "FWXM": ["S-3", "C-6"]}
    entry = gw.log()[-1]
    assert (entry["method"], entry["decision"], entry["purpose"]) == (HEALTH_GPS, "allow", "public-health")
    assert len(entry["subject"]) == 64


def test_hospital_dialect_is_authorised_and_logged_like_the_canonical_api(gw: Gateway) -> None:
    holder = valid_holder(gw)
    with pytest.raises(grpc.RpcError) as exc:
        _ask_health(gw, gw.cert("school", "school", "330203"), holder.id_number, "compulsory-education")
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(exc.value).reason == "POLICY_DENIED"  # a school's purpose, but not this dialect
    assert (gw.log()[-1]["method"], gw.log()[-1]["decision"]) == (HEALTH_GPS, "deny")
    with pytest.raises(grpc.RpcError) as exc:
        _ask_health(gw, gw.cert("hospital", "health", "330212"), "33020319990230123X", "public-health")
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    st = rpc_status.from_call(exc.value)  # type: ignore[arg-type]
    br = error_details_pb2.BadRequest()
    assert any(d.Unpack(br) for d in st.details) and br.field_violations[0].field == "DE02.01.030.00"


def test_expired_certificate_is_refused(gw: Gateway, tmp_path: Path) -> None:
    """Signed by the right CA, carrying a valid principal, but past its validity: the TLS handshake fails."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    from gateway.identity.ca import load_ca
    from gateway.identity.principal import Principal, principal_to_uri

    ca_cert, ca_key = load_ca(gw.data / "keys")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired school")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=400)).not_valid_after(now - dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(principal_to_uri(
                Principal("school", "OLD", "expired school", "330203")))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    prefix = tmp_path / "expired"
    Path(f"{prefix}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    Path(f"{prefix}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    Path(f"{prefix}.ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(grpc.RpcError) as exc:
        gw.ask(prefix, valid_holder(gw).id_number, "compulsory-education")
    assert exc.value.code() == grpc.StatusCode.UNAVAILABLE  # no connection: the handshake itself fails
