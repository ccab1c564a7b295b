"""Bureau dialects: JSON field names are exactly those of docs/bureau-files.md, and the education mapping is right."""
from __future__ import annotations

import base64
import datetime as _dt

import pytest
from google.protobuf import json_format

from adapters import education
from gateway.rules.enrollment import EnrollmentDecision, Outcome
from gateway.rules.reasons import Reason
from permitgw.education.v1 import education_pb2
from permitgw.health.v1 import permit_status_pb2
from tests.helpers import make_id

A = make_id("340102", _dt.date(1988, 1, 1), 11)
B = make_id("411302", _dt.date(1987, 6, 7), 22)

DIALECT_MESSAGES = [m for mod in (education_pb2, permit_status_pb2)
                    for m in mod.DESCRIPTOR.message_types_by_name.values()]


@pytest.mark.parametrize("message", DIALECT_MESSAGES, ids=lambda m: m.full_name)
def test_json_names_are_the_bureaus_own(message: object) -> None:
    for f in message.fields:  # type: ignore[attr-defined]
        if f.name == "context":
            continue
        assert f.json_name == f.name.replace("_", ".") if f.name.startswith("DE") else f.json_name == f.name, f.name


def _decision(outcome: Outcome) -> EnrollmentDecision:
    return EnrollmentDecision(outcome, (Reason("S-1", "ok"), Reason("X", "note")), None, "330203",
                              _dt.date(2027, 3, 1))


@pytest.mark.parametrize(("outcome", "rxzg"), [(Outcome.ENTITLED, "1"), (Outcome.NOT_ENTITLED, "0"),
                                               (Outcome.NEEDS_REVIEW, "9")])
def test_enrollment_fields(outcome: Outcome, rxzg: str) -> None:
    f = education.enrollment_fields(_decision(outcome), "340102********0110", "SFZJH", None, b"sig")
    assert f == {"SFZJH": "340102********0110", "RXZG": rxzg,
                 "ZGYY": [{"DM": "S-1", "MC": "ok"}, {"DM": "X", "MC": "note"}],
                 "JZD_XZQH": "330203", "JZZYXQ": "2027-03-01", "PZ": base64.b64encode(b"sig").decode()}
    msg = json_format.ParseDict(f, education_pb2.CheckEnrollmentResponse())
    assert msg.PZ == b"sig" and not msg.HasField("JFZ")


def test_points_and_student_number() -> None:
    f = education.enrollment_fields(_decision(Outcome.ENTITLED), "340102********0110", "XJH", 123.5, b"")
    assert f["XJH"] == "G340102********0110" and f["JFZ"] == 123.5 and "SFZJH" not in f


@pytest.mark.parametrize(("xjh", "sfzjh", "expected"), [
    ("G" + A, "", (A, "XJH")),
    (f" g{A.lower()} ", "", (A, "XJH")),
    ("", A, (A, "SFZJH")),
    ("G" + A, A, (A, "XJH")),
])
def test_child_from_request(xjh: str, sfzjh: str, expected: tuple[str, str]) -> None:
    assert education.child_from_request(xjh, sfzjh) == expected


@pytest.mark.parametrize(("xjh", "sfzjh", "field"), [("", "", "SFZJH"), (A, "", "XJH"), ("G" + A, B, "XJH")])
def test_child_from_request_refuses(xjh: str, sfzjh: str, field: str) -> None:
    with pytest.raises(education.BadChildReference) as exc:
        education.child_from_request(xjh, sfzjh)
    assert exc.value.field == field and A not in str(exc.value) and B not in str(exc.value)


def test_projection_reaches_into_repeated_entries() -> None:
    from gateway.policy.projection import project
    from permitgw.v1 import permit_pb2

    msg = permit_pb2.GetResidenceRecordResponse(id_number=A, name="某某", registrations=[
        permit_pb2.ResidenceRegistrationEntry(district="330203", declared_on="2020-01-02", housing_type="31",
                                              address="宁波市海曙区某路1号")])
    fields = {"residence-history": ("registrations.district", "registrations.declared_on"),
              "identity-full": ("id_number",), "identity-masked": ("id_number",)}
    project(msg, {"residence-history", "identity-masked"}, fields)
    assert msg.name == "" and msg.id_number == A[:6] + "********" + A[14:]
    assert [(r.district, r.declared_on, r.housing_type, r.address) for r in msg.registrations] == [
        ("330203", "2020-01-02", "", "")]
