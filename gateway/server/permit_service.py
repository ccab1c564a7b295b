"""permitgw.v1.PermitService: permit status for schools, hospitals, HRSS, housing and police.

Thin: the pipeline is in gate.py, the use cases in service/permits.py, the masking in policy/projection.py.
"""
from __future__ import annotations

import grpc

from gateway.rules.permit_status import PermitStatus
from gateway.server.gate import Call, Gate, handler
from gateway.service import permits
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


def _permit_entry(line: permits.PermitLine) -> permit_pb2.PermitEntry:
    p = line.permit
    return permit_pb2.PermitEntry(
        permit_number=p.permit_number, district=p.district.code, issued_on=p.issued_on.isoformat(),
        valid_until=p.valid_until.isoformat(), endorsed_on=p.endorsed_on.isoformat() if p.endorsed_on else "",
        status=_STATUS[line.status])


class PermitService(permit_pb2_grpc.PermitServiceServicer):
    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    @handler(GET_PERMIT_STATUS)
    def GetPermitStatus(self, request: permit_pb2.GetPermitStatusRequest, context: grpc.ServicerContext,
                        call: Call) -> permit_pb2.GetPermitStatusResponse:
        self.gate.admit(call, context, request.context, request.id_number)
        who = self.gate.subject(call, request.id_number, "id_number")
        decision = permits.status_of(self.gate.store, who, self.gate.today())
        p = decision.permit
        answer = permit_pb2.GetPermitStatusResponse(
            status=_STATUS[decision.status],
            valid_until=p.valid_until.isoformat() if p else "",
            district=p.district.code if p else "",
            reasons=[common_pb2.Reason(code=r.code, message=r.message) for r in decision.reasons],
            id_number=who.value)
        return self.gate.answer(call, answer, decision.reasons[0].code)

    @handler(GET_RESIDENCE_RECORD)
    def GetResidenceRecord(self, request: permit_pb2.GetResidenceRecordRequest, context: grpc.ServicerContext,
                           call: Call) -> permit_pb2.GetResidenceRecordResponse:
        self.gate.admit(call, context, request.context, request.id_number)
        who = self.gate.subject(call, request.id_number, "id_number")
        record = permits.residence_record(self.gate.store, who, self.gate.today())
        answer = permit_pb2.GetResidenceRecordResponse(
            id_number=who.value, name=record.person.name if record.person else "",
            registrations=[permit_pb2.ResidenceRegistrationEntry(
                district=r.district.code, declared_on=r.declared_on.isoformat(), housing_type=r.housing_type.value,
                address=r.address) for r in record.registrations],
            permits=[_permit_entry(line) for line in record.permits])
        return self.gate.answer(call, answer, "RECORD" if record.person else "NO_RECORD")
