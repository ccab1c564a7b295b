"""Minimum necessary, end to end: for every role, the exact fields every method returns (or its refusal).

The expectations are written here by hand from docs/domain.md "Who may see what", not derived from the policy
files, and compared with what a real server sends over mTLS.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

import grpc
import pytest
from google.protobuf.message import Message

from gateway.client import channel
from gateway.domain import clock
from gateway.synth.people import SynthPerson
from permitgw.education.v1 import education_pb2, education_pb2_grpc
from permitgw.health.v1 import permit_status_pb2 as hospital_pb2
from permitgw.health.v1 import permit_status_pb2_grpc as hospital_pb2_grpc
from permitgw.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    common_pb2,
    entitlement_pb2,
    entitlement_pb2_grpc,
    permit_pb2,
    permit_pb2_grpc,
    points_pb2,
    points_pb2_grpc,
    statistics_pb2,
    statistics_pb2_grpc,
)
from tests.e2e.conftest import Gateway

STATUS = {"status", "valid_until", "district", "reasons", "id_number"}
HISTORY = {"id_number", "registrations.district", "registrations.declared_on", "registrations.housing_type",
           "permits.district", "permits.issued_on", "permits.valid_until", "permits.endorsed_on", "permits.status"}
EVERYTHING = HISTORY | {"name", "registrations.address", "permits.permit_number"}
HOSPITAL = {"DE02_01_030_00", "JZZZT", "JZZYXQ", "FWXM"}
ENROL = {"decision", "reasons", "guardian_district", "guardian_permit_valid_until", "child_id_number", "attestation"}
ENROL_DIALECT = {"SFZJH", "RXZG", "ZGYY", "JZD_XZQH", "JZZYXQ", "PZ"}
SERVICE = {"entitled", "reasons", "id_number", "attestation"}
H1 = SERVICE | {"housing_facts"}
ELIGIBLE = {"eligible", "bases", "reasons", "as_of", "id_number"}
POINTS = {"total", "items", "reasons", "table_version", "id_number"}
RULES = {"table", "table_version"}
AGGREGATES = {"month", "rows", "city_total", "minimum_cell"}
SEARCH = {"seq", "time", "principal", "serial", "role", "organisation", "district", "method", "purpose", "case_id",
          "operator_id", "subject", "decision", "reason", "policy_version"}
CHECKPOINT = {"checkpoint", "size", "root", "verifier_key"}
INCLUSION = {"index", "size", "leaf_hash", "proof", "checkpoint", "entry"}
CONSISTENCY = {"old_size", "new_size", "proof"}
REPORT = {"id_number", "accesses"}
AUDIT = ("SearchAccessLog", "GetCheckpoint", "GetInclusionProof", "GetConsistencyProof", "GetSubjectAccessReport")
MAY_BE_FALSE = {"entitled", "eligible", "bases", "serial", "case_id", "operator_id", "subject"}  # proto3: no empties

# role -> (purpose, service code it may ask about, {method: fields or None for refused})
EXPECTED: dict[str, tuple[str, str, dict[str, set[str] | None]]] = {
    "school": ("compulsory-education", "S-1", {
        "GetPermitStatus": STATUS, "GetResidenceRecord": None, "HealthGetPermitStatus": None,
        "CheckEnrollment": ENROL, "EduCheckEnrollment": ENROL_DIALECT, "CheckService": SERVICE,
        "EvaluatePermitEligibility": None, "GetPoints": None, "GetPointsRules": RULES,
        "GetDistrictStatistics": None, **dict.fromkeys(AUDIT)}),
    "health": ("public-health", "S-3", {
        "GetPermitStatus": STATUS, "GetResidenceRecord": None, "HealthGetPermitStatus": HOSPITAL,
        "CheckEnrollment": None, "EduCheckEnrollment": None, "CheckService": SERVICE,
        "EvaluatePermitEligibility": None, "GetPoints": None, "GetPointsRules": RULES,
        "GetDistrictStatistics": None, **dict.fromkeys(AUDIT)}),
    "employment": ("employment-service", "S-2", {
        "GetPermitStatus": STATUS, "GetResidenceRecord": None, "HealthGetPermitStatus": None,
        "CheckEnrollment": None, "EduCheckEnrollment": None, "CheckService": SERVICE,
        "EvaluatePermitEligibility": None, "GetPoints": None, "GetPointsRules": RULES,
        "GetDistrictStatistics": None, **dict.fromkeys(AUDIT)}),
    "housing": ("housing-security", "H-1", {
        "GetPermitStatus": STATUS, "GetResidenceRecord": HISTORY, "HealthGetPermitStatus": None,
        "CheckEnrollment": None, "EduCheckEnrollment": None, "CheckService": H1,
        "EvaluatePermitEligibility": None, "GetPoints": None, "GetPointsRules": RULES,
        "GetDistrictStatistics": None, **dict.fromkeys(AUDIT)}),
    "police": ("permit-administration", "H-1", {
        "GetPermitStatus": STATUS, "GetResidenceRecord": EVERYTHING, "HealthGetPermitStatus": None,
        "CheckEnrollment": None, "EduCheckEnrollment": None, "CheckService": H1,
        "EvaluatePermitEligibility": ELIGIBLE, "GetPoints": POINTS, "GetPointsRules": RULES,
        "GetDistrictStatistics": None, **dict.fromkeys(AUDIT), "GetSubjectAccessReport": REPORT}),
    "auditor": ("access-audit", "S-1", {
        "GetPermitStatus": None, "GetResidenceRecord": None, "HealthGetPermitStatus": None,
        "CheckEnrollment": None, "EduCheckEnrollment": None, "CheckService": None,
        "EvaluatePermitEligibility": None, "GetPoints": None, "GetPointsRules": RULES,
        "GetDistrictStatistics": None, "SearchAccessLog": SEARCH, "GetCheckpoint": CHECKPOINT,
        "GetInclusionProof": INCLUSION, "GetConsistencyProof": CONSISTENCY, "GetSubjectAccessReport": REPORT}),
    "statistics": ("population-statistics", "S-1", {
        "GetPermitStatus": None, "GetResidenceRecord": None, "HealthGetPermitStatus": None,
        "CheckEnrollment": None, "EduCheckEnrollment": None, "CheckService": None,
        "EvaluatePermitEligibility": None, "GetPoints": None, "GetPointsRules": RULES,
        "GetDistrictStatistics": AGGREGATES, **dict.fromkeys(AUDIT)}),
}
IDENTITY_FIELDS = ("id_number", "child_id_number", "DE02_01_030_00", "SFZJH")  # the subject's number


def populated(msg: Message, prefix: str = "") -> set[str]:
    """Field paths with a value; repeated sub-messages contribute their own fields' paths."""
    out = set()
    for field, value in msg.ListFields():
        if field.message_type is not None and field.is_repeated \
                and not field.message_type.GetOptions().map_entry and field.name in ("registrations", "permits"):
            for item in value:
                out |= populated(item, f"{prefix}{field.name}.")
        else:
            out.add(prefix + field.name)
    return out


