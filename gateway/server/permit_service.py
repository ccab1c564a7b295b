"""permitgw.v1.PermitService: permit status for schools, hospitals, HRSS, housing and police.

Thin: the pipeline is in gate.py, the rule in rules/permit_status.py, the masking in policy/projection.py.
"""
from __future__ import annotations

from typing import Any

from gateway.audit.entry import Decision
from gateway.policy.projection import present_id
from gateway.rules.permit_status import PermitStatus, permit_status
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


class PermitService(permit_pb2_grpc.PermitServiceServicer):
    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    @handler(GET_PERMIT_STATUS)
    def GetPermitStatus(self, request: Any, context: Any, call: Call) -> permit_pb2.GetPermitStatusResponse:
        principal = self.gate.admit(call, context, request.context, request.id_number)
        who = self.gate.subject(call, request.id_number, "id_number")
        decision = permit_status(self.gate.store.permits(who), self.gate.today())
        p = decision.permit
        answer = permit_pb2.GetPermitStatusResponse(
            status=_STATUS[decision.status],
            valid_until=p.valid_until.isoformat() if p else "",
            district=p.district.code if p else "",
            reasons=[common_pb2.Reason(code=r.code, message=r.message) for r in decision.reasons],
            id_number=present_id(who, principal.role, self.gate.policy.table.catalogue))
        self.gate.log(call, Decision.ALLOW, decision.reasons[0].code)
        return answer
