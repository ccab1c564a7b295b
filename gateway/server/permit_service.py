"""permitgw.v1.PermitService: permit status for schools, hospitals, HRSS, housing and police.

Thin: the pipeline is in gate.py, the rule in rules/permit_status.py, the masking in policy/projection.py.
"""
from __future__ import annotations

from typing import Any

from gateway.audit.entry import Decision
from gateway.domain.idnumber import IdNumber
from gateway.identity.principal import Principal
from gateway.policy.projection import present_id
from gateway.rules.permit_status import PermitStatus, PermitStatusDecision, permit_status
from gateway.server.gate import Call, Gate, handler
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc

SERVICE = "permitgw.v1.PermitService"
GET_PERMIT_STATUS = f"{SERVICE}/GetPermitStatus"

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
        principal, who, decision = decide_permit_status(self.gate, call, context, request.context,
                                                        request.id_number, "id_number")
        p = decision.permit
        answer = permit_pb2.GetPermitStatusResponse(
            status=_STATUS[decision.status],
            valid_until=p.valid_until.isoformat() if p else "",
            district=p.district.code if p else "",
            reasons=[common_pb2.Reason(code=r.code, message=r.message) for r in decision.reasons],
            id_number=present_id(who, principal.role, self.gate.policy.table.catalogue))
        self.gate.log(call, Decision.ALLOW, decision.reasons[0].code)
        return answer
