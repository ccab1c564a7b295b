"""permitgw.v1.EntitlementService and its education dialect: may this child enrol (S-1), is this person entitled
to a service (CheckService), do they meet a basis for a permit (EvaluatePermitEligibility)?

Thin: admit through the gate, call the use case (service/enrolment.py, entitlement.py, eligibility.py), build the
answer, gate.answer projects and logs it.
"""
from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import json_format

from adapters import education
from gateway.domain.dates import InvalidDate
from gateway.domain.idnumber import IdNumber
from gateway.identity.principal import Principal
from gateway.rules.eligibility import HousingSettings
from gateway.rules.enrollment import EnrollmentDecision, EnrollmentSettings, Outcome
from gateway.rules.points import PointsTable
from gateway.server import errors
from gateway.server.gate import Call, Gate, Stated, handler
from gateway.service import eligibility, enrolment, entitlement
from permitgw.education.v1 import education_pb2, education_pb2_grpc
from permitgw.v1 import common_pb2, entitlement_pb2, entitlement_pb2_grpc

SERVICE = "permitgw.v1.EntitlementService"
CHECK_ENROLLMENT = f"{SERVICE}/CheckEnrollment"
EDU_SERVICE = "permitgw.education.v1.EnrollmentService"
EDU_CHECK_ENROLLMENT = f"{EDU_SERVICE}/CheckEnrollment"
CHECK_SERVICE = f"{SERVICE}/CheckService"
EVALUATE_ELIGIBILITY = f"{SERVICE}/EvaluatePermitEligibility"

_OUTCOME = {
    Outcome.ENTITLED: entitlement_pb2.ENROLLMENT_DECISION_ENTITLED,
    Outcome.NOT_ENTITLED: entitlement_pb2.ENROLLMENT_DECISION_NOT_ENTITLED,
    Outcome.NEEDS_REVIEW: entitlement_pb2.ENROLLMENT_DECISION_NEEDS_REVIEW,
}


def decide_enrollment(gate: Gate, settings: EnrollmentSettings, call: Call, context: grpc.ServicerContext,
                      req_ctx: Stated, child_raw: str, child_field: str, guardians_raw: Sequence[tuple[str, str]]
                      ) -> tuple[Principal, IdNumber, EnrollmentDecision]:
    """Admit the school (its district comes from its certificate only) about the child and every adult named,
    then decide; guardians are (raw, field name) pairs, shared by the canonical API and the education dialect."""
    named = enrolment.named(guardians_raw)
    if len(named) > enrolment.MAX_GUARDIANS:
        gate.admit(call, context, req_ctx)  # refusals outrank argument errors
        raise errors.invalid_argument("guardian_id_numbers", f"at most {enrolment.MAX_GUARDIANS} guardians (a "
                                      f"child has at most {enrolment.MAX_GUARDIANS})")
    principal = gate.admit(call, context, req_ctx, child_raw, [raw for raw, _ in named])
    child = gate.subject(call, child_raw, child_field)
    guardians = [gate.identity(raw, name) for raw, name in named]
    decision = enrolment.check(gate.store, child, guardians, principal.district, gate.today(), settings)
    return principal, child, decision