def _calls(parent: SynthPerson, child: SynthPerson, service: str, purpose: str
           ) -> dict[str, Callable[[grpc.Channel], Message]]:
    ctx = common_pb2.RequestContext(purpose=purpose, case_id="F-1", operator_id="O-1")
    who = parent.id_number
    month = (clock.today().replace(day=1) - _dt.timedelta(days=1)).strftime("%Y-%m")
    return {
        "GetPermitStatus": lambda ch: permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(
            permit_pb2.GetPermitStatusRequest(context=ctx, id_number=who), timeout=20),
        "GetResidenceRecord": lambda ch: permit_pb2_grpc.PermitServiceStub(ch).GetResidenceRecord(
            permit_pb2.GetResidenceRecordRequest(context=ctx, id_number=who), timeout=20),
        "HealthGetPermitStatus": lambda ch: hospital_pb2_grpc.HealthPermitServiceStub(ch).GetPermitStatus(
            hospital_pb2.GetPermitStatusRequest(context=ctx, DE02_01_030_00=who), timeout=20),
        "CheckEnrollment": lambda ch: entitlement_pb2_grpc.EntitlementServiceStub(ch).CheckEnrollment(
            entitlement_pb2.CheckEnrollmentRequest(context=ctx, child_id_number=child.id_number), timeout=20),
        "EduCheckEnrollment": lambda ch: education_pb2_grpc.EnrollmentServiceStub(ch).CheckEnrollment(
            education_pb2.CheckEnrollmentRequest(context=ctx, SFZJH=child.id_number), timeout=20),
        "CheckService": lambda ch: entitlement_pb2_grpc.EntitlementServiceStub(ch).CheckService(
            entitlement_pb2.CheckServiceRequest(context=ctx, id_number=who, service_code=service), timeout=20),
        "EvaluatePermitEligibility": lambda ch: entitlement_pb2_grpc.EntitlementServiceStub(
            ch).EvaluatePermitEligibility(entitlement_pb2.EvaluatePermitEligibilityRequest(
                context=ctx, id_number=who), timeout=20),
        "GetPoints": lambda ch: points_pb2_grpc.PointsServiceStub(ch).GetPoints(
            points_pb2.GetPointsRequest(context=ctx, id_number=who), timeout=20),
        "GetPointsRules": lambda ch: points_pb2_grpc.PointsServiceStub(ch).GetPointsRules(
            points_pb2.GetPointsRulesRequest(context=ctx), timeout=20),
        "GetDistrictStatistics": lambda ch: statistics_pb2_grpc.StatisticsServiceStub(ch).GetDistrictStatistics(
            statistics_pb2.GetDistrictStatisticsRequest(context=ctx, month=month), timeout=60),
        # a stream: the fields of its first entry
        "SearchAccessLog": lambda ch: next(iter(audit_pb2_grpc.AuditServiceStub(ch).SearchAccessLog(
            audit_pb2.SearchAccessLogRequest(context=ctx, limit=5), timeout=20))),
        "GetCheckpoint": lambda ch: audit_pb2_grpc.AuditServiceStub(ch).GetCheckpoint(
            audit_pb2.GetCheckpointRequest(context=ctx), timeout=20),
        "GetInclusionProof": lambda ch: audit_pb2_grpc.AuditServiceStub(ch).GetInclusionProof(
            audit_pb2.GetInclusionProofRequest(context=ctx, index=1), timeout=20),
        "GetConsistencyProof": lambda ch: audit_pb2_grpc.AuditServiceStub(ch).GetConsistencyProof(
            audit_pb2.GetConsistencyProofRequest(context=ctx, old_size=3, new_size=20), timeout=20),
        "GetSubjectAccessReport": lambda ch: audit_pb2_grpc.AuditServiceStub(ch).GetSubjectAccessReport(
            audit_pb2.GetSubjectAccessReportRequest(context=ctx, id_number=who), timeout=20),
    }


