"""adapters/health.py: the canonical permit-status decision in the hospital's data elements."""
from __future__ import annotations

import datetime as _dt

from google.protobuf import json_format

from adapters import health
from gateway.domain.districts import District
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import Permit, PermitState
from gateway.rules.entitlements import service_entitlement
from gateway.rules.permit_status import permit_status
from permitgw.health.v1 import permit_status_pb2
from tests.helpers import make_id

TODAY = _dt.date(2026, 11, 21)
WHO = IdNumber(make_id("340102", _dt.date(1988, 5, 4), 17))


def _answer(state: str | None, district: str = "330212", provider: str = "330212") -> dict[str, object]:
    permits = [] if state is None else [Permit(WHO, "P", District(district), _dt.date(2026, 1, 1),
                                               _dt.date(2027, 1, 1), None, PermitState(state))]
    decision = permit_status(permits, TODAY)
    ents = [service_entitlement(decision, s, provider) for s in health.SERVICES]
    return health.permit_status_fields(decision, ents, WHO.masked())


def test_valid_permit_gives_both_health_services() -> None:
    a = _answer("1")
    assert a == {"DE02.01.030.00": WHO.masked(), "JZZZT": "1", "JZZYXQ": "2027-01-01", "FWXM": ["S-3", "C-6"]}


def test_not_valid_is_zero_with_no_services() -> None:
    for state in ("2", "3", "4"):
        a = _answer(state)
        assert (a["JZZZT"], a["FWXM"]) == ("0", [])
    assert _answer(None) == {"DE02.01.030.00": WHO.masked(), "JZZZT": "0", "JZZYXQ": "", "FWXM": []}


def test_valid_elsewhere_is_valid_but_no_local_services() -> None:
    a = _answer("1", district="330203", provider="330212")
    assert (a["JZZZT"], a["FWXM"]) == ("1", [])


def test_the_mapping_fills_the_dialect_proto_by_its_json_names() -> None:
    msg = json_format.ParseDict(_answer("1"), permit_status_pb2.GetPermitStatusResponse())
    assert WHO.masked() == msg.DE02_01_030_00 and list(msg.FWXM) == ["S-3", "C-6"]
    assert set(json_format.MessageToDict(msg)) == {"DE02.01.030.00", "JZZZT", "JZZYXQ", "FWXM"}
