"""S-1…S-6, C-1…C-7 (000 §三) as a table: tests/vectors/entitlements.csv, boundary cases included."""
from __future__ import annotations

import csv
import datetime as _dt
from pathlib import Path

import pytest

from gateway.domain.districts import District
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import Permit, PermitState
from gateway.rules.entitlements import SERVICES, UnknownService, service_entitlement
from gateway.rules.permit_status import PermitStatus, permit_status
from tests.helpers import make_id

TODAY = _dt.date(2026, 11, 21)
WHO = IdNumber(make_id("340102", _dt.date(1988, 5, 4), 17))
ROWS = [r for r in csv.reader((Path(__file__).parents[1] / "vectors" / "entitlements.csv").open(encoding="utf-8"))
        if r and not r[0].startswith("#")]


def _permits(state: str, offset: str, district: str) -> list[Permit]:
    if not state:
        return []
    valid_until = TODAY + _dt.timedelta(days=int(offset))
    return [Permit(WHO, "P1", District.parse(district), valid_until - _dt.timedelta(days=365), valid_until,
                   valid_until - _dt.timedelta(days=365), PermitState(state))]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_entitlement_table(row: list[str]) -> None:
    _, state, offset, district, service, provider, entitled, first = row
    decision = service_entitlement(permit_status(_permits(state, offset, district), TODAY), service, provider)
    assert decision.entitled is (entitled == "true")
    codes = [r.code for r in decision.reasons]
    assert codes[0] == first.split("|")[0]
    for extra in first.split("|")[1:]:
        assert extra in codes
    assert all(r.message for r in decision.reasons)


def test_every_service_code_is_known_and_others_refused() -> None:
    status = permit_status(_permits("1", "10", "330203"), TODAY)
    assert status.status is PermitStatus.VALID
    for code in SERVICES:
        assert service_entitlement(status, code, "330203").entitled
    with pytest.raises(UnknownService):
        service_entitlement(status, "S-7", "330203")


def test_the_most_recent_permit_speaks() -> None:
    old = _permits("4", "-900", "330203")[0]
    new = _permits("1", "100", "330205")[0]
    assert permit_status([new, old], TODAY).permit == new
    assert permit_status([old, new], TODAY).status is PermitStatus.VALID
