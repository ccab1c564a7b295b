"""The console's Overview use case over the in-memory store: the week window in UTC hours (day and month
boundaries), the refusal rate's arithmetic, district scope, and the checkpoint and verification it reports."""
from __future__ import annotations

import dataclasses

import pytest

from gateway.audit.entry import AccessEntry, Decision
from gateway.audit.oversight_rows import VerificationRecord
from gateway.audit.port import EVERYWHERE, EntryScope
from gateway.service.oversight_overview import WINDOW_HOURS, overview
from gateway.service.oversight_time import BadTime
from tests.fakes import FakeStore


def call(time: str, *, decision: str = Decision.ALLOW, role: str = "school", district: str = "330203",
         reason: str = "OK") -> AccessEntry:
    return AccessEntry(time, f"{role}/{district}/o1", "ab", role, "o1", district, "/permitgw.v1.Residence/GetStatus",
                       "enrolment", "case", "op", "", decision, reason, "v1")


def store_with(*entries: AccessEntry) -> FakeStore:
    store = FakeStore()
    store.append_accesses(list(entries))
    return store


def test_an_empty_log_has_a_week_of_empty_hours_and_no_rate() -> None:
    o = overview(FakeStore(), "2026-06-15T04:30:00Z")
    assert (o.log_size, o.checkpoint, o.verification, o.calls, o.calls_total, o.refused, o.refusal_rate,
            o.open_alerts) == (0, None, None, (), 0, 0, None, 0)
    assert len(o.hours) == WINDOW_HOURS == 168
    assert (o.hours[0], o.hours[-1]) == ("2026-06-08T05:00:00Z", "2026-06-15T04:00:00Z")


def test_hours_are_utc_buckets_across_a_month_boundary_and_the_window_edges_are_exact() -> None:
    store = store_with(
        call("2026-02-22T00:59:59.999999Z"),  # before the window's first hour
        call("2026-02-22T01:00:00.000000Z"),  # the first hour's first instant
        call("2026-02-28T23:59:59.999999Z"),
        call("2026-03-01T00:00:00.000000Z", role="hospital"),
        call("2026-03-01T00:59:59.999999Z"),
        call("2026-03-01T01:00:00.000000Z"))  # after now's hour: not yet in the window
    o = overview(store, "2026-03-01T00:30:00Z")
    assert (o.hours[0], o.hours[-1]) == ("2026-02-22T01:00:00Z", "2026-03-01T00:00:00Z")
    assert [(c.hour, c.role, c.count) for c in o.calls] == [
        ("2026-02-22T01:00:00Z", "school", 1), ("2026-02-28T23:00:00Z", "school", 1),
        ("2026-03-01T00:00:00Z", "hospital", 1), ("2026-03-01T00:00:00Z", "school", 1)]
    assert o.log_size == 6 and o.calls_total == 4
    assert o.roles() == ("hospital", "school")
    school = o.series("school")
    assert len(school) == 168 and sum(school) == 3 and school[0] == 1 and school[-1] == 1 and school[-2] == 1


def test_a_leap_day_and_a_year_end_fall_in_their_own_hours() -> None:
    store = store_with(call("2028-02-29T23:10:00.000000Z"), call("2028-12-31T23:59:59.000000Z"),
                       call("2029-01-01T00:00:00.000000Z"))
    assert [c.hour for c in overview(store, "2028-03-01T00:00:00Z").calls] == ["2028-02-29T23:00:00Z"]
    assert [c.hour for c in overview(store, "2029-01-01T00:05:00Z").calls] == [
        "2028-12-31T23:00:00Z", "2029-01-01T00:00:00Z"]


def test_now_with_an_offset_is_the_same_instant_in_utc() -> None:
    store = store_with(call("2026-06-15T03:59:00.000000Z"))
    assert overview(store, "2026-06-15T12:10:00+08:00") == overview(store, "2026-06-15T04:10:00Z")


def test_the_refusal_rate_is_deny_and_invalid_over_all_calls_and_alerts_are_not_calls() -> None:
    t = "2026-06-15T03:00:00.000000Z"
    store = store_with(*[call(t)] * 6, *[call(t, decision=Decision.DENY)] * 2, call(t, decision=Decision.INVALID),
                       call(t, decision=Decision.ERROR), *[call(t, decision=Decision.ALERT, reason="BULK_LOOKUP")] * 3)
    o = overview(store, "2026-06-15T04:00:00Z")
    assert (o.calls_total, o.refused, o.open_alerts, o.log_size) == (10, 3, 3, 13)
    assert o.refusal_rate == pytest.approx(0.3)
    assert [c.count for c in o.calls] == [10]


def test_a_district_sees_its_own_callers_only_and_the_city_sees_all() -> None:
    t = "2026-06-15T03:00:00.000000Z"
    store = store_with(call(t), call(t, decision=Decision.DENY), call(t, district="330205"),
                       call(t, district="330205", decision=Decision.ALERT, reason="DENIED_STORM"),
                       call(t, decision=Decision.ALERT, reason="QUOTA_WARNING"),
                       call(t, decision=Decision.ALERT, reason="QUOTA_EXCEEDED"))
    mine = overview(store, "2026-06-15T04:00:00Z", EntryScope("330203"))
    other = overview(store, "2026-06-15T04:00:00Z", EntryScope("330205"))
    city = overview(store, "2026-06-15T04:00:00Z", EVERYWHERE)
    assert (mine.calls_total, mine.refused, mine.open_alerts) == (2, 1, 2)
    assert (other.calls_total, other.refused, other.refusal_rate, other.open_alerts) == (1, 0, 0.0, 1)
    assert (city.calls_total, city.refused, city.open_alerts) == (3, 1, 3)
    assert mine.log_size == other.log_size == city.log_size == 6  # the log's size is the log's, not a district's
    assert overview(store, "2026-06-15T04:00:00Z", EntryScope("330281")).calls == ()


def test_the_latest_checkpoint_and_its_age_at_now() -> None:
    store = store_with(call("2026-06-15T03:00:00.000000Z"), call("2026-06-15T03:10:00.000000Z"))
    store.add_checkpoint(1, b"\x01" * 32, "note 1")
    store.add_checkpoint(2, b"\xab" * 32, "note 2")
    o = overview(store, "2026-06-15T03:20:30Z")
    assert o.checkpoint is not None
    assert (o.checkpoint.size, o.checkpoint.root_hex, o.checkpoint.time, o.checkpoint.age_seconds) == (
        2, "ab" * 32, "2026-06-15T03:10:00.000000Z", 630)
    store.checkpoint_time = "2026-06-15T05:00:00.000000Z"  # a clock that stepped back: the age is not negative
    later = overview(store, "2026-06-15T03:20:30Z").checkpoint
    assert later is not None and later.age_seconds == 0


def test_the_latest_full_verification_is_reported() -> None:
    store = FakeStore()
    first = VerificationRecord("2026-06-15T01:00:00.000000Z", True, 10, "OK")
    second = dataclasses.replace(first, time="2026-06-15T02:00:00.000000Z", ok=False, message="FAILED: 1 problem(s)")
    store.add_verification(first)
    store.add_verification(second)
    assert overview(store, "2026-06-15T04:00:00Z").verification == second


@pytest.mark.parametrize("now", ["", "2026-06-15T04:00:00", "yesterday", "2026-13-01T00:00:00Z"])
def test_now_must_be_an_instant_with_its_offset(now: str) -> None:
    with pytest.raises(BadTime, match="now"):
        overview(FakeStore(), now)
