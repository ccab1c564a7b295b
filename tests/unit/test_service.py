"""The use cases of gateway/service/ on the in-memory store: plain values in, domain results out, no transport."""
from __future__ import annotations

import datetime as _dt

import pytest

from gateway.audit.entry import Decision
from gateway.domain.dates import InvalidDate
from gateway.domain.districts import DISTRICTS, District
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import Permit, PermitState
from gateway.identity.principal import Principal
from gateway.rules.eligibility import EligibilityDecision
from gateway.rules.permit_status import PermitStatus
from gateway.service import audit_queries, eligibility, entitlement, permits, statistics
from gateway.service.access import Caller, access_entry
from gateway.service.explain import METHOD, log_entry
from tests.fakes import FakeStore
from tests.helpers import make_id

WHO = IdNumber.parse(make_id("330203", seq=201))
TODAY = _dt.date(2026, 6, 15)


def _permit(number: str, issued: _dt.date, until: _dt.date, state: PermitState = PermitState.VALID) -> Permit:
    return Permit(WHO, number, District("330203"), issued, until, None, state)


def test_permit_status_and_residence_record_give_each_permit_its_own_status() -> None:
    store = FakeStore()
    store.add(_permit("P1", _dt.date(2020, 1, 1), _dt.date(2021, 1, 1)), _permit("P2", _dt.date(2025, 1, 1),
                                                                                  _dt.date(2027, 1, 1)))
    assert permits.status_of(store, WHO, TODAY).status is PermitStatus.VALID
    record = permits.residence_record(store, WHO, TODAY)
    assert record.person is None and record.registrations == ()
    assert [(line.permit.permit_number, line.status) for line in record.permits] == [
        ("P1", PermitStatus.EXPIRED), ("P2", PermitStatus.VALID)]


def test_service_code_is_known_and_covered_by_the_purpose() -> None:
    assert entitlement.service_code(" s-3 ", "public-health", {"S-3"}) == "S-3"
    with pytest.raises(entitlement.UnknownServiceCode):
        entitlement.service_code("X-9", "public-health", {"S-3"})
    with pytest.raises(entitlement.ServiceNotCovered) as info:
        entitlement.service_code("S-1", "public-health", {"S-3"})
    assert (info.value.purpose, info.value.code) == ("public-health", "S-1")


def test_as_of_is_today_unless_a_date_is_given() -> None:
    assert eligibility.as_of("  ", TODAY) == TODAY
    assert eligibility.as_of("2025-02-03", TODAY) == _dt.date(2025, 2, 3)
    with pytest.raises(InvalidDate):
        eligibility.as_of("03/02/2025", TODAY)


def test_district_keys_accept_one_district_or_the_city() -> None:
    assert statistics.district_keys("") == statistics.district_keys("330200") == list(DISTRICTS)
    assert statistics.district_keys(" 330203 ") == ["330203"]
    with pytest.raises(statistics.UnknownDistrict):
        statistics.district_keys("110101")


def test_audit_queries_refuse_bad_arguments_naming_the_field() -> None:
    store = FakeStore()
    with pytest.raises(audit_queries.BadQuery) as info:
        audit_queries.search(store, audit_queries.Filters(since="yesterday"))
    assert info.value.field == "since"
    with pytest.raises(audit_queries.BadQuery) as info:
        audit_queries.consistency(store, 1, 2)
    assert info.value.field == "old_size"


def test_search_and_subject_report_read_the_log() -> None:
    store = FakeStore()
    subject = store.subject_index(WHO)
    caller = Caller.of(Principal("police", "org-1", "test police", "330203", "1f"))
    for decision in (Decision.ALLOW, Decision.ALERT):
        store.append_access(access_entry(caller, method="m", purpose="p", decision=decision, reason="R",
                                         policy_version="v", subject=subject))
    assert [e.seq for e in audit_queries.search(store, audit_queries.Filters(subject=subject))] == [1, 2]
    assert [e.decision for e in audit_queries.subject_accesses(store, subject)] == [Decision.ALLOW]


def test_explain_entry_names_the_operator_and_the_subject_by_blind_index() -> None:
    store = FakeStore()
    decision = EligibilityDecision(eligible=False, bases=(), reasons=())
    entry = log_entry(store, WHO, decision, "alice", "v1")
    assert (entry.principal, entry.role, entry.operator_id, entry.serial) == ("operator/alice", "operator", "alice", "")
    assert (entry.method, entry.decision, entry.reason) == (METHOD, Decision.ALLOW, "NOT_ELIGIBLE")
    assert entry.subject == store.subject_index(WHO) and WHO.value not in entry.canonical_bytes().decode()
