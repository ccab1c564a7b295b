"""End to end: CheckEnrollment cannot be turned into a permit lookup of any adult.

The attack: one child, a different adult named as "guardian" in every call. Every adult named is a subject of
the call (logged, counted by the quota and the bulk-lookup alert, in their own access report), and the answer
about an adult who is not on record as the child's guardian is the same whatever that adult's permit.
"""
from __future__ import annotations

import datetime as _dt

import grpc
import pytest

from gateway.client import channel
from permitgw.v1 import audit_pb2, audit_pb2_grpc, common_pb2, entitlement_pb2, entitlement_pb2_grpc
from tests.e2e.conftest import Gateway, error_info
from tests.e2e.test_enrollment_e2e import CTX, _entitled_child
from tests.helpers import make_id

CHECK = "permitgw.v1.EntitlementService/CheckEnrollment"
AUDIT_CTX = common_pb2.RequestContext(purpose="access-audit", case_id="SJ-2026-5", operator_id="A-2")
CALLS = 300


def test_naming_adults_one_after_another_reveals_nothing_and_is_counted(gw: Gateway) -> None:
    child = _entitled_child(gw)
    recorded = {child.guardian.id_number, *child.guardian_ids}
    real = [p for p in gw.people if p.permit_number and p.id_number not in recorded and p.id_number != child.id_number]
    today = _dt.date.today()
    assert {p.permit_state == "1" and p.permit_valid_until >= today for p in real} == {True, False}, \
        "the population must hold both valid and invalid permits for the attack to mean anything"
    made_up = [make_id("330203", _dt.date(1980, 1, 1) + _dt.timedelta(days=i), 7) for i in range(CALLS - len(real))]
    adults = [p.id_number for p in real] + made_up
    school = gw.cert("harvester", "school", child.guardian.district)
    answers: dict[str, tuple[object, ...]] = {}
    refused: list[str] = []
    with channel(gw.address, school) as ch:
        stub = entitlement_pb2_grpc.EntitlementServiceStub(ch)
        for adult in adults:
            try:
                a = stub.CheckEnrollment(entitlement_pb2.CheckEnrollmentRequest(
                    context=CTX, child_id_number=child.id_number, guardian_id_numbers=[adult]), timeout=10)
            except grpc.RpcError as err:
                assert err.code() == grpc.StatusCode.PERMISSION_DENIED
                assert error_info(err).reason == "QUOTA_EXCEEDED"
                refused.append(adult)
                continue
            answers[adult] = (a.decision, tuple((r.code, r.message) for r in a.reasons), a.guardian_district,
                              a.guardian_permit_valid_until, a.HasField("points"))
    assert len({answers[p.id_number] for p in real if p.id_number in answers}) == 1, "an adult's permit leaked"
    (decision, reasons, *_), = set(answers.values())
    assert decision == entitlement_pb2.ENROLLMENT_DECISION_NEEDS_REVIEW
    assert [code for code, _ in reasons] == ["GUARDIAN_NOT_ON_RECORD"]
    # the quota (policies/quotas.toml: a school may ask about 200 distinct people an hour) counts the adults
    assert len(answers) == 199 and refused == adults[199:]

    log = [e for e in gw.log() if e["principal"] == f"school/{child.guardian.district}/ORG-harvester"]
    calls = [e for e in log if e["method"] == CHECK and e["decision"] != "alert"]
    assert len(calls) == CALLS
    assert all(len(e["subjects"]) == 1 for e in calls) and len({e["subjects"][0] for e in calls}) == CALLS
    assert {e["subject"] for e in calls} == {calls[0]["subject"]}  # the child
    assert "BULK_LOOKUP" in {e["reason"] for e in log if e["decision"] == "alert"}

    auditor = audit_pb2_grpc.AuditServiceStub(channel(gw.address, gw.cert("guardian-auditor", "auditor", "330200")))
    for adult in (real[0].id_number, adults[-1]):  # asked about and answered; asked about and refused
        report = auditor.GetSubjectAccessReport(audit_pb2.GetSubjectAccessReportRequest(
            context=AUDIT_CTX, id_number=adult), timeout=10)
        assert [(a.organisation, a.method) for a in report.accesses if a.organisation == "ORG-harvester"] == [
            ("ORG-harvester", CHECK)]
        found = list(auditor.SearchAccessLog(audit_pb2.SearchAccessLogRequest(
            context=AUDIT_CTX, subject_id_number=adult, principal=log[0]["principal"]), timeout=10))
        accesses = [e for e in found if e.decision != "alert"]  # a refusal may also have raised a quota alert
        assert len(accesses) == 1 and len(accesses[0].subjects) == 1


def test_more_guardians_than_a_child_has_is_invalid_and_logged(gw: Gateway) -> None:
    child = _entitled_child(gw)
    adults = [p.id_number for p in gw.people[:3]]
    school = gw.cert(f"school-{child.guardian.district}", "school", child.guardian.district)
    with channel(gw.address, school) as ch, pytest.raises(grpc.RpcError) as exc:
        entitlement_pb2_grpc.EntitlementServiceStub(ch).CheckEnrollment(entitlement_pb2.CheckEnrollmentRequest(
            context=CTX, child_id_number=child.id_number, guardian_id_numbers=adults), timeout=10)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "guardian_id_numbers" in (exc.value.details() or "")
    entry = gw.log()[-1]
    assert (entry["method"], entry["decision"], entry["reason"]) == (CHECK, "invalid", "INVALID_ARGUMENT")
