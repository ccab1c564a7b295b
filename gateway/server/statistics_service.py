"""permitgw.v1.StatisticsService: district/month aggregates for the statistics bureau (I-4, I-5).

Counts only, never a person; the month's table is computed once, suppressed, frozen (service/statistics.py).
"""
from __future__ import annotations

from typing import Any

import grpc

from gateway.rules.statistics import BASIS_COLUMNS, CITY, VALID_PERMITS, StatisticsSettings
from gateway.server import errors
from gateway.server.gate import Call, Gate, handler
from gateway.service import statistics
from permitgw.v1 import statistics_pb2, statistics_pb2_grpc

SERVICE = "permitgw.v1.StatisticsService"
GET_DISTRICT_STATISTICS = f"{SERVICE}/GetDistrictStatistics"


def _cell(value: int | None) -> statistics_pb2.Cell:
    return statistics_pb2.Cell(suppressed=True) if value is None else statistics_pb2.Cell(value=value)


def _row(table: dict[str, Any], key: str) -> statistics_pb2.DistrictRow:
    permits = table["permits"][key]
    return statistics_pb2.DistrictRow(
        district=statistics.CITY_CODE if key == CITY else key, registrations=_cell(table["registrations"][key]),
        valid_permits=_cell(permits[VALID_PERMITS]),
        permits_by_basis={b: _cell(permits[b]) for b in BASIS_COLUMNS},
        coordinators_required=table["coordinators_required"][key])


class StatisticsService(statistics_pb2_grpc.StatisticsServiceServicer):
    def __init__(self, gate: Gate, settings: StatisticsSettings) -> None:
        self.gate, self.settings = gate, settings

    @handler(GET_DISTRICT_STATISTICS)
    def GetDistrictStatistics(self, request: statistics_pb2.GetDistrictStatisticsRequest,
                              context: grpc.ServicerContext,
                              call: Call) -> statistics_pb2.GetDistrictStatisticsResponse:
        self.gate.admit(call, context, request.context)
        try:
            keys = statistics.district_keys(request.district)
        except statistics.UnknownDistrict as exc:
            raise errors.invalid_argument("district", str(exc)) from exc
        try:
            table = statistics.published(self.gate.store, request.month.strip(), self.settings, self.gate.today())
        except statistics.NotPublishable as exc:
            raise errors.invalid_argument("month", str(exc)) from exc
        answer = statistics_pb2.GetDistrictStatisticsResponse(
            month=table["month"], minimum_cell=table["minimum"], rows=[_row(table, k) for k in keys],
            city_total=_row(table, CITY))
        return self.gate.answer(call, answer, "I-5")
