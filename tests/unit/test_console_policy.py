"""The console's policy lines: a district auditor sees its own district's accesses only, the city's auditor all of
them, and no other role any console page."""
from __future__ import annotations

import pytest

from gateway.policy.decisions import IN, OUT, PolicyTable, Reason

PAGES = ("Overview", "Search", "Export", "Entry", "Alerts", "AcknowledgeAlert", "PersonReport", "OrgReport")
METHODS = [f"permitgw.console.v1.Console/{p}" for p in PAGES]


@pytest.fixture(scope="module")
def table(shipped_table: PolicyTable) -> PolicyTable:
    return shipped_table


@pytest.mark.parametrize("method", METHODS)
def test_a_district_auditor_in_district_only(table: PolicyTable, method: str) -> None:
    assert table.decide("auditor", "330203", "access-audit", method, IN).allowed
    refused = table.decide("auditor", "330203", "access-audit", method, OUT)
    assert not refused.allowed and refused.reason == Reason.OUT_OF_DISTRICT


@pytest.mark.parametrize("method", METHODS)
def test_the_city_auditor_everywhere(table: PolicyTable, method: str) -> None:
    # the city (330200) is in-district everywhere: the gate and the console never ask it for OUT
    assert table.decide("auditor", "330200", "access-audit", method, IN).allowed


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("role", ["school", "health", "employment", "housing", "police", "statistics"])
def test_no_other_role_sees_a_console_page(table: PolicyTable, role: str, method: str) -> None:
    for purpose in table.catalogue.purposes:
        for scope in (IN, OUT):
            assert not table.decide(role, "330203", purpose, method, scope).allowed


def test_only_for_access_audit(table: PolicyTable) -> None:
    for purpose in set(table.catalogue.purposes) - {"access-audit"}:
        assert not table.decide("auditor", "330200", purpose, METHODS[1], IN).allowed
