"""permitgw.v1.EntitlementService and its education dialect: may this child enrol (S-1)?

Thin: authenticate → authorise → decide (rules/enrollment.py) → project → log → answer, shared by both.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

from google.protobuf import json_format

from adapters import education
from gateway import casefile
from gateway.domain.dates import InvalidDate, parse_date
from gateway.domain.idnumber import IdNumber
from gateway.identity.principal import Principal
from gateway.policy.catalogue import SERVICE_CODES
from gateway.rules.eligibility import HousingSettings, evaluate_eligibility, housing_facts
from gateway.rules.enrollment import EnrollmentDecision, EnrollmentSettings, Outcome, check_enrollment
from gateway.rules.entitlements import service_entitlement
from gateway.rules.permit_status import permit_status
from gateway.rules.points import PointsTable
from gateway.server import errors
from gateway.server.gate import Call, Gate, handler
from gateway.server.points_service import points_for
from permitgw.education.v1 import education_pb2, education_pb2_grpc
from permitgw.v1 import common_pb2, entitlement_pb2, entitlement_pb2_grpc

SERVICE = "permitgw.v1.EntitlementService"
CHECK_ENROLLMENT = f"{SERVICE}/CheckEnrollment"
EDU_SERVICE = "permitgw.education.v1.EnrollmentService"
EDU_CHECK_ENROLLMENT = f"{EDU_SERVICE}/CheckEnrollment"
CHECK_SERVICE = f"{SERVICE}/CheckService"
EVALUATE_ELIGIBILITY = f"{SERVICE}/EvaluatePermitEligibility"

MAX_GUARDIANS = 2  # the Education Bureau records two guardians per child (JHR1 / JHR2), the PSB one
_OUTCOME = {
    Outcome.ENTITLED: entitlement_pb2.ENROLLMENT_DECISION_ENTITLED,
    Outcome.NOT_ENTITLED: entitlement_pb2.ENROLLMENT_DECISION_NOT_ENTITLED,
    Outcome.NEEDS_REVIEW: entitlement_pb2.ENROLLMENT_DECISION_NEEDS_REVIEW,
}


def decide_enrollment(gate: Gate, settings: EnrollmentSettings, call: Call, context: Any, req_ctx: Any,
                      child_raw: str, child_field: str, guardians_raw: Sequence[tuple[str, str]]
                      ) -> tuple[Principal, IdNumber, EnrollmentDecision]:
    """The school's district comes from its certificate only; guardians are (raw, field name) pairs.

    Every adult named is a subject of the call (logged, counted by the quota, in their own access report);
    only those on record as the child's guardians are looked up.
    """
    named = [(raw, name) for raw, name in guardians_raw if raw.strip()]
    if len(named) > MAX_GUARDIANS:
        gate.admit(call, context, req_ctx)  # refusals outrank argument errors
        raise errors.invalid_argument("guardian_id_numbers", f"at most {MAX_GUARDIANS} guardians (a child has "
                                      f"at most {MAX_GUARDIANS})")
    principal = gate.admit(call, context, req_ctx, child_raw, [raw for raw, _ in named])
    child = gate.subject(call, child_raw, child_field)
    guardians = [gate.identity(raw, name) for raw, name in named]
    store = gate.store
    ships = store.guardianships(child)
    permits = {g: store.permits(g) for g in {s.guardian for s in ships}}
    decision = check_enrollment(child, guardians, ships, permits, principal.district, gate.today(), settings)
    return principal, child, decision


def enrollment_points(gate: Gate, settings: EnrollmentSettings, table: PointsTable, school_district: str,
                      d: EnrollmentDecision) -> float | None:
    """The deciding guardian's points, only where the school's district admits by points (enrollment.toml)."""
    if school_district not in settings.points_districts or d.guardian is None:
        return None
    return points_for(gate, table, d.guardian, school_district).total


def parse_as_of(raw: str, today: _dt.date) -> _dt.date:
    if not raw.strip():
        return today
    try:
        return parse_date(raw)
    except InvalidDate as exc:
        raise errors.invalid_argument("as_of", "a date as YYYY-MM-DD") from exc



class EntitlementService(entitlement_pb2_grpc.EntitlementServiceServicer):
    def __init__(self, gate: Gate, settings: EnrollmentSettings, housing: HousingSettings,
                 points: PointsTable) -> None:
        self.gate, self.settings, self.housing, self.points = gate, settings, housing, points

    @handler(CHECK_ENROLLMENT)
    def CheckEnrollment(self, request: Any, context: Any, call: Call) -> entitlement_pb2.CheckEnrollmentResponse:
        guardians = [(raw, f"guardian_id_numbers[{i}]") for i, raw in enumerate(request.guardian_id_numbers)]
        principal, child, d = decide_enrollment(self.gate, self.settings, call, context, request.context,
                                                request.child_id_number, "child_id_number", guardians)
        answer = entitlement_pb2.CheckEnrollmentResponse(
            decision=_OUTCOME[d.outcome],
            reasons=[common_pb2.Reason(code=r.code, message=r.message) for r in d.reasons],
            guardian_district=d.guardian_district,
            guardian_permit_valid_until=d.guardian_valid_until.isoformat() if d.guardian_valid_until else "",
            child_id_number=child.value)
        points = enrollment_points(self.gate, self.settings, self.points, principal.district, d)
        if points is not None:
            answer.points = points
        return self.gate.answer(call, answer, d.reasons[0].code, attest="attestation")

    @handler(CHECK_SERVICE)
    def CheckService(self, request: Any, context: Any, call: Call) -> entitlement_pb2.CheckServiceResponse:
        principal = self.gate.admit(call, context, request.context, request.id_number)
        who = self.gate.subject(call, request.id_number, "id_number")
        code = request.service_code.strip().upper()
        if code not in SERVICE_CODES:
            raise errors.invalid_argument("service_code", f"one of {', '.join(SERVICE_CODES)}")
        covered = (call.table or self.gate.policy.table).catalogue.purpose_services.get(call.purpose, frozenset())
        if code not in covered:
            raise errors.permission_denied("PURPOSE_NOT_ALLOWED", f"purpose {call.purpose!r} does not cover "
                                           f"service {code}", {"purpose": call.purpose, "service_code": code})
        answer = entitlement_pb2.CheckServiceResponse(id_number=who.value)
        if code == "H-1":
            facts = housing_facts(casefile.load(self.gate.store, who), self.gate.today(), self.housing)
            answer.entitled, reasons = facts.entitled, facts.reasons
            answer.housing_facts.CopyFrom(entitlement_pb2.HousingFacts(
                employment_bases=facts.employment_bases, residence_bases=facts.residence_bases,
                social_insurance_months=facts.si_months, residence_months=facts.residence_months))
        else:
            status = permit_status(self.gate.store.permits(who), self.gate.today())
            ent = service_entitlement(status, code, principal.district)
            answer.entitled, reasons = ent.entitled, ent.reasons
        answer.reasons.extend(common_pb2.Reason(code=r.code, message=r.message) for r in reasons)
        return self.gate.answer(call, answer, reasons[0].code if reasons else code, attest="attestation")

    @handler(EVALUATE_ELIGIBILITY)
    def EvaluatePermitEligibility(self, request: Any, context: Any, call: Call
                                  ) -> entitlement_pb2.EvaluatePermitEligibilityResponse:
        self.gate.admit(call, context, request.context, request.id_number)
        who = self.gate.subject(call, request.id_number, "id_number")
        as_of = parse_as_of(request.as_of, self.gate.today())
        d = evaluate_eligibility(casefile.load(self.gate.store, who), as_of)
        answer = entitlement_pb2.EvaluatePermitEligibilityResponse(
            eligible=d.eligible, bases=d.bases, as_of=as_of.isoformat(),
            reasons=[common_pb2.Reason(code=r.code, message=r.message) for r in d.reasons],
            id_number=who.value)
        return self.gate.answer(call, answer, "ELIGIBLE" if d.eligible else "NOT_ELIGIBLE")


class EducationEnrollmentService(education_pb2_grpc.EnrollmentServiceServicer):
    def __init__(self, gate: Gate, settings: EnrollmentSettings, points: PointsTable) -> None:
        self.gate, self.settings, self.points = gate, settings, points

    @handler(EDU_CHECK_ENROLLMENT)
    def CheckEnrollment(self, request: Any, context: Any, call: Call) -> education_pb2.CheckEnrollmentResponse:
        try:
            child_raw, field = education.child_from_request(request.XJH, request.SFZJH)
        except education.BadChildReference as exc:
            self.gate.admit(call, context, request.context)  # refusals outrank argument errors
            raise errors.invalid_argument(exc.field, str(exc)) from exc
        guardians = [(request.JHR1SFZJH, "JHR1SFZJH"), (request.JHR2SFZJH, "JHR2SFZJH")]
        principal, child, d = decide_enrollment(self.gate, self.settings, call, context, request.context,
                                                child_raw, field, guardians)
        points = enrollment_points(self.gate, self.settings, self.points, principal.district, d)
        fields = education.enrollment_fields(d, child.value, field, points, b"")
        answer = json_format.ParseDict(fields, education_pb2.CheckEnrollmentResponse())
        return self.gate.answer(call, answer, d.reasons[0].code, attest="PZ")