class EntitlementService(entitlement_pb2_grpc.EntitlementServiceServicer):
    def __init__(self, gate: Gate, settings: EnrollmentSettings, housing: HousingSettings,
                 points: PointsTable) -> None:
        self.gate, self.settings, self.housing, self.points = gate, settings, housing, points

    @handler(CHECK_ENROLLMENT)
    def CheckEnrollment(self, request: entitlement_pb2.CheckEnrollmentRequest, context: grpc.ServicerContext,
                        call: Call) -> entitlement_pb2.CheckEnrollmentResponse:
        guardians = [(raw, f"guardian_id_numbers[{i}]") for i, raw in enumerate(request.guardian_id_numbers)]
        principal, child, d = decide_enrollment(self.gate, self.settings, call, context, request.context,
                                                request.child_id_number, "child_id_number", guardians)
        answer = entitlement_pb2.CheckEnrollmentResponse(
            decision=_OUTCOME[d.outcome],
            reasons=[common_pb2.Reason(code=r.code, message=r.message) for r in d.reasons],
            guardian_district=d.guardian_district,
            guardian_permit_valid_until=d.guardian_valid_until.isoformat() if d.guardian_valid_until else "",
            child_id_number=child.value)
        points = enrolment.points(self.gate.store, self.settings, self.points, principal.district, d,
                                  self.gate.today())
        if points is not None:
            answer.points = points
        return self.gate.answer(call, answer, d.reasons[0].code, attest="attestation")

    @handler(CHECK_SERVICE)
    def CheckService(self, request: entitlement_pb2.CheckServiceRequest, context: grpc.ServicerContext,
                     call: Call) -> entitlement_pb2.CheckServiceResponse:
        principal = self.gate.admit(call, context, request.context, request.id_number)
        who = self.gate.subject(call, request.id_number, "id_number")
        covered = (call.table or self.gate.policy.table).catalogue.purpose_services.get(call.purpose, frozenset())
        try:
            code = entitlement.service_code(request.service_code, call.purpose, covered)
        except entitlement.UnknownServiceCode as exc:
            raise errors.invalid_argument("service_code", str(exc)) from exc
        except entitlement.ServiceNotCovered as exc:
            raise errors.permission_denied("PURPOSE_NOT_ALLOWED", str(exc),
                                           {"purpose": exc.purpose, "service_code": exc.code}) from exc
        result = entitlement.check_service(self.gate.store, who, code, self.gate.today(), self.housing,
                                           principal.district)
        answer = entitlement_pb2.CheckServiceResponse(id_number=who.value, entitled=result.entitled)
        if result.housing is not None:
            facts = result.housing
            answer.housing_facts.CopyFrom(entitlement_pb2.HousingFacts(
                employment_bases=facts.employment_bases, residence_bases=facts.residence_bases,
                social_insurance_months=facts.si_months, residence_months=facts.residence_months))
        answer.reasons.extend(common_pb2.Reason(code=r.code, message=r.message) for r in result.reasons)
        return self.gate.answer(call, answer, result.reasons[0].code if result.reasons else code,
                                attest="attestation")

    @handler(EVALUATE_ELIGIBILITY)
    def EvaluatePermitEligibility(self, request: entitlement_pb2.EvaluatePermitEligibilityRequest,
                                  context: grpc.ServicerContext,
                                  call: Call) -> entitlement_pb2.EvaluatePermitEligibilityResponse:
        self.gate.admit(call, context, request.context, request.id_number)
        who = self.gate.subject(call, request.id_number, "id_number")
        try:
            as_of = eligibility.as_of(request.as_of, self.gate.today())
        except InvalidDate as exc:
            raise errors.invalid_argument("as_of", "a date as YYYY-MM-DD") from exc
        d = eligibility.evaluate(self.gate.store, who, as_of)
        answer = entitlement_pb2.EvaluatePermitEligibilityResponse(
            eligible=d.eligible, bases=d.bases, as_of=as_of.isoformat(),
            reasons=[common_pb2.Reason(code=r.code, message=r.message) for r in d.reasons],
            id_number=who.value)
        return self.gate.answer(call, answer, "ELIGIBLE" if d.eligible else "NOT_ELIGIBLE")


class EducationEnrollmentService(education_pb2_grpc.EnrollmentServiceServicer):
    def __init__(self, gate: Gate, settings: EnrollmentSettings, points: PointsTable) -> None:
        self.gate, self.settings, self.points = gate, settings, points

    @handler(EDU_CHECK_ENROLLMENT)
    def CheckEnrollment(self, request: education_pb2.CheckEnrollmentRequest, context: grpc.ServicerContext,
                        call: Call) -> education_pb2.CheckEnrollmentResponse:
        try:
            child_raw, field = education.child_from_request(request.XJH, request.SFZJH)
        except education.BadChildReference as exc:
            self.gate.admit(call, context, request.context)  # refusals outrank argument errors
            raise errors.invalid_argument(exc.field, str(exc)) from exc
        guardians = [(request.JHR1SFZJH, "JHR1SFZJH"), (request.JHR2SFZJH, "JHR2SFZJH")]
        principal, child, d = decide_enrollment(self.gate, self.settings, call, context, request.context,
                                                child_raw, field, guardians)
        points = enrolment.points(self.gate.store, self.settings, self.points, principal.district, d,
                                  self.gate.today())
        fields = education.enrollment_fields(d, child.value, field, points, b"")
        answer = json_format.ParseDict(fields, education_pb2.CheckEnrollmentResponse())
        return self.gate.answer(call, answer, d.reasons[0].code, attest="PZ")
