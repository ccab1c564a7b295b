"""End to end: a school asks whether a child may enrol (S-1), canonically and in its own dialect.

Both go through the same authorise → log path; the school's district comes from its certificate.
"""
from __future__ import annotations

import datetime as _dt

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway.client import channel
from gateway.domain import clock
from gateway.synth.people import SynthPerson
from permitgw.education.v1 import education_pb2, education_pb2_grpc
from permitgw.v1 import common_pb2, entitlement_pb2, entitlement_pb2_grpc
from tests.e2e.conftest import Gateway, error_info

CANONICAL = "permitgw.v1.EntitlementService/CheckEnrollment"
DIALECT = "permitgw.education.v1.EnrollmentService/CheckEnrollment"
CTX = common_pb2.RequestContext(purpose="compulsory-education", case_id="RX-2026-9", operator_id="T-9")


def _of_age(p: SynthPerson) -> bool:
    cutoff = _dt.date(clock.today().year, 8, 31)
    age = cutoff.year - p.birth.year - ((cutoff.month, cutoff.day) < (p.birth.month, p.birth.day))
    return 6 <= age <= 15


def _entitled_child(g: Gateway) -> SynthPerson:
    today = clock.today()
    return next(p for p in g.people if p.guardian and _of_age(p) and p.guardian.permit_state == "1"
                and p.guardian.permit_valid_until >= today)


def _ask(g: Gateway, prefix: object, child: str, guardians: list[str]) -> entitlement_pb2.CheckEnrollmentResponse:
    with channel(g.address, prefix) as ch:
        return entitlement_pb2_grpc.EntitlementServiceStub(ch).CheckEnrollment(
            entitlement_pb2.CheckEnrollmentRequest(context=CTX, child_id_number=child,
                                                   guardian_id_numbers=guardians), timeout=10)


def _ask_dialect(g: Gateway, prefix: object, **fields: str) -> education_pb2.CheckEnrollmentResponse:
    with channel(g.address, prefix) as ch:
        return education_pb2_grpc.EnrollmentServiceStub(ch).CheckEnrollment(
            education_pb2.CheckEnrollmentRequest(context=CTX, **fields), timeout=10)


def test_school_in_the_guardians_district_is_told_entitled(gw: Gateway) -> None:
    child = _entitled_child(gw)
    parent = child.guardian
    school = gw.cert(f"school-{parent.district}", "school", parent.district)
    answer = _ask(gw, school, child.id_number, [parent.id_number])
    assert answer.decision == entitlement_pb2.ENROLLMENT_DECISION_ENTITLED
    assert answer.reasons[0].code == "S-1"
    assert (answer.guardian_district, answer.guardian_permit_valid_until) == (
        parent.district, parent.permit_valid_until.isoformat())
    assert answer.child_id_number == child.id_number[:6] + "********" + child.id_number[-4:]
    assert not answer.HasField("points")
    entry = gw.log()[-1]
    assert (entry["method"], entry["decision"], entry["reason"]) == (CANONICAL, "allow", "S-1")


def test_school_elsewhere_gets_needs_review_out_of_district(gw: Gateway) -> None:
    child = _entitled_child(gw)
    other = "330282" if child.guardian.district != "330282" else "330203"
    answer = _ask(gw, gw.cert(f"school-{other}", "school", other), child.id_number, [])
    assert answer.decision == entitlement_pb2.ENROLLMENT_DECISION_NEEDS_REVIEW
    assert answer.reasons[0].code == "OUT_OF_DISTRICT"


def test_dialect_answers_in_the_enrolment_systems_fields(gw: Gateway) -> None:
    child = _entitled_child(gw)
    parent = child.guardian
    school = gw.cert(f"school-{parent.district}", "school", parent.district)
    answer = json_format.MessageToDict(_ask_dialect(gw, school, XJH="g" + child.id_number.lower(),
                                                    JHR1SFZJH=parent.id_number))
    masked = child.id_number[:6] + "********" + child.id_number[-4:]
    assert answer["RXZG"] == "1", answer
    assert answer["XJH"] == "G" + masked and "SFZJH" not in answer
    assert (answer["RXZG"], answer["JZD_XZQH"], answer["JZZYXQ"]) == (
        "1", parent.district, parent.permit_valid_until.isoformat())
    assert answer["ZGYY"][0]["DM"] == "S-1" and answer["ZGYY"][0]["MC"]
    assert "JFZ" not in answer
    assert gw.log()[-1]["method"] == DIALECT


def test_dialect_refuses_two_different_children_naming_xjh(gw: Gateway) -> None:
    a, b = [p for p in gw.people if p.guardian][:2]
    with pytest.raises(grpc.RpcError) as exc:
        _ask_dialect(gw, gw.cert("school", "school", "330203"), XJH="G" + a.id_number, SFZJH=b.id_number)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    br = error_details_pb2.BadRequest()
    assert any(d.Unpack(br) for d in rpc_status.from_call(exc.value).details)  # type: ignore[arg-type]
    assert br.field_violations[0].field == "XJH"
    assert (gw.log()[-1]["method"], gw.log()[-1]["decision"]) == (DIALECT, "invalid")


def test_bad_guardian_number_names_its_field(gw: Gateway) -> None:
    child = _entitled_child(gw)
    with pytest.raises(grpc.RpcError) as exc:
        _ask(gw, gw.cert("school", "school", "330203"), child.id_number, [child.guardian.id_number, "12345"])
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "guardian_id_numbers[1]" in exc.value.details()


@pytest.mark.parametrize("role", ["health", "housing", "police"])
def test_only_schools_may_ask(gw: Gateway, role: str) -> None:
    child = _entitled_child(gw)
    with pytest.raises(grpc.RpcError) as exc:
        _ask(gw, gw.cert(f"{role}-x", role, "330203"), child.id_number, [])
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(exc.value).reason == "PURPOSE_NOT_ALLOWED"
