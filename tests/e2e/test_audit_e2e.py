"""End to end: attestations a school receives verify offline; the auditor searches the log and
gets proofs that verify against signed checkpoints; a person's access report lists who looked."""
from __future__ import annotations

import json
import time
from pathlib import Path

import grpc
import pytest

from gateway.audit.checkpoint import verify_checkpoint
from gateway.audit.rfc9162 import verify_consistency, verify_inclusion
from gateway.client import channel
from permitgw.v1 import audit_pb2, audit_pb2_grpc, common_pb2, entitlement_pb2, entitlement_pb2_grpc
from tests.conftest import run_cli
from tests.e2e.conftest import Gateway, valid_holder

AUDIT_CTX = common_pb2.RequestContext(purpose="access-audit", case_id="SJ-2026-3", operator_id="A-1")


def _auditor(g: Gateway) -> audit_pb2_grpc.AuditServiceStub:
    return audit_pb2_grpc.AuditServiceStub(channel(g.address, g.cert("auditor", "auditor", "330200")))


def _checkpoint_covering(g: Gateway, index: int) -> audit_pb2.GetCheckpointResponse:
    deadline = time.monotonic() + 25
    while True:
        try:
            cp = _auditor(g).GetCheckpoint(audit_pb2.GetCheckpointRequest(context=AUDIT_CTX), timeout=10)
        except grpc.RpcError as err:  # FAILED_PRECONDITION until the first checkpoint is signed
            assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        else:
            if cp.size > index:
                return cp
        assert time.monotonic() < deadline, "no checkpoint covered the entry within 25 s"
        time.sleep(0.2)  # polling interval within the deadline above


def test_attestation_verifies_offline_and_tampering_fails(gw: Gateway, tmp_path: Path) -> None:
    holder = valid_holder(gw)
    school = gw.cert(f"school-{holder.district}", "school", holder.district)
    with channel(gw.address, school) as ch:
        answer = entitlement_pb2_grpc.EntitlementServiceStub(ch).CheckService(entitlement_pb2.CheckServiceRequest(
            context=common_pb2.RequestContext(purpose="compulsory-education", case_id="RX-77"),
            id_number=holder.id_number, service_code="S-1"), timeout=10)
    assert answer.entitled and answer.attestation.startswith(b"permitgw attestation v1\n")
    assert holder.id_number.encode() not in answer.attestation
    index = json.loads(answer.attestation.split(b"\n")[1])["index"]
    cp = _checkpoint_covering(gw, index)
    att = tmp_path / "att.note"
    att.write_bytes(answer.attestation)
    bundle = tmp_path / "bundle.json"
    ok = run_cli("attest", "verify", str(att), "--data", str(gw.data), "--write-bundle", str(bundle))
    assert ok.stdout.startswith("OK: CheckService decision S-1")
    # a third party with only the bundle and the gateway's published verifier key
    assert run_cli("attest", "verify", str(bundle), "--key", cp.verifier_key).returncode == 0
    forged = json.loads(bundle.read_text())
    forged["attestation"] = forged["attestation"].replace('"decision":"S-1"', '"decision":"S-2"')
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    bad = run_cli("attest", "verify", str(tmp_path / "forged.json"), "--key", cp.verifier_key, check=False)
    assert bad.returncode == 2 and "FAILED" in bad.stdout
    other = json.loads(bundle.read_text())
    other["proof"] = other["proof"][::-1] if len(other["proof"]) > 1 else ["00" * 32]
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert run_cli("attest", "verify", str(tmp_path / "other.json"), "--key", cp.verifier_key,
                   check=False).returncode == 2


def test_auditor_proofs_verify_against_signed_checkpoints(gw: Gateway) -> None:
    stub = _auditor(gw)
    school = gw.cert("school", "school", "330203")
    for p in gw.people[:25]:
        gw.ask(school, p.id_number, "compulsory-education")
    first = _checkpoint_covering(gw, 20)
    cp = verify_checkpoint(first.checkpoint.encode(), first.verifier_key)
    assert (cp.size, cp.root) == (first.size, first.root)
    for index in (0, cp.size // 2, cp.size - 1):
        proof = stub.GetInclusionProof(audit_pb2.GetInclusionProofRequest(context=AUDIT_CTX, index=index,
                                                                           size=cp.size), timeout=10)
        assert verify_inclusion(proof.leaf_hash, index, cp.size, list(proof.proof), cp.root)
        assert proof.entry.seq == index + 1
    for p in gw.people[25:50]:  # the log grows; a later checkpoint must be consistent with the earlier one
        gw.ask(school, p.id_number, "compulsory-education")
    later = _checkpoint_covering(gw, cp.size + 20)
    cp2 = verify_checkpoint(later.checkpoint.encode(), later.verifier_key)
    con = stub.GetConsistencyProof(audit_pb2.GetConsistencyProofRequest(context=AUDIT_CTX, old_size=cp.size,
                                                                        new_size=cp2.size), timeout=10)
    assert verify_consistency(cp.size, cp2.size, cp.root, cp2.root, list(con.proof))
    assert not verify_consistency(cp.size, cp2.size, bytes(32), cp2.root, list(con.proof))
    again = stub.GetCheckpoint(audit_pb2.GetCheckpointRequest(context=AUDIT_CTX, size=cp.size), timeout=10)
    assert again.root == cp.root  # the old checkpoint is still served as signed
    with pytest.raises(grpc.RpcError) as exc:
        stub.GetInclusionProof(audit_pb2.GetInclusionProofRequest(context=AUDIT_CTX, index=cp.size, size=cp.size))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_search_and_subject_report(gw: Gateway) -> None:
    holder = valid_holder(gw)
    gw.ask(gw.cert("school", "school", "330203"), holder.id_number, "compulsory-education")
    stub = _auditor(gw)
    found = list(stub.SearchAccessLog(audit_pb2.SearchAccessLogRequest(
        context=AUDIT_CTX, subject_id_number=holder.id_number, role="school", decision="allow"), timeout=20))
    assert found and all(e.role == "school" and e.decision == "allow" for e in found)
    assert len({e.subject for e in found}) == 1 and holder.id_number not in str(found)
    report = stub.GetSubjectAccessReport(audit_pb2.GetSubjectAccessReportRequest(
        context=AUDIT_CTX, id_number=holder.id_number), timeout=10)
    assert any(a.organisation == "ORG-school" and a.purpose == "compulsory-education" for a in report.accesses)
    assert report.id_number.count("*") == 8
    log = gw.log()
    assert [e["method"] for e in log[-2:]] == ["permitgw.v1.AuditService/SearchAccessLog",
                                                "permitgw.v1.AuditService/GetSubjectAccessReport"]
    assert log[-1]["subject"] == found[0].subject  # the auditor's own look is on the person's record too


def test_a_storm_of_refusals_raises_an_alert_auditors_can_search(gw: Gateway) -> None:
    prober = gw.cert("prober", "school", "330203")
    for _ in range(10):  # policies/anomalies.toml: 10 denied or invalid in 5 minutes
        with pytest.raises(grpc.RpcError):
            gw.ask(prober, gw.people[0].id_number, "permit-administration")
    alerts = list(_auditor(gw).SearchAccessLog(audit_pb2.SearchAccessLogRequest(
        context=AUDIT_CTX, decision="alert", principal="school/330203/ORG-prober"), timeout=20))
    assert [a.reason for a in alerts] == ["DENIED_STORM"]
