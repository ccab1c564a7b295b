"""End to end: GetPoints with its breakdown, and GetPointsRules serving the table GetPoints used (P-3)."""
from __future__ import annotations

import grpc
import pytest
from google.protobuf import json_format

from gateway.client import channel
from gateway.domain import clock
from permitgw.v1 import common_pb2, points_pb2, points_pb2_grpc
from tests.e2e.conftest import Gateway, error_info


def _stub(g: Gateway, prefix: object) -> tuple[grpc.Channel, points_pb2_grpc.PointsServiceStub]:
    ch = channel(g.address, prefix)
    return ch, points_pb2_grpc.PointsServiceStub(ch)


def test_points_breakdown_and_the_table_it_came_from(gw: Gateway) -> None:
    ch, stub = _stub(gw, gw.cert("police", "police", "330203"))
    ctx = common_pb2.RequestContext(purpose="permit-administration")
    with ch:
        rules = stub.GetPointsRules(points_pb2.GetPointsRulesRequest(context=ctx), timeout=10)
        answers = [stub.GetPoints(points_pb2.GetPointsRequest(context=ctx, id_number=p.id_number), timeout=10)
                   for p in gw.people[:15]]
    table = json_format.MessageToDict(rules.table)
    maxima = {i["id"]: i["max"] for i in table["indicators"]}
    for a in answers:
        assert a.table_version == rules.table_version != ""
        assert abs(a.total - sum(i.points for i in a.items)) < 0.01
        for item in a.items:
            assert 0 <= item.points <= item.max == maxima[item.indicator]
            assert item.sources and item.basis
        assert all(p.id_number not in s for i in a.items for s in i.sources for p in gw.people)
    assert any(a.total > 0 for a in answers)
    assert gw.log()[-1]["method"] == "permitgw.v1.PointsService/GetPoints"


def test_every_role_may_read_the_published_table_but_not_a_persons_points(gw: Gateway) -> None:
    ch, stub = _stub(gw, gw.cert("hospital", "health", "330212"))
    with ch:
        stub.GetPointsRules(points_pb2.GetPointsRulesRequest(
            context=common_pb2.RequestContext(purpose="public-health")), timeout=10)
        with pytest.raises(grpc.RpcError) as exc:
            stub.GetPoints(points_pb2.GetPointsRequest(context=common_pb2.RequestContext(purpose="public-health"),
                                                       id_number=gw.people[0].id_number), timeout=10)
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(exc.value).reason == "POLICY_DENIED"


def test_districts_that_admit_by_points_get_the_guardians_points(tmp_path: object) -> None:
    from pathlib import Path

    from gateway import datadir
    from gateway.datadir import DataDir
    from gateway.identity.ca import issue_client
    from gateway.identity.principal import Principal
    from gateway.server.app import start
    from gateway.service.importer import import_files
    from gateway.synth.people import residents
    from gateway.synth.write import BUREAU_FILES, write_bureaus
    from permitgw.education.v1 import education_pb2, education_pb2_grpc
    from permitgw.v1 import entitlement_pb2, entitlement_pb2_grpc

    root = Path(str(tmp_path))
    data = DataDir(root / "d")
    datadir.init(data.root)
    text = (data.policies / "enrollment.toml").read_text()
    (data.policies / "enrollment.toml").write_text(text.replace("points_districts = []", (
        'points_districts = ["330203", "330205", "330206", "330211", "330212", "330213", "330225", "330226", '
        '"330281", "330282"]')))
    people = residents(120, seed=9)
    write_bureaus(root, people, seed=9)
    store = data.open_store()
    for bureau, kinds in BUREAU_FILES.items():
        import_files(store, bureau, [root / name for name, _ in kinds], data.rejects)
    store.close()
    today = clock.today()
    child = next(p for p in people if p.guardian and 7 <= (today - p.birth).days // 365 <= 14
                 and p.guardian.permit_state == "1" and p.guardian.permit_valid_until >= today)
    district = child.guardian.district
    issue_client(data.keys, Principal("school", "S1", "school", district), root / "school")
    issue_client(data.keys, Principal("police", "P1", "police", "330203"), root / "police")
    running = start(data, "127.0.0.1:0", workers=4)
    try:
        address = f"127.0.0.1:{running.port}"
        ctx = common_pb2.RequestContext(purpose="compulsory-education")
        with channel(address, root / "school") as ch:
            canonical = entitlement_pb2_grpc.EntitlementServiceStub(ch).CheckEnrollment(
                entitlement_pb2.CheckEnrollmentRequest(context=ctx, child_id_number=child.id_number), timeout=10)
            dialect = education_pb2_grpc.EnrollmentServiceStub(ch).CheckEnrollment(
                education_pb2.CheckEnrollmentRequest(context=ctx, SFZJH=child.id_number), timeout=10)
        with channel(address, root / "police") as ch:
            points = points_pb2_grpc.PointsServiceStub(ch).GetPoints(points_pb2.GetPointsRequest(
                context=common_pb2.RequestContext(purpose="permit-administration"),
                id_number=child.guardian.id_number), timeout=10)
    finally:
        running.stop()
    assert canonical.decision == entitlement_pb2.ENROLLMENT_DECISION_ENTITLED
    assert canonical.HasField("points") and canonical.points == points.total
    assert dialect.HasField("JFZ") and points.total == dialect.JFZ
