"""The console's Organisation report over the in-memory store: counts by purpose and outcome, per UTC day across a
month boundary, the period's bounds (since inclusive, until exclusive), district scope and refused periods."""
from __future__ import annotations

import pytest

from gateway.audit.entry import AccessEntry, Decision
from gateway.audit.port import EntryScope
from gateway.service.oversight_orgs import MAX_DAYS, BadReport, DayCount, PurposeCount, org_report
from gateway.service.oversight_time import BadTime
from tests.fakes import FakeStore


def call(time: str, *, org: str = "kg-7", purpose: str = "enrolment", decision: str = Decision.ALLOW,
         district: str = "330203") -> AccessEntry:
    return AccessEntry(time, f"school/{district}/{org}", "ab", "school", org, district,
                       "/permitgw.v1.Residence/GetStatus", purpose, "case", "op", "", decision, "OK", "v1")


def log(*entries: AccessEntry) -> FakeStore:
    store = FakeStore()
    store.append_accesses(list(entries))
    return store


STORE = log(
    call("2026-05-31T23:59:59.999999Z"),  # before the period
    call("2026-06-01T00:00:00.000000Z"),  # its first instant
    call("2026-06-01T10:00:00.000000Z", decision=Decision.DENY),
    call("2026-06-01T11:00:00.000000Z", purpose="health-check"),
    call("2026-06-30T23:59:59.999999Z", decision=Decision.INVALID),
    call("2026-07-01T00:00:00.000000Z", decision=Decision.ERROR),  # the last day, which ends at `until`'s instant
    call("2026-07-01T12:00:00.000000Z"),  # `until` itself: outside
    call("2026-06-02T00:00:00.000000Z", org="kg-8"),  # another organisation
    call("2026-06-02T00:00:00.000000Z", decision=Decision.ALERT),  # not an access
    call("2026-06-03T00:00:00.000000Z", district="330205", purpose="health-check"))  # another district's caller


def test_an_organisations_accesses_by_purpose_and_outcome_and_per_day() -> None:
    r = org_report(STORE, "kg-7", "2026-06-01T00:00:00Z", "2026-07-01T12:00:00Z")
    assert (r.org, r.since, r.until, r.total) == ("kg-7", "2026-06-01T00:00:00.000000Z",
                                                  "2026-07-01T12:00:00.000000Z", 6)
    assert r.by_purpose == (PurposeCount("enrolment", "allow", 1), PurposeCount("enrolment", "deny", 1),
                            PurposeCount("enrolment", "error", 1), PurposeCount("enrolment", "invalid", 1),
                            PurposeCount("health-check", "allow", 2))
    assert r.by_day == (DayCount("2026-06-01", "allow", 2), DayCount("2026-06-01", "deny", 1),
                        DayCount("2026-06-03", "allow", 1), DayCount("2026-06-30", "invalid", 1),
                        DayCount("2026-07-01", "error", 1))
    assert (r.days[0], r.days[-1], len(r.days)) == ("2026-06-01", "2026-07-01", 31)
    assert r.outcomes() == ("allow", "deny", "error", "invalid")
    allow = r.series("allow")
    assert len(allow) == 31 and allow[0] == 2 and allow[2] == 1 and sum(allow) == 3
    assert sum(sum(r.series(o)) for o in r.outcomes()) == r.total


def test_a_period_ending_at_midnight_does_not_touch_the_next_day() -> None:
    r = org_report(STORE, "kg-7", "2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z")
    assert r.days[-1] == "2026-06-30" and len(r.days) == 30 and r.total == 5


def test_a_district_sees_its_own_callers_accesses_only() -> None:
    june = ("2026-06-01T00:00:00Z", "2026-07-02T00:00:00Z")
    assert org_report(STORE, "kg-7", *june, EntryScope("330205")).by_purpose == (
        PurposeCount("health-check", "allow", 1),)
    assert org_report(STORE, "kg-7", "2026-06-01T00:00:00Z", "2026-07-02T00:00:00Z", EntryScope("330203")).total == 6
    assert org_report(STORE, "kg-7", "2026-06-01T00:00:00Z", "2026-07-02T00:00:00Z", EntryScope("330281")).total == 0


def test_times_with_an_offset_are_utc_instants() -> None:
    r = org_report(STORE, "kg-7", "2026-06-01T08:00:00+08:00", "2026-06-01T19:00:00+08:00")
    assert (r.since, r.until, r.total) == ("2026-06-01T00:00:00.000000Z", "2026-06-01T11:00:00.000000Z", 2)


def test_an_organisation_without_accesses_has_an_empty_report() -> None:
    r = org_report(STORE, "nobody", "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z")
    assert (r.by_purpose, r.by_day, r.total, r.days) == ((), (), 0, ("2026-06-01",))


@pytest.mark.parametrize(("org", "since", "until"), [
    ("kg-7", "2026-06-02T00:00:00Z", "2026-06-01T00:00:00Z"),
    ("kg-7", "2026-06-01T00:00:00Z", "2026-06-01T00:00:00Z"),
    ("kg-7", "2025-06-01T00:00:00Z", "2026-06-02T00:00:01Z"),
    ("", "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"),
    ("k" * 65, "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"),
    ("kg\n7", "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"),
])
def test_a_report_is_refused_for_a_bad_organisation_or_period(org: str, since: str, until: str) -> None:
    with pytest.raises(BadReport):
        org_report(STORE, org, since, until)


def test_the_longest_period_is_answered_and_times_must_be_instants() -> None:
    assert len(org_report(STORE, "kg-7", "2025-06-01T00:00:00Z", "2026-06-02T00:00:00Z").days) == MAX_DAYS
    with pytest.raises(BadTime, match="since"):
        org_report(STORE, "kg-7", "2026-06-01", "2026-06-02T00:00:00Z")
