"""R-SI alone: which months of social insurance count, the current continuous run, and what broke it.

A table of boundary cases, then properties over random contribution histories (hypothesis).
"""
from __future__ import annotations

import datetime as _dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.dates import month_index
from gateway.domain.records import Contribution, ContributionKind, InsuranceType
from gateway.rules.eligibility import BreakCause, month_of, month_text, si_months
from tests.unit.test_eligibility_rules import WHO, contributions

AS_OF = _dt.date(2026, 3, 15)
B, W, N = BreakCause.BACK_PAYMENT, BreakCause.WORK_INJURY_ONLY, BreakCause.NO_CONTRIBUTION

# (case, as_of, contributions spec, run, total, run_end, last_month, breaks)
CASES = [
    ("nothing on record", AS_OF, "", 0, 0, None, None, ()),
    ("twelve months ending last month", AS_OF, "2025-03..2026-02:110:10", 12, 12, "2026-02", "2026-02", ()),
    ("twelve months ending this month", AS_OF, "2025-04..2026-03:110:10", 12, 12, "2026-03", "2026-03", ()),
    ("back-payment breaks", AS_OF, "2025-03..2025-08:110:10 2025-09:110:31 2025-10..2026-02:110:10",
     5, 11, "2026-02", "2026-02", (("2025-09", B),)),
    ("work-injury-only breaks", AS_OF, "2025-03..2025-08:110:10 2025-09:410:10 2025-10..2026-02:110:10",
     5, 11, "2026-02", "2026-02", (("2025-09", W),)),
    ("a month without contribution breaks", AS_OF, "2025-03..2025-08:110:10 2025-10..2026-02:110:10",
     5, 11, "2026-02", "2026-02", (("2025-09", N),)),
    ("back-paid work injury is a back-payment", AS_OF, "2025-06..2026-02:110:10 2025-09:110:31 2025-09:410:31",
     9, 9, "2026-02", "2026-02", ()),
    ("work injury beside medical counts", AS_OF, "2025-03..2026-02:410:10 2025-03..2026-02:310:10",
     12, 12, "2026-02", "2026-02", ()),
    ("late payment counts", AS_OF, "2026-01:110:10 2026-02:110:21", 2, 2, "2026-02", "2026-02", ()),
    ("run ended two months before", AS_OF, "2025-01..2026-01:110:10", 0, 13, None, "2026-01", (("2026-02", N),)),
    ("future months ignored", AS_OF, "2025-03..2026-12:110:10", 13, 13, "2026-03", "2026-03", ()),
    ("current month never breaks", AS_OF, "2025-03..2026-02:110:10 2026-03:410:10 2026-03:110:31",
     12, 12, "2026-02", "2026-02", ()),
    ("back-payments only", AS_OF, "2025-10..2026-02:110:31", 0, 0, None, None,
     tuple((m, B) for m in ("2025-10", "2025-11", "2025-12", "2026-01", "2026-02"))),
    ("first of the month", _dt.date(2026, 3, 1), "2025-03..2026-02:210:10", 12, 12, "2026-02", "2026-02", ()),
    ("across the new year", _dt.date(2026, 1, 31), "2025-11..2025-12:510:10", 2, 2, "2025-12", "2025-12", ()),
    ("several breaks, oldest first", AS_OF, "2025-01:110:10 2025-02:410:10 2025-03:110:10 2025-04:110:31 "
     "2025-05..2026-02:110:10", 10, 12, "2026-02", "2026-02", (("2025-02", W), ("2025-04", B))),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_si_table(case: tuple) -> None:
    _, as_of, spec, run, total, run_end, last, breaks = case
    si = si_months(contributions(spec), as_of)
    assert (si.run, si.total, si.run_end, si.last_month) == (run, total, run_end, last)
    assert tuple((b.month, b.cause) for b in si.breaks) == breaks
    if run:
        assert month_index(si.run_end) - month_index(si.run_start) + 1 == run


def test_enough_cases() -> None:
    assert len(CASES) >= 10


def test_break_before_run_names_the_month_that_ended_it() -> None:
    si = si_months(contributions("2025-01..2025-05:110:10 2025-06:410:10 2025-07..2026-02:110:10"), AS_OF)
    assert si.break_before_run() is not None and si.break_before_run().month == "2025-06"


# --- properties ---------------------------------------------------------------------------------------------

FIRST, LAST = month_index("2023-01"), month_index("2026-12")
months = st.integers(FIRST, LAST).map(month_text)
contribution = st.builds(lambda m, ins, kind: Contribution(WHO, "U001", "", ins, m, m, kind),
                         months, st.sampled_from(InsuranceType), st.sampled_from(ContributionKind))
histories = st.lists(contribution, max_size=60)
dates = st.dates(_dt.date(2023, 6, 1), _dt.date(2026, 12, 31))


def _one(month: str, insurance: InsuranceType, kind: ContributionKind) -> Contribution:
    return Contribution(WHO, "U002", "", insurance, month, month, kind)


@given(histories, dates)
def test_total_is_at_least_the_run(history: list[Contribution], as_of: _dt.date) -> None:
    si = si_months(history, as_of)
    assert 0 <= si.run <= si.total
    assert (si.run == 0) == (si.run_end is None)
    if si.run_end is not None:
        assert month_index(month_of(as_of)) - month_index(si.run_end) in (0, 1)


@given(histories, dates, months, st.sampled_from(InsuranceType))
def test_a_back_payment_never_increases_the_run(history: list[Contribution], as_of: _dt.date, month: str,
                                                insurance: InsuranceType) -> None:
    before = si_months(history, as_of)
    after = si_months([*history, _one(month, insurance, ContributionKind.BACK_PAYMENT)], as_of)
    assert after.run <= before.run and after.total <= before.total


@given(histories, dates, months, st.sampled_from(ContributionKind))
def test_work_injury_alone_never_counts(history: list[Contribution], as_of: _dt.date, month: str,
                                       kind: ContributionKind) -> None:
    before = si_months(history, as_of)
    after = si_months([*history, _one(month, InsuranceType.WORK_INJURY, kind)], as_of)
    assert (after.run, after.total) == (before.run, before.total)


@given(histories, dates, months)
def test_a_normal_payment_never_shortens_the_run(history: list[Contribution], as_of: _dt.date, month: str) -> None:
    before = si_months(history, as_of)
    after = si_months([*history, _one(month, InsuranceType.EMPLOYEE_PENSION, ContributionKind.NORMAL)],
                      as_of)
    assert after.run >= before.run and after.total >= before.total


@given(histories, dates)
def test_order_does_not_matter_and_breaks_are_past_months_that_do_not_count(history: list[Contribution],
                                                                            as_of: _dt.date) -> None:
    si = si_months(history, as_of)
    assert si_months(list(reversed(history)), as_of) == si
    now = month_index(month_of(as_of))
    counted = {c.month_for for c in history if c.kind is not ContributionKind.BACK_PAYMENT
               and c.insurance is not InsuranceType.WORK_INJURY and month_index(c.month_for) <= now}
    assert si.total == len(counted)
    assert all(month_index(b.month) < now and b.month not in counted for b in si.breaks)
