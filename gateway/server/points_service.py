"""permitgw.v1.PointsService: a person's points with their breakdown, and the published table (P-3, P-4).

GetPointsRules serves exactly the table GetPoints computes with, and both name its version; the use case is
service/points.py.
"""
from __future__ import annotations

import grpc
from google.protobuf import struct_pb2

from gateway.rules.points import PointsTable
from gateway.server.gate import Call, Gate, handler
from gateway.service.points import points_for
from gateway.settings.points import points_table_as_dict
from permitgw.v1 import common_pb2, points_pb2, points_pb2_grpc

SERVICE = "permitgw.v1.PointsService"
GET_POINTS = f"{SERVICE}/GetPoints"
GET_POINTS_RULES = f"{SERVICE}/GetPointsRules"


class PointsService(points_pb2_grpc.PointsServiceServicer):
    def __init__(self, gate: Gate, table: PointsTable) -> None:
        self.gate, self.table = gate, table
        self._rules = struct_pb2.Struct()
        self._rules.update(points_table_as_dict(table))

    @handler(GET_POINTS)
    def GetPoints(self, request: points_pb2.GetPointsRequest, context: grpc.ServicerContext,
                  call: Call) -> points_pb2.GetPointsResponse:
        principal = self.gate.admit(call, context, request.context, request.id_number)
        who = self.gate.subject(call, request.id_number, "id_number")
        result = points_for(self.gate.store, self.table, who, principal.district, self.gate.today())
        answer = points_pb2.GetPointsResponse(
            total=result.total, table_version=result.table_version,
            items=[points_pb2.PointsItem(indicator=i.indicator, name=i.name, points=i.points, max=i.max,
                                         basis=i.basis, sources=i.sources) for i in result.items],
            reasons=[common_pb2.Reason(code=r.code, message=r.message) for r in result.reasons],
            id_number=who.value)
        return self.gate.answer(call, answer, "P-2")

    @handler(GET_POINTS_RULES)
    def GetPointsRules(self, request: points_pb2.GetPointsRulesRequest, context: grpc.ServicerContext,
                       call: Call) -> points_pb2.GetPointsRulesResponse:
        self.gate.admit(call, context, request.context)
        answer = points_pb2.GetPointsRulesResponse(table=self._rules, table_version=self.table.version)
        return self.gate.answer(call, answer, "P-3")
