"""permitgw.health.v1: the canonical permit-status answer in the hospital systems' data elements.

Same pipeline and use case as the canonical API (service/permits.py); the mapping itself is adapters/health.py.
"""
from __future__ import annotations

import grpc
from google.protobuf import json_format

from adapters import health
from gateway.server.gate import Call, Gate, handler
from gateway.service import entitlement, permits
from permitgw.health.v1 import permit_status_pb2 as hospital_pb2
from permitgw.health.v1 import permit_status_pb2_grpc as hospital_pb2_grpc

SERVICE = "permitgw.health.v1.HealthPermitService"
GET_PERMIT_STATUS = f"{SERVICE}/GetPermitStatus"


class HealthPermitService(hospital_pb2_grpc.HealthPermitServiceServicer):
    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    @handler(GET_PERMIT_STATUS)
    def GetPermitStatus(self, request: hospital_pb2.GetPermitStatusRequest, context: grpc.ServicerContext,
                        call: Call) -> hospital_pb2.GetPermitStatusResponse:
        principal = self.gate.admit(call, context, request.context, request.DE02_01_030_00)
        who = self.gate.subject(call, request.DE02_01_030_00, "DE02.01.030.00")
        decision = permits.status_of(self.gate.store, who, self.gate.today())
        entitlements = entitlement.entitlements(decision, health.SERVICES, principal.district)
        fields = health.permit_status_fields(decision, entitlements, who.value)
        answer = json_format.ParseDict(fields, hospital_pb2.GetPermitStatusResponse())
        return self.gate.answer(call, answer, decision.reasons[0].code)
