"""End to end: the statistics bureau gets district aggregates with small cells suppressed — and nothing else."""
from __future__ import annotations

import datetime as _dt
import signal
from pathlib import Path

import grpc
import pytest

from gateway.client import channel
from gateway.domain import clock
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc, statistics_pb2, statistics_pb2_grpc
from tests.conftest import run_cli
from tests.e2e.conftest import Gateway, error_info, serve

CTX = common_pb2.RequestContext(purpose="population-statistics", case_id="TJ-2026-11")


def _last_month() -> str:
    first = clock.today().replace(day=1)
    return (first - _dt.timedelta(days=1)).strftime("%Y-%m")


def _ask(g: Gateway, district: str, month: str) -> statistics_pb2.GetDistrictStatisticsResponse:
    with channel(g.address, g.cert("stats", "statistics", "330200")) as ch:
        return statistics_pb2_grpc.StatisticsServiceStub(ch).GetDistrictStatistics(
            statistics_pb2.GetDistrictStatisticsRequest(context=CTX, district=district, month=month), timeout=60)


def test_city_table_has_no_small_cells_and_is_stable(gw: Gateway) -> None:
    month = _last_month()
    answer = _ask(gw, "", month)
    assert len(answer.rows) == 10 and answer.city_total.district == "330200" and answer.minimum_cell == 10
    cells = [c for r in (*answer.rows, answer.city_total)
             for c in (r.registrations, r.valid_permits, *r.permits_by_basis.values())]
    assert all(c.suppressed or c.value == 0 or c.value >= 10 for c in cells)
    assert any(c.suppressed for c in cells), "150 people over ten districts must need suppression"
    assert all(r.coordinators_required >= 0 for r in answer.rows)
    assert _ask(gw, "", month) == answer, "a month's table is frozen once published"
    one = _ask(gw, answer.rows[3].district, month)
    assert list(one.rows) == [answer.rows[3]] and one.city_total == answer.city_total
    entry = gw.log()[-1]
    assert (entry["method"], entry["subject"], entry["reason"]) == (
        "permitgw.v1.StatisticsService/GetDistrictStatistics", "", "I-5")


@pytest.mark.parametrize(("district", "month", "field"), [("330299", "2026-01", "district"),
                                                          ("", "2026-13", "month"),
                                                          ("", clock.today().strftime("%Y-%m"), "month")])
def test_bad_or_incomplete_months_are_refused(gw: Gateway, district: str, month: str, field: str) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        _ask(gw, district, month)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and exc.value.details().startswith(field)


def test_statistics_never_sees_a_person(gw: Gateway) -> None:
    with channel(gw.address, gw.cert("stats", "statistics", "330200")) as ch, pytest.raises(grpc.RpcError) as exc:
        permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(permit_pb2.GetPermitStatusRequest(
            context=CTX, id_number=gw.people[0].id_number), timeout=10)
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(exc.value).reason == "POLICY_DENIED"


@pytest.mark.parametrize(("instant", "complete", "incomplete"), [
    ("2026-11-30T16:20:00Z", "2026-11", "2026-12"),  # already 1 December in Ningbo: November is complete
    # still 30 November in Ningbo (23:00 there). The server's clock starts at this instant and runs on, so it
    # starts an hour before the boundary: a slow machine must not carry the test across it (one second did).
    ("2026-11-30T15:00:00Z", "2026-10", "2026-11"),
])
def test_the_month_boundary_is_ningbos_whatever_the_machines_zone(tmp_path: Path, instant: str, complete: str,
                                                                   incomplete: str) -> None:
    """A month is published once it has ended in Ningbo (UTC+8); the machine's own date and zone play no part."""
    data = tmp_path / "data"
    run_cli("init", "--data", str(data))
    env = {clock.ENV: instant, "TZ": "Pacific/Pago_Pago"}  # UTC-11: the machine's date is a day behind Ningbo's
    proc, address = serve(data, env)
    try:
        prefix = tmp_path / "stats"
        run_cli("cert", "issue", "--data", str(data), "--role", "statistics", "--org", "TJJ", "--name", "统计局",
                "--district", "330200", "--out", str(prefix))
        with channel(address, prefix) as ch:
            stub = statistics_pb2_grpc.StatisticsServiceStub(ch)
            answer = stub.GetDistrictStatistics(
                statistics_pb2.GetDistrictStatisticsRequest(context=CTX, month=complete), timeout=60)
            assert answer.city_total.district == "330200"
            with pytest.raises(grpc.RpcError) as exc:
                stub.GetDistrictStatistics(
                    statistics_pb2.GetDistrictStatisticsRequest(context=CTX, month=incomplete), timeout=60)
            assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and exc.value.details().startswith("month")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
