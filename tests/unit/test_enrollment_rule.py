"""CheckEnrollment (S-1) as a decision table: tests/vectors/enrollment.csv, boundaries included."""
from __future__ import annotations

import csv
import datetime as _dt
from pathlib import Path

import pytest

from gateway.datadir import DataDir
from gateway.domain.districts import District
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import Guardianship, Permit, PermitState
from gateway.rules.enrollment import EnrollmentSettings, Outcome, check_enrollment
from gateway.settings.enrollment import load_enrollment
from tests.helpers import make_id

TODAY = _dt.date(2026, 11, 21)
SETTINGS = EnrollmentSettings(6, 15, 8, 31, frozenset())
PEOPLE = {"F": IdNumber(make_id("340102", _dt.date(1985, 2, 3), 11)),
          "M": IdNumber(make_id("411302", _dt.date(1987, 6, 7), 22)),
          "X": IdNumber(make_id("522101", _dt.date(1980, 9, 9), 33))}
ROWS = [r for r in csv.reader((Path(__file__).parents[1] / "vectors" / "enrollment.csv").open(encoding="utf-8"))
        if r and not r[0].startswith("#")]


def _permit(who: IdNumber, spec: str) -> list[Permit]:
    if not spec:
        return []
    state, offset, district = spec.split(":")
    until = TODAY + _dt.timedelta(days=int(offset))
    return [Permit(who, f"P-{who.value[-4:]}", District.parse(district), until - _dt.timedelta(days=365), until,
                   until - _dt.timedelta(days=365), PermitState(state))]


def _letters(text: str) -> list[str]:
    return [x for x in text.split(",") if x]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_enrollment_table(row: list[str]) -> None:
    _, birth, asked, psb, edu, f_permit, m_permit, x_permit, outcome, first = row
    child = IdNumber(make_id("340102", _dt.date.fromisoformat(birth), 101))
    ships = [Guardianship(child, PEOPLE[g], "", "psb") for g in _letters(psb)]
    ships += [Guardianship(child, PEOPLE[g], "51", "education") for g in _letters(edu)]
    permits = {PEOPLE[k]: _permit(PEOPLE[k], spec) for k, spec in (("F", f_permit), ("M", m_permit), ("X", x_permit))}
    d = check_enrollment(child, [PEOPLE[g] for g in _letters(asked)], ships, permits, "330203", TODAY, SETTINGS)
    assert (d.outcome, d.reasons[0].code) == (Outcome(outcome), first)
    for r in d.reasons:  # reasons are for the school: never an identity number
        assert all(p.value not in r.message and p.value[:6] + p.value[14:] not in r.message for p in PEOPLE.values())
    if d.outcome is Outcome.ENTITLED:
        assert d.guardian_district == "330203" and d.guardian_valid_until is not None


def test_enough_cases() -> None:
    assert len(ROWS) >= 10


def test_shipped_settings_load(data: DataDir) -> None:
    s = load_enrollment(data.policies)
    assert (s.min_age, s.max_age, s.cutoff_month, s.cutoff_day) == (6, 15, 8, 31)


@pytest.mark.parametrize("asked", [["X"], ["F", "X"], ["M", "X"]], ids=lambda a: "+".join(a))
def test_the_answer_says_nothing_about_an_adult_not_on_record(asked: list[str]) -> None:
    """Naming someone who is not the child's guardian gives the same answer whatever that person's permit."""
    child = IdNumber(make_id("340102", _dt.date(2018, 3, 1), 101))
    ships = [Guardianship(child, PEOPLE["F"], "", "psb"), Guardianship(child, PEOPLE["M"], "51", "education")]
    answers = set()
    for x_spec in ("", "1:30:330203", "1:30:330212", "1:-30:330203", "3:100:330203", "4:100:330203"):
        permits = {PEOPLE["F"]: _permit(PEOPLE["F"], "1:-3:330203"), PEOPLE["M"]: _permit(PEOPLE["M"], ""),
                   PEOPLE["X"]: _permit(PEOPLE["X"], x_spec)}
        d = check_enrollment(child, [PEOPLE[g] for g in asked], ships, permits, "330203", TODAY, SETTINGS)
        answers.add((d.outcome, d.reasons, d.guardian_district, d.guardian_valid_until))
    assert len(answers) == 1, answers