def _subjects(g: Gateway) -> tuple[SynthPerson, SynthPerson]:
    today = clock.today()
    cutoff = _dt.date(today.year, 8, 31)
    for child in g.people:
        p = child.guardian
        age = cutoff.year - child.birth.year - ((cutoff.month, cutoff.day) < (child.birth.month, child.birth.day))
        if p and 6 <= age <= 15 and p.permit_state == "1" and p.permit_valid_until >= today and p.endorsed_on:
            return p, child
    raise AssertionError("no child of age with a validly permitted guardian in the sample")


@pytest.mark.parametrize("role", list(EXPECTED))
def test_every_method_returns_exactly_the_fields_of_the_role(gw: Gateway, role: str) -> None:
    parent, child = _subjects(gw)
    purpose, service, methods = EXPECTED[role]
    district = "330200" if role == "statistics" else parent.district
    prefix = gw.cert(f"fields-{role}-{district}", role, district)
    calls = _calls(parent, child, service, purpose)
    with channel(gw.address, prefix) as ch:
        for method, expected in methods.items():
            if expected is None:
                with pytest.raises(grpc.RpcError) as exc:
                    calls[method](ch)
                assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED, (role, method)
                continue
            answer = calls[method](ch)
            got = populated(answer)
            assert expected - MAY_BE_FALSE <= got <= expected, (role, method, got ^ expected)
            for name in IDENTITY_FIELDS:
                value = getattr(answer, name, "")
                if value:
                    assert ("********" in value) == (role != "police"), (role, method, name)
