"""The database-backed quota counter's logic, over an in-memory ledger (tests/fakes.py) and a fake clock.

It must decide exactly as the in-memory QuotaTracker does (same outcomes, counts, windows and alerts, for any
sequence of asks), touch the database only when a limit applies, record nothing it refused, keep its tables
bounded, and raise — never answer uncounted — when the database cannot be reached.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.store.port import StoreUnavailable
from gateway.watch.quotas import DAY, HOUR, QUOTA_EXCEEDED, QUOTA_WARNING, QuotaTracker
from gateway.watch.shared_quotas import FORGET_EVERY, SWEEP_AGE, SharedQuotaCounter
from tests.fakes import FakeQuotaLedger
from tests.unit.test_quotas import T0, FakeClock, make_settings

P = "school/330203/A"


def shared(ratio: float = 0.8, **limits: tuple[int | None, int | None]
           ) -> tuple[SharedQuotaCounter, FakeQuotaLedger, FakeClock]:
    clock, ledger = FakeClock(), FakeQuotaLedger()
    return SharedQuotaCounter(make_settings(ratio, **limits), ledger, clock=clock), ledger, clock


# ------------------------------------------------------------------------------------------------ same as the tracker

_ASK = st.tuples(
    st.one_of(st.integers(0, 4000), st.sampled_from([0, 1, 3599, 3600, 3601, 86399, 86400, 86401])),  # clock step
    st.sampled_from(["p", "q"]),  # principal
    st.lists(st.integers(0, 11), min_size=0, max_size=3),  # the people of one request (0: about nobody)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ASK, max_size=60), st.integers(0, 5), st.integers(0, 6), st.sampled_from([0.5, 0.8, 1.0]),
       st.sampled_from(["school", "auditor", "police", "statistics", "no-such-role"]))
def test_decides_exactly_as_the_in_memory_tracker(asks: list[tuple[int, str, list[int]]], per_hour: int,
                                                 extra_day: int, ratio: float, role: str) -> None:
    limits = {"school": (per_hour, per_hour + extra_day), "auditor": (None, per_hour + extra_day),
              "police": (None, None)}
    counter, _, clock = shared(ratio, **limits)
    tracker = QuotaTracker(make_settings(ratio, **limits), clock=clock)
    for step, principal, people in asks:
        clock.advance(step)
        subject, *others = [f"{n:02x}" * 32 for n in people] or [""]
        assert counter.check(principal, role, subject, *others) == tracker.check(principal, role, subject, *others)


# ------------------------------------------------------------------------------------------------ the boundary


def test_the_sixth_person_is_allowed_the_seventh_refused_and_repeats_are_free() -> None:
    counter, ledger, _ = shared(school=(6, 100))
    outs = [counter.check(P, "school", f"{n:064x}") for n in range(8)]
    assert [o.allowed for o in outs] == [True] * 6 + [False] * 2
    assert (outs[6].window, outs[6].count, outs[6].limit, outs[6].alert) == ("hour", 6, 6, QUOTA_EXCEEDED)
    assert [o.alert for o in outs[:6]] == [None] * 4 + [QUOTA_WARNING, None]  # 5 of 6 reaches 0.8
    assert counter.check(P, "school", f"{0:064x}").allowed  # already counted this hour
    assert sorted(ledger.seen[P]) == [f"{n:064x}" for n in range(6)]  # the refused two left no row


def test_the_hour_rolls_with_the_injected_clock() -> None:
    counter, _, clock = shared(school=(2, 100))
    assert [counter.check(P, "school", s).allowed for s in ("a", "b", "c")] == [True, True, False]
    clock.advance(HOUR - 1)
    assert not counter.check(P, "school", "c").allowed
    clock.advance(1)
    out = counter.check(P, "school", "c")
    assert out.allowed and (out.window, out.count) == ("hour", 1)


def test_a_request_about_several_people_fits_only_if_all_its_new_ones_fit() -> None:
    counter, ledger, _ = shared(school=(3, 100))
    assert counter.check(P, "school", "child", "mother").allowed
    out = counter.check(P, "school", "child", "father", "aunt")  # two new: 4 > 3
    assert (out.allowed, out.count) == (False, 2)
    assert set(ledger.seen[P]) == {"child", "mother"}
    assert counter.check(P, "school", "child", "father").count == 3


# ------------------------------------------------------------------------------------------------ no database needed


def test_unlimited_roles_and_requests_about_nobody_never_reach_the_database() -> None:
    counter, ledger, _ = shared(police=(None, None), school=(1, 1))
    for n in range(50):
        assert counter.check("police-1", "police", f"s{n}").allowed
        assert counter.check(P, "school", "").allowed
    assert ledger.transactions == 0 and ledger.sweeps == []


def test_an_unknown_role_is_refused() -> None:
    counter, ledger, _ = shared()
    out = counter.check("x", "no-such-role", "a")
    assert (out.allowed, out.limit, out.alert) == (False, 0, QUOTA_EXCEEDED)
    assert ledger.seen.get("x", {}) == {}


# ------------------------------------------------------------------------------------------------ fail closed


def test_an_unreachable_database_raises_and_records_nothing_then_counting_resumes() -> None:
    counter, ledger, _ = shared(school=(2, 10))
    assert counter.check(P, "school", "a").allowed
    ledger.unavailable = True
    with pytest.raises(StoreUnavailable):
        counter.check(P, "school", "b")
    ledger.unavailable = False
    assert [counter.check(P, "school", s).allowed for s in ("b", "c")] == [True, False]


# ------------------------------------------------------------------------------------------------ bounded tables


def test_old_rows_are_dropped_the_principals_in_its_check_the_idle_ones_by_an_hourly_sweep() -> None:
    counter, ledger, clock = shared(school=(100, 1000))
    for n in range(5):
        counter.check("idle", "school", f"i{n}")
    counter.check(P, "school", "old")
    assert ledger.sweeps == [T0 - SWEEP_AGE]  # the first check sweeps
    clock.advance(HOUR - 1)
    counter.check(P, "school", "x")
    assert len(ledger.sweeps) == 1  # not again within the hour
    clock.advance(DAY)
    counter.check(P, "school", "fresh")
    assert set(ledger.seen[P]) == {"fresh"}  # its own rows older than a day went in its check
    assert len(ledger.seen["idle"]) == 5  # an idle principal's stay until the sweep finds them two days old
    clock.advance(SWEEP_AGE - DAY)
    counter.check(P, "school", "later")
    assert ledger.seen["idle"] == {}


def test_a_principals_old_rows_are_dropped_at_most_once_every_ten_minutes_not_in_every_check() -> None:
    """The clean-up is a statement of its own in the check's transaction: made when the principal's last one is
    FORGET_EVERY old (or the clock went back), skipped otherwise, and made again after a sweep."""
    counter, ledger, clock = shared(school=(100, 1000))
    counter.check(P, "school", "a")
    clock.advance(FORGET_EVERY - 1)
    counter.check(P, "school", "b")
    counter.check("other", "school", "a")  # another principal's first check cleans its own rows
    clock.advance(1)
    counter.check(P, "school", "c")
    clock.advance(-5)  # a clock that went back is not trusted to have cleaned recently
    counter.check(P, "school", "d")
    assert ledger.forgets == [T0 - DAY, None, T0 + FORGET_EVERY - 1 - DAY, T0 + FORGET_EVERY - DAY,
                              T0 + FORGET_EVERY - 5 - DAY]
    clock.advance(HOUR)  # the hourly sweep forgets who cleaned when
    counter.check(P, "school", "e")
    counter.check(P, "school", "f")
    assert ledger.forgets[-2:] == [T0 + FORGET_EVERY - 5 + HOUR - DAY, None]
    assert len(ledger.sweeps) == 2
