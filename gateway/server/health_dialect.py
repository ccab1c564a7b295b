"""permitgw.health.v1: the canonical permit-status answer in the hospital systems' data elements.

Same pipeline as the canonical API (authorise → log); the mapping itself is adapters/health.py.
"""
from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from adapters import health
from gateway.rules.entitlements import service_entitlement
from gateway.server.gate import Call, Gate, handler
from gateway.server.permit_service import decide_permit_status
from permitgw.health.v1 import permit_status_pb2 as hospital_pb2
from permitgw.health.v1 import permit_status_pb2_grpc as hospital_pb2_grpc

SERVICE = "permitgw.health.v1.HealthPermitService"
GET_PERMIT_STATUS = f"{SERVICE}/GetPermitStatus"


class HealthPermitService(hospital_pb2_grpc.HealthPermitServiceServicer):
    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    @handler(GET_PERMIT_STATUS)
    def GetPermitStatus(self, request: Any, context: Any, call: Call) -> hospital_pb2.GetPermitStatusResponse:
        principal, who, decision = decide_permit_status(self.gate, call, context, request.context,
                                                        request.DE02_01_030_00, "DE02.01.030.00")
        entitlements = [service_entitlement(decision, s, principal.district) for s in health.SERVICES]
        fields = health.permit_status_fields(decision, entitlements, who.value)
        answer = json_format.ParseDict(fields, hospital_pb2.GetPermitStatusResponse())
        return self.gate.answer(call, answer, decision.reasons[0].code)
