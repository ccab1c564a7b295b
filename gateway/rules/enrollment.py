"""CheckEnrollment (S-1): may this child enrol in compulsory education in the school's district?

ENTITLED when the child is of age and a guardian on record holds a valid permit in the school's district;
NOT_ENTITLED when out of age or no guardian holds a valid permit; NEEDS_REVIEW when the relation is not on
record, the permit is in another district, or the bureaus' records disagree. Pure: records in, decision out.

An adult named in the request but not on record as the child's guardian is never looked at: the answer says
only that the relation is not on record, the same for everyone, so that naming adults one after another cannot
reveal their permits.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from gateway.domain.idnumber import IdNumber
from gateway.domain.records import Guardianship, Permit
from gateway.rules.permit_status import PermitStatusDecision, permit_status
from gateway.rules.reasons import Reason


class Outcome(StrEnum):
    ENTITLED = "ENTITLED"
    NOT_ENTITLED = "NOT_ENTITLED"
    NEEDS_REVIEW = "NEEDS_REVIEW"


@dataclass(frozen=True, slots=True)
class EnrollmentSettings:
    min_age: int
    max_age: int
    cutoff_month: int
    cutoff_day: int
    points_districts: frozenset[str]


@dataclass(frozen=True, slots=True)
class EnrollmentDecision:
    outcome: Outcome
    reasons: tuple[Reason, ...]
    guardian: IdNumber | None = None  # whose permit decided (never shown to the school)
    guardian_district: str = ""
    guardian_valid_until: _dt.date | None = None


def age_on(birth: _dt.date, day: _dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _status_reason(status: PermitStatusDecision) -> str:
    return status.reasons[0].code


def check_enrollment(child: IdNumber, asked: Sequence[IdNumber], guardianships: Sequence[Guardianship],
                     permits: Mapping[IdNumber, Sequence[Permit]], school_district: str, today: _dt.date,
                     settings: EnrollmentSettings) -> EnrollmentDecision:
    cutoff = _dt.date(today.year, settings.cutoff_month, settings.cutoff_day)
    age = age_on(child.birth_date, cutoff)
    if not settings.min_age <= age <= settings.max_age:
        return EnrollmentDecision(Outcome.NOT_ENTITLED, (Reason("AGE_OUT_OF_RANGE", (
            f"the child is {age} on {cutoff.isoformat()}; compulsory education (S-1) is for ages "
            f"{settings.min_age} to {settings.max_age} on that day")),))

    by_source: dict[str, set[IdNumber]] = {}
    for link in guardianships:
        if link.child == child:
            by_source.setdefault(link.source, set()).add(link.guardian)
    on_record = set().union(*by_source.values()) if by_source else set()
    claimed = set(asked) or on_record
    if not claimed:
        return EnrollmentDecision(Outcome.NEEDS_REVIEW, (Reason("GUARDIAN_NOT_ON_RECORD", (
            "no guardian is named and none is on record with the PSB or the Education Bureau")),))
    recorded = sorted(claimed & on_record, key=lambda g: g.value)
    unrecorded = claimed - on_record
    if not recorded:
        return EnrollmentDecision(Outcome.NEEDS_REVIEW, (Reason("GUARDIAN_NOT_ON_RECORD", (
            "no named guardian is on record as the child's guardian with the PSB or the Education Bureau")),))
    # One source listing fewer guardians is not a contradiction (the PSB row has a single guardian slot);
    # the records disagree when no source's list contains every guardian the others name.
    disputed = not any(s >= on_record for s in by_source.values())
    status = {g: permit_status(permits.get(g, ()), today) for g in recorded}
    held = {g: s.permit for g, s in status.items() if s.valid and s.permit is not None}  # valid: the permit it holds

    def here(g: IdNumber) -> bool:
        return g in held and held[g].district.code == school_district

    def decided(outcome: Outcome, g: IdNumber, *reasons: Reason) -> EnrollmentDecision:
        p = status[g].permit
        return EnrollmentDecision(outcome, reasons, g, p.district.code if p else "", p.valid_until if p else None)

    in_district = [g for g in recorded if here(g)]
    confirmed = [g for g in in_district if not disputed or all(g in s for s in by_source.values())]
    if confirmed:
        g = confirmed[0]
        notes = [Reason("GUARDIAN_NOT_ON_RECORD", f"{len(unrecorded)} named guardian(s) not on record: not "
                        "considered")] if unrecorded else []
        return decided(Outcome.ENTITLED, g, Reason("S-1", (
            f"a guardian on record ({', '.join(sorted(by_source))}) holds a valid residence permit in district "
            f"{school_district} until {held[g].valid_until.isoformat()}: the child is entitled to "
            "compulsory education (000 §三)")), *notes)
    if in_district:
        g = in_district[0]
        listed = sorted(s for s in by_source if g in by_source[s])
        unlisted = sorted(s for s in by_source if g not in by_source[s])
        return decided(Outcome.NEEDS_REVIEW, g, Reason("RECORDS_DISAGREE", (
            f"a guardian with a valid permit in this district is on record with {', '.join(listed)} but not "
            f"with {', '.join(unlisted)}: the bureaus' records of the guardians disagree")))
    elsewhere = [g for g in recorded if g in held]
    if elsewhere:
        g = elsewhere[0]
        return decided(Outcome.NEEDS_REVIEW, g, Reason("OUT_OF_DISTRICT", (
            f"the guardian's valid permit is in district {held[g].district.code}, not the school's "
            f"district {school_district}")))
    why = ", ".join(sorted({_status_reason(status[g]) for g in recorded}))
    return EnrollmentDecision(Outcome.NOT_ENTITLED, (Reason("NO_GUARDIAN_WITH_VALID_PERMIT", (
        f"no guardian holds a valid residence permit ({why})")),))
