"""Permit eligibility of one person on a day (EvaluatePermitEligibility), from everything on file about them."""
from __future__ import annotations

import datetime as _dt

from gateway.domain.dates import parse_date
from gateway.domain.idnumber import IdNumber
from gateway.rules.eligibility import EligibilityDecision, evaluate_eligibility
from gateway.service import casefile
from gateway.store.port import Store


def as_of(raw: str, today: _dt.date) -> _dt.date:
    """The day asked about: today when none is given, else a YYYY-MM-DD date (InvalidDate if it is not one)."""
    return parse_date(raw) if raw.strip() else today


def evaluate(store: Store, who: IdNumber, day: _dt.date) -> EligibilityDecision:
    """Every basis the person meets on `day` (R-EMP, R-HOME, R-STUDY...), with every reason."""
    return evaluate_eligibility(casefile.load(store, who), day)
