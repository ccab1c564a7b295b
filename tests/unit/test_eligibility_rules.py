"""Permit eligibility (R-REG, R-EMP-1/2/3, R-HOME-1/2/3, R-STUDY, R-EXEMPT) as a table: tests/vectors/eligibility.csv.

Each case's records are written compactly (see the CSV's header); `records_from` turns them into PersonRecords.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
from pathlib import Path

import pytest

from gateway.domain.districts import District
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import (
    BusinessLicence,
    Contribution,
    ContributionKind,
    Enrolment,
    EnrolmentStatus,
    HousingType,
    InsuranceType,
    LabourContract,
    LandContract,
    LandContractKind,
    LicenceKind,
    Person,
    PropertyTitle,
    RentalRegistration,
    ResidenceRegistration,
    SchoolStage,
    Sex,
    TalentDesignation,
)
from gateway.rules.eligibility import BASES, PersonRecords, add_months, evaluate_eligibility, whole_months
from tests.helpers import make_id

WHO = IdNumber(make_id("340102", _dt.date(1990, 4, 5), 17))
RELATIVE = IdNumber(make_id("340102", _dt.date(1962, 8, 9), 31))
OTHER = IdNumber(make_id("411302", _dt.date(1970, 1, 2), 44))
NAME = "张测试"
ADDRESS = "海曙区测试路1号"
EMPLOYER = "宁波测试有限公司"
SCHOOL = "宁波测试学校"
VECTORS = Path(__file__).parents[1] / "vectors"


def read_rows(name: str) -> list[dict[str, str]]:
    """Rows of a vector file; lines starting with '#' are comments, the last comment line is the header."""
    lines = (VECTORS / name).read_text("utf-8").splitlines()
    header = [line for line in lines if line.startswith("#")][-1].lstrip("# ").split(",")
    rows = list(csv.reader(line for line in lines if line and not line.startswith("#")))
    bad = [r[0] for r in rows if len(r) != len(header)]
    assert not bad, f"{name}: rows with a wrong number of columns: {bad}"
    return [dict(zip(header, r, strict=True)) for r in rows]


def _date(text: str) -> _dt.date | None:
    return _dt.date.fromisoformat(text) if text else None


def _span(text: str) -> tuple[_dt.date, _dt.date | None]:
    start, end = text.split("..")
    return _dt.date.fromisoformat(start), _date(end)


def _months(text: str) -> list[str]:
    """'2025-01..2025-12' or '2025-06' → the months, as 'YYYY-MM'."""
    first, _, last = text.partition("..")
    y, m = int(first[:4]), int(first[5:7])
    out = [first]
    while last and out[-1] != last:
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        out.append(f"{y:04d}-{m:02d}")
    return out


def _next_month(month: str) -> str:
    return add_months(_dt.date.fromisoformat(month + "-01"), 1).isoformat()[:7]


def contributions(spec: str) -> tuple[Contribution, ...]:
    """'MONTHS:INSURANCE:KIND' items: '2025-01..2025-12:110:10' (pension, normal), '2025-06:410:10' (work injury)."""
    out = []
    for item in spec.split():
        months, insurance, kind = item.split(":")
        for m in _months(months):
            paid = {"10": m, "21": _next_month(m), "31": "2026-12"}[kind]
            out.append(Contribution(WHO, "U001", EMPLOYER, InsuranceType(insurance), m, paid, ContributionKind(kind)))
    return tuple(out)


def _title(owner: IdNumber, n: int, day: str) -> PropertyTitle:
    return PropertyTitle(f"浙(2020)宁波市不动产权第{n:07d}号", owner, (), ADDRESS, District("330203"),
                         _dt.date.fromisoformat(day))


def records_from(row: dict[str, str]) -> PersonRecords:
    """The compact specs of a vector row (columns registrations … hukou) as PersonRecords of WHO."""
    person = Person(WHO, NAME, Sex.MALE, _dt.date(1990, 4, 5), row.get("hukou") or "340102",
                    TalentDesignation(row["talent"]) if row["talent"] else None)
    regs = tuple(ResidenceRegistration(WHO, District("330203"), ADDRESS, _dt.date.fromisoformat(d), HousingType(t))
                 for d, t in (i.split(":") for i in row["registrations"].split()))
    contracts = tuple(LabourContract(WHO, f"U{n:03d}", EMPLOYER, *_span(span), flag == "1")
                      for n, (span, flag) in enumerate(i.split(":") for i in row["contracts"].split()))
    licences = tuple(BusinessLicence(f"91330203MA2{n:07d}", WHO, LicenceKind(kind), *_span(span))
                     for n, (kind, span) in enumerate(i.split(":") for i in row["licences"].split()))
    land = tuple(LandContract(f"TD{n:04d}", WHO, LandContractKind(kind), *_span(span))
                 for n, (kind, span) in enumerate(i.split(":") for i in row["land"].split()))
    rentals = tuple(RentalRegistration(f"BA{n:05d}", OTHER, WHO, ADDRESS, District("330203"), *_span(span), s == "1")
                    for n, (span, s) in enumerate(i.split(":") for i in row["rentals"].split()))
    enrolments = tuple(Enrolment(WHO, "G" + WHO.value, "3302030001", SCHOOL, SchoolStage.HIGHER, m,
                                 EnrolmentStatus(s)) for m, s in (i.split(":") for i in row["enrolments"].split()))
    return PersonRecords(
        person, regs, (), contributions(row["contributions"]), contracts, licences, land,
        tuple(_title(WHO, n, d) for n, d in enumerate(row["titles"].split())),
        tuple(_title(RELATIVE, 100 + n, d) for n, d in enumerate(row["household"].split())),
        rentals, enrolments)


def secrets_of(records: PersonRecords) -> set[str]:
    """What must never appear in a message: identity numbers (whole or masked), names, addresses, record numbers."""
    found = {NAME, ADDRESS, EMPLOYER, SCHOOL}
    for who in (WHO, RELATIVE, OTHER):
        found |= {who.value, who.value[:6] + who.value[14:], who.value[-6:]}
    for rec in (*records.titles, *records.household_titles, *records.rentals, *records.licences,
                *records.land_contracts, *records.enrolments):
        for f in dataclasses.fields(rec):
            if f.name in ("title_number", "registration_number", "credit_code", "contract_number", "student_number"):
                found.add(getattr(rec, f.name))
    return found


def expectations(spec: str) -> list[tuple[str, str]]:
    """'CODE~text|CODE~text': the reason with that code must contain the text."""
    return [tuple(item.split("~", 1)) for item in spec.split("|") if item]  # type: ignore[misc]


ROWS = read_rows("eligibility.csv")


@pytest.mark.parametrize("row", ROWS, ids=[r["case"] for r in ROWS])
def test_eligibility_table(row: dict[str, str]) -> None:
    records = records_from(row)
    d = evaluate_eligibility(records, _dt.date.fromisoformat(row["as_of"]))
    expected_bases = tuple(b for b in row["bases"].split("|") if b)
    assert (d.eligible, d.bases) == (row["eligible"] == "true", expected_bases)
    codes = [r.code for r in d.reasons]
    assert codes == ["R-REG", *(expected_bases or BASES)]
    by_code = {r.code: r.message for r in d.reasons}
    for code, text in expectations(row["expect"]):
        assert text in by_code[code], f"{code}: {by_code[code]!r} lacks {text!r}"
    secrets = secrets_of(records)
    for r in d.reasons:  # messages are for officials: no identity number, name, address or record number
        assert r.message and not [s for s in secrets if s in r.message], r.message


def test_enough_cases() -> None:
    assert len(ROWS) >= 10


def test_no_records_at_all() -> None:
    d = evaluate_eligibility(PersonRecords(), _dt.date(2026, 3, 15))
    assert not d.eligible and d.bases == ()
    assert [r.code for r in d.reasons] == ["R-REG", *BASES]


def test_contributions_for_months_after_as_of_are_ignored() -> None:
    row = next(r for r in ROWS if r["case"] == "employment with twelve months of insurance")
    records = records_from(row)
    after = contributions("2026-04..2027-12:110:10 2026-04..2026-06:410:31")
    later = dataclasses.replace(records, contributions=records.contributions + after)
    as_of = _dt.date.fromisoformat(row["as_of"])
    assert evaluate_eligibility(later, as_of) == evaluate_eligibility(records, as_of)


@pytest.mark.parametrize(("start", "end", "months"), [
    ("2025-09-15", "2026-03-15", 6), ("2025-09-16", "2026-03-15", 5), ("2025-08-31", "2026-02-28", 6),
    ("2024-02-29", "2025-02-28", 12), ("2026-01-31", "2026-07-30", 5), ("2026-03-16", "2026-03-15", 0),
])
def test_whole_months(start: str, end: str, months: int) -> None:
    assert whole_months(_dt.date.fromisoformat(start), _dt.date.fromisoformat(end)) == months
