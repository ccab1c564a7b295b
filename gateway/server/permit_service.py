"""permitgw.v1.PermitService: permit status for schools, hospitals, HRSS, housing and police.

Thin: the pipeline is in gate.py, the rule in rules/permit_status.py, the masking in policy/projection.py.
"""
from __future__ import annotations

from typing import Any

from gateway.domain.idnumber import IdNumber
from gateway.identity.principal import Principal
from gateway.rules.permit_status import PermitStatus, PermitStatusDecision, permit_status
from gateway.server.gate import Call, Gate, handler
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc

SERVICE = "permitgw.v1.PermitService"
GET_PERMIT_STATUS = f"{SERVICE}/GetPermitStatus"
GET_RESIDENCE_RECORD = f"{SERVICE}/GetResidenceRecord"

_STATUS = {
    PermitStatus.VALID: permit_pb2.PERMIT_STATUS_VALID,
    PermitStatus.EXPIRED: permit_pb2.PERMIT_STATUS_EXPIRED,
    PermitStatus.CANCELLED: permit_pb2.PERMIT_STATUS_CANCELLED,
    PermitStatus.REVOKED: permit_pb2.PERMIT_STATUS_REVOKED,
    PermitStatus.NONE: permit_pb2.PERMIT_STATUS_NONE,
}


def decide_permit_status(gate: Gate, call: Call, context: Any, req_ctx: Any, raw_id: str, field: str
                         ) -> tuple[Principal, IdNumber, PermitStatusDecision]:
    """authenticate → authorise → decide, shared by the canonical API and the bureau dialects."""
    principal = gate.admit(call, context, req_ctx, raw_id)
    who = gate.subject(call, raw_id, field)
    return principal, who, permit_status(gate.store.permits(who), gate.today())


class PermitService(permit_pb2_grpc.PermitServiceServicer):
    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    @handler(GET_PERMIT_STATUS)
    def GetPermitStatus(self, request: Any, context: Any, call: Call) -> permit_pb2.GetPermitStatusResponse:
        _, who, decision = decide_permit_status(self.gate, call, context, request.context,
                                                request.id_number, "id_number")
        p = decision.permit
        answer = permit_pb2.GetPermitStatusResponse(
            status=_STATUS[decision.status],
            valid_until=p.valid_until.isoformat() if p else "",
            district=p.district.code if p else "",
            reasons=[common_pb2.Reason(code=r.code, message=r.message) for r in decision.reasons],
            id_number=who.value)
        return self.gate.answer(call, answer, decision.reasons[0].code)

    @handler(GET_RESIDENCE_RECORD)
    def GetResidenceRecord(self, request: Any, context: Any, call: Call) -> permit_pb2.GetResidenceRecordResponse:
        self.gate.admit(call, context, request.context, request.id_number)
        who = self.gate.subject(call, request.id_number, "id_number")
        store = self.gate.store
        person = store.person(who)
        answer = permit_pb2.GetResidenceRecordResponse(
            id_number=who.value, name=person.name if person else "",
            registrations=[permit_pb2.ResidenceRegistrationEntry(
                district=r.district.code, declared_on=r.declared_on.isoformat(), housing_type=r.housing_type.value,
                address=r.address) for r in store.registrations(who)],
            permits=[permit_pb2.PermitEntry(
                permit_number=p.permit_number, district=p.district.code, issued_on=p.issued_on.isoformat(),
                valid_until=p.valid_until.isoformat(), endorsed_on=p.endorsed_on.isoformat() if p.endorsed_on else "",
                status=_STATUS[permit_status([p], self.gate.today()).status]) for p in store.permits(who)])
        return self.gate.answer(call, answer, "RECORD" if person else "NO_RECORD")
