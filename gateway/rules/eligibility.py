"""Permit eligibility as of a date (R-REG with R-EMP-1/2/3, R-HOME-1/2/3, R-STUDY, R-EXEMPT; R-SI) and H-1 facts.

Bureau records stand in for paper proofs (000 §二, "主管部门有记录备案"); pure: records in, decision with reasons out.
"""
from __future__ import annotations

import calendar
import datetime as _dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from gateway.domain.dates import month_index
from gateway.domain.records import (
    BusinessLicence,
    Contribution,
    ContributionKind,
    Enrolment,
    EnrolmentStatus,
    Guardianship,
    HousingType,
    InsuranceType,
    LabourContract,
    LandContract,
    Permit,
    Person,
    PropertyTitle,
    RentalRegistration,
    ResidenceRegistration,
    TalentDesignation,
)
from gateway.rules.reasons import Reason

# Numbers fixed by the documents themselves (000 §二), not left to local rules: constants, not policy.
REG_MONTHS = 6  # R-REG: "半年以上"
SI_MONTHS = 12  # R-EMP-1/2: "满1年及以上"
LAND_MONTHS = 12  # R-EMP-3
STUDY_MONTHS = 12  # R-STUDY
BASES = ("R-EMP-1", "R-EMP-2", "R-EMP-3", "R-HOME-1", "R-HOME-2", "R-HOME-3", "R-STUDY", "R-EXEMPT")
EMPLOYMENT_BASES = BASES[:3]
RESIDENCE_BASES = BASES[3:6]
NINGBO_PREFIX = "3302"  # GB/T 2260 prefix of Ningbo's districts and counties

HOUSING_LABELS = {
    HousingType.OWN_HOME: "own home",
    HousingType.RELATIVE_HOME: "a near relative's home in the household",
    HousingType.DORMITORY: "an employer or development-zone dormitory",
    HousingType.RENTAL_REGISTERED: "a registered rental",
    HousingType.RENTAL_UNREGISTERED: "an unregistered rental",
    HousingType.OTHER: "other housing",
}
TALENT_LABELS = {
    TalentDesignation.INVESTOR: "an investor or entrepreneur",
    TalentDesignation.INTRODUCED_TALENT: "introduced talent",
    TalentDesignation.SPECIAL_SKILL: "a person with special skills",
    TalentDesignation.SPECIAL_CONTRIBUTION: "a person with special contributions",
    TalentDesignation.URGENTLY_NEEDED: "urgently needed talent",
}
ENROLMENT_LABELS = {
    EnrolmentStatus.ENROLLED: "enrolled",
    EnrolmentStatus.SUSPENDED: "suspended",
    EnrolmentStatus.LEFT: "left the school",
    EnrolmentStatus.GRADUATED: "graduated",
}


@dataclass(frozen=True, slots=True)
class PersonRecords:
    """Everything the eligibility rules read about one person, gathered by the caller from every bureau."""

    person: Person | None = None
    registrations: tuple[ResidenceRegistration, ...] = ()
    permits: tuple[Permit, ...] = ()
    contributions: tuple[Contribution, ...] = ()
    contracts: tuple[LabourContract, ...] = ()
    licences: tuple[BusinessLicence, ...] = ()
    land_contracts: tuple[LandContract, ...] = ()
    titles: tuple[PropertyTitle, ...] = ()  # owned or co-owned by the person
    household_titles: tuple[PropertyTitle, ...] = ()  # owned by a guardian or child of the person on record
    rentals: tuple[RentalRegistration, ...] = ()  # the person is the tenant
    enrolments: tuple[Enrolment, ...] = ()
    guardianships: tuple[Guardianship, ...] = ()


@dataclass(frozen=True, slots=True)
class EligibilityDecision:
    eligible: bool
    bases: tuple[str, ...]
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class HousingSettings:
    """H-1 thresholds: local policy, published in policies/housing.toml (gateway/settings/housing.py)."""

    min_si_months: int
    min_residence_months: int
    require_employment: bool
    require_residence: bool


@dataclass(frozen=True, slots=True)
class HousingFacts:
    """What the housing bureau may learn for H-1 (003 §六(五)): facts and counts, not the underlying records."""

    employment_bases: tuple[str, ...]
    residence_bases: tuple[str, ...]
    si_months: int
    residence_months: int
    entitled: bool
    reasons: tuple[Reason, ...]


# --- dates and months ---------------------------------------------------------------------------------------


def add_months(day: _dt.date, months: int) -> _dt.date:
    """The corresponding day `months` later; the month's last day where it has none (Civil Code art. 202)."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    return _dt.date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def whole_months(start: _dt.date, end: _dt.date) -> int:
    """Whole calendar months from start to end: the largest n with add_months(start, n) <= end (0 if end < start)."""
    if end < start:
        return 0
    n = (end.year - start.year) * 12 + end.month - start.month
    return n if add_months(start, n) <= end else n - 1


def month_of(day: _dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_text(index: int) -> str:
    """Inverse of gateway.domain.dates.month_index."""
    year, month0 = divmod(index, 12)
    return f"{year:04d}-{month0 + 1:02d}"


def _active(start: _dt.date, end: _dt.date | None, as_of: _dt.date) -> bool:
    """Both ends inclusive; None is open-ended."""
    return start <= as_of and (end is None or end >= as_of)


def _until(end: _dt.date | None) -> str:
    return "open-ended" if end is None else f"until {end.isoformat()}"


# --- R-SI ---------------------------------------------------------------------------------------------------


class BreakCause(StrEnum):
    BACK_PAYMENT = "BACK_PAYMENT"
    WORK_INJURY_ONLY = "WORK_INJURY_ONLY"
    NO_CONTRIBUTION = "NO_CONTRIBUTION"


CAUSE_TEXT = {
    BreakCause.BACK_PAYMENT: "only a back-payment (补缴), which R-SI excludes",
    BreakCause.WORK_INJURY_ONLY: "only work-injury insurance (工伤保险), which R-SI excludes",
    BreakCause.NO_CONTRIBUTION: "no contribution",
}


@dataclass(frozen=True, slots=True)
class SiBreak:
    month: str  # 'YYYY-MM'
    cause: BreakCause


@dataclass(frozen=True, slots=True)
class SiRun:
    """R-SI as of a date.

    `run` counts consecutive qualifying months ending in the month of as_of, or in the month before when the
    month of as_of does not qualify (yet): its contributions may not have arrived, so it never breaks a run.
    `breaks` lists, oldest first, the months from the first month on record up to the month before as_of that
    do not qualify, with why; the current run starts right after the last of them.
    """

    run: int
    total: int
    run_start: str | None
    run_end: str | None
    last_month: str | None  # the latest qualifying month on or before as_of, even when the run is 0
    breaks: tuple[SiBreak, ...]

    def break_before_run(self) -> SiBreak | None:
        """The month that ended the previous run (or, with no run, the month before as_of), if it is on record."""
        if self.run_start is None:
            return self.breaks[-1] if self.breaks else None
        before = month_text(month_index(self.run_start) - 1)
        return next((b for b in reversed(self.breaks) if b.month == before), None)


def _counts(c: Contribution) -> bool:
    return c.kind in (ContributionKind.NORMAL, ContributionKind.LATE) and c.insurance is not InsuranceType.WORK_INJURY


def _cause(records: Sequence[Contribution]) -> BreakCause:
    if any(c.kind is ContributionKind.BACK_PAYMENT for c in records):
        return BreakCause.BACK_PAYMENT
    if records:
        return BreakCause.WORK_INJURY_ONLY
    return BreakCause.NO_CONTRIBUTION


def si_months(contributions: Iterable[Contribution], as_of: _dt.date) -> SiRun:
    """R-SI: months of social insurance that count, up to the month of as_of.

    A month counts when it has a normal (10) or late (21) contribution for an insurance other than work injury
    (410). Contributions for months after as_of are ignored. When a contribution was paid (month_paid) is not
    read: the kind says whether it was paid on time, late within the grace month, or back-paid, so a late
    payment for the month before as_of that arrived after as_of still counts.
    """
    now = month_index(month_of(as_of))
    by_month: dict[int, list[Contribution]] = {}
    for c in contributions:
        m = month_index(c.month_for)
        if m <= now:
            by_month.setdefault(m, []).append(c)
    qualifying = {m for m, cs in by_month.items() if any(_counts(c) for c in cs)}
    end = now if now in qualifying else now - 1 if now - 1 in qualifying else None
    run = 0
    while end is not None and end - run in qualifying:
        run += 1
    first = min(by_month, default=now)
    gaps = (m for m in range(first, now) if m not in qualifying)
    breaks = tuple(SiBreak(month_text(m), _cause(by_month.get(m, ()))) for m in gaps)
    return SiRun(run, len(qualifying), month_text(end - run + 1) if end is not None else None,
                 month_text(end) if end is not None else None,
                 month_text(max(qualifying)) if qualifying else None, breaks)


def _si_met(si: SiRun) -> str:
    return (f"social insurance paid continuously for {si.run} months ({si.run_start} to {si.run_end}), "
            f"back-payments and work-injury-only months excluded (R-SI needs {SI_MONTHS})")


def _si_short(si: SiRun, as_of: _dt.date) -> str:
    before = si.break_before_run()
    why = f"; {before.month} had {CAUSE_TEXT[before.cause]}" if before else ""
    if si.run:
        why = why or "; no earlier month is on record with HRSS"
        return (f"social insurance paid continuously for only {si.run} months ({si.run_start} to {si.run_end}); "
                f"R-SI needs {SI_MONTHS}{why}")
    now = month_index(month_of(as_of))
    last = f"the last month that counts is {si.last_month}" if si.last_month else "no month counts at all"
    return (f"no social insurance counts for {month_text(now)} or {month_text(now - 1)}, so there is no "
            f"continuous run (R-SI needs {SI_MONTHS}); {last}{why}")


# --- the bases ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """Whether one rule holds, and the reason why (or why not)."""

    holds: bool
    reason: Reason


def _registrations(records: PersonRecords, as_of: _dt.date) -> list[ResidenceRegistration]:
    return sorted((r for r in records.registrations if r.declared_on <= as_of), key=lambda r: r.declared_on)


def residence_months(records: PersonRecords, as_of: _dt.date) -> int:
    """Whole months from the earliest residence registration declared on or before as_of (0 if none)."""
    regs = _registrations(records, as_of)
    return whole_months(regs[0].declared_on, as_of) if regs else 0


def _latest_housing(records: PersonRecords, as_of: _dt.date) -> ResidenceRegistration | None:
    regs = _registrations(records, as_of)
    return regs[-1] if regs else None


def check_registration(records: PersonRecords, as_of: _dt.date) -> Finding:
    regs = _registrations(records, as_of)
    if not regs:
        return Finding(False, Reason("R-REG", f"no residence registration declared on or before {as_of.isoformat()}"))
    months = whole_months(regs[0].declared_on, as_of)
    held = months >= REG_MONTHS
    verdict = f"(R-REG needs {REG_MONTHS}: met)" if held else f"; R-REG needs {REG_MONTHS}"
    return Finding(held, Reason("R-REG", (
        f"residence registration declared on {regs[0].declared_on.isoformat()}: {months} whole months before "
        f"{as_of.isoformat()}{' ' if held else ''}{verdict}")))


def check_emp1(records: PersonRecords, as_of: _dt.date, si: SiRun) -> Finding:
    active = [c for c in records.contracts if _active(c.start, c.end, as_of)]
    registered = [c for c in active if c.employment_registered]
    si_ok = si.run >= SI_MONTHS
    if registered and si_ok:
        c = min(registered, key=lambda c: c.start)
        return Finding(True, Reason("R-EMP-1", (
            f"a labour contract from {c.start.isoformat()} ({_until(c.end)}) with employment registered, "
            f"and {_si_met(si)}")))
    problems = []
    if active and not registered:
        problems.append(f"a labour contract is active on {as_of.isoformat()} but employment is not registered "
                        "(JYDJ 0)")
    elif not active:
        problems.append(f"no labour contract active on {as_of.isoformat()}" +
                        (f" ({len(records.contracts)} on record, none covering that day)" if records.contracts
                         else " on record with HRSS"))
    if not si_ok:
        problems.append(_si_short(si, as_of))
    return Finding(False, Reason("R-EMP-1", "; ".join(problems)))


def check_emp2(records: PersonRecords, as_of: _dt.date, si: SiRun) -> Finding:
    def live(b: BusinessLicence) -> bool:
        return b.registered_on <= as_of and (b.deregistered_on is None or b.deregistered_on > as_of)

    active = [b for b in records.licences if live(b)]
    si_ok = si.run >= SI_MONTHS
    if active and si_ok:
        b = min(active, key=lambda b: b.registered_on)
        return Finding(True, Reason("R-EMP-2", (
            f"a business licence ({b.kind.value}) registered on {b.registered_on.isoformat()} and not "
            f"deregistered, and {_si_met(si)}")))
    problems = []
    if not active:
        gone = [b.deregistered_on for b in records.licences if b.deregistered_on and b.deregistered_on <= as_of]
        problems.append(f"the business licence was deregistered on {max(gone).isoformat()}" if gone
                        else f"no business licence in force on {as_of.isoformat()} on record")
    if not si_ok:
        problems.append(_si_short(si, as_of))
    return Finding(False, Reason("R-EMP-2", "; ".join(problems)))


def check_emp3(records: PersonRecords, as_of: _dt.date) -> Finding:
    active = sorted((c for c in records.land_contracts if _active(c.start, c.end, as_of)), key=lambda c: c.start)
    if not active:
        return Finding(False, Reason("R-EMP-3", (
            f"no land-transfer or aquaculture contract active on {as_of.isoformat()} on record")))
    c = active[0]
    months = whole_months(c.start, as_of)
    if months >= LAND_MONTHS:
        return Finding(True, Reason("R-EMP-3", (
            f"a {c.kind.value} contract operated since {c.start.isoformat()} ({_until(c.end)}): {months} whole "
            f"months (R-EMP-3 needs {LAND_MONTHS})")))
    return Finding(False, Reason("R-EMP-3", (
        f"the {c.kind.value} contract active on {as_of.isoformat()} started on {c.start.isoformat()}: only "
        f"{months} whole months; R-EMP-3 needs {LAND_MONTHS}")))


def check_home1(records: PersonRecords, as_of: _dt.date) -> Finding:
    own = sorted((t for t in records.titles if t.registered_on <= as_of), key=lambda t: t.registered_on)
    family = [t for t in records.household_titles if t.registered_on <= as_of]
    latest = _latest_housing(records, as_of)
    says = latest.housing_type if latest else None
    if own:
        return Finding(True, Reason("R-HOME-1", (
            f"a home in district {own[0].district.code} owned or co-owned by the applicant, title registered "
            f"on {own[0].registered_on.isoformat()} (Housing Bureau record)")))
    if family and says is HousingType.RELATIVE_HOME:
        return Finding(True, Reason("R-HOME-1", (
            "the PSB registration records a near relative's home in the household (ZSLX 12), and a household "
            "relative on record owns a home (Housing Bureau record)")))
    if family:
        recorded = f"{HOUSING_LABELS[says]} ({says.value})" if says else "no residence registration"
        why = (f"a household relative owns a home, but the PSB registration records {recorded}, not a relative's "
               "home (12)")
    elif says is HousingType.OWN_HOME:
        why = "the PSB registration records an own home (11) but no title of the applicant is on record"
    elif says is HousingType.RELATIVE_HOME:
        why = "the PSB registration records a relative's home (12) but no title of a household relative is on record"
    else:
        why = "no home owned by the applicant or a household relative is on record with the Housing Bureau"
    return Finding(False, Reason("R-HOME-1", why))


def check_home2(records: PersonRecords, as_of: _dt.date) -> Finding:
    latest = _latest_housing(records, as_of)
    if latest is None:
        return Finding(False, Reason("R-HOME-2", "no residence registration records a dormitory"))
    t = latest.housing_type
    if t is HousingType.DORMITORY:
        return Finding(True, Reason("R-HOME-2", (
            f"the PSB registration declared on {latest.declared_on.isoformat()} records an employer or "
            "development-zone dormitory (ZSLX 21)")))
    return Finding(False, Reason("R-HOME-2", (
        f"the latest PSB registration records {HOUSING_LABELS[t]} ({t.value}), not a dormitory (21)")))


def check_home3(records: PersonRecords, as_of: _dt.date) -> Finding:
    covering = [r for r in records.rentals if _active(r.start, r.end, as_of)]
    good = sorted((r for r in covering if r.registered), key=lambda r: r.start)
    if good:
        r = good[0]
        return Finding(True, Reason("R-HOME-3", (
            f"a rental registered with the Housing Bureau in district {r.district.code}, from {r.start.isoformat()} "
            f"({_until(r.end)}): it complies with rental-housing rules")))
    problems = []
    if covering:
        problems.append(f"the rental registration covering {as_of.isoformat()} was withdrawn (BAZT 0), so the "
                        "rental does not comply with rental-housing rules")
    else:
        ended = [r.end for r in records.rentals if r.registered and r.end is not None and r.end < as_of]
        problems.append(f"no rental registration covers {as_of.isoformat()}" +
                        (f" (the last ended on {max(ended).isoformat()})" if ended else ""))
    latest = _latest_housing(records, as_of)
    if latest and latest.housing_type is HousingType.RENTAL_UNREGISTERED:
        problems.append("the PSB registration records an unregistered rental (ZSLX 32), which does not comply "
                        "with rental-housing rules")
    elif latest and latest.housing_type is HousingType.RENTAL_REGISTERED:
        problems.append("the PSB registration records a registered rental (31), but the Housing Bureau, which "
                        "registers rentals, has no registration in force")
    return Finding(False, Reason("R-HOME-3", "; ".join(problems)))


def check_study(records: PersonRecords, as_of: _dt.date) -> Finding:
    now = month_index(month_of(as_of))
    started = [e for e in records.enrolments if month_index(e.enrolled_month) <= now]
    enrolled = sorted((e for e in started if e.status is EnrolmentStatus.ENROLLED), key=lambda e: e.enrolled_month)
    if not enrolled:
        other = sorted({ENROLMENT_LABELS[e.status] for e in started})
        return Finding(False, Reason("R-STUDY", (
            f"no current enrolment: the enrolment on record is {', '.join(other)}" if other
            else "no current full-time enrolment (学籍) on record")))
    e = enrolled[0]
    months = now - month_index(e.enrolled_month)
    if months >= STUDY_MONTHS:
        return Finding(True, Reason("R-STUDY", (
            f"full-time enrolment (stage {e.stage.value}) since {e.enrolled_month}: {months} months "
            f"(R-STUDY needs {STUDY_MONTHS})")))
    return Finding(False, Reason("R-STUDY", (
        f"enrolled (stage {e.stage.value}) since {e.enrolled_month}: only {months} months; "
        f"R-STUDY needs {STUDY_MONTHS}")))


def check_exempt(records: PersonRecords) -> Finding:
    talent = records.person.talent if records.person else None
    if talent is None:
        return Finding(False, Reason("R-EXEMPT", "no talent or investor designation (RCLB) recorded by the district"))
    return Finding(True, Reason("R-EXEMPT", (
        f"the district designates the applicant as {TALENT_LABELS[talent]} (RCLB {talent.value}): not bound by "
        "R-EMP, R-HOME or R-STUDY")))


def check_bases(records: PersonRecords, as_of: _dt.date, si: SiRun | None = None) -> tuple[Finding, ...]:
    """Every basis in BASES order, held or not, each with its reason."""
    si = si if si is not None else si_months(records.contributions, as_of)
    return (check_emp1(records, as_of, si), check_emp2(records, as_of, si), check_emp3(records, as_of),
            check_home1(records, as_of), check_home2(records, as_of), check_home3(records, as_of),
            check_study(records, as_of), check_exempt(records))


def evaluate_eligibility(records: PersonRecords, as_of: _dt.date) -> EligibilityDecision:
    """R-REG and at least one of R-EMP-1/2/3, R-HOME-1/2/3, R-STUDY, R-EXEMPT (000 §二).

    Reasons: R-REG's first, then one per basis held; when none holds, one per basis saying why it failed.
    """
    reg = check_registration(records, as_of)
    findings = check_bases(records, as_of)
    held = [f for f in findings if f.holds]
    shown = held or list(findings)
    return EligibilityDecision(reg.holds and bool(held), tuple(f.reason.code for f in held),
                               (reg.reason, *(f.reason for f in shown)))


# --- H-1 ----------------------------------------------------------------------------------------------------


def _local_hukou(person: Person | None) -> bool:
    return bool(person and person.hukou_region and person.hukou_region.startswith(NINGBO_PREFIX))


def _threshold(code: str, label: str, have: int, need: int) -> tuple[bool, Reason]:
    ok = have >= need
    return ok, Reason(code, f"{label}: {have} months ({'meets' if ok else 'below'} the local threshold of {need})")


def _bases_fact(code: str, label: str, held: tuple[str, ...], required: bool) -> tuple[bool, Reason]:
    what = f"{label}: {', '.join(held)}" if held else f"no {label}"
    need = "required by local policy" if required else "not required by local policy"
    return bool(held) or not required, Reason(code, f"{what} ({need})")


def housing_facts(records: PersonRecords, as_of: _dt.date, settings: HousingSettings) -> HousingFacts:
    """H-1 (003 §六(五)): stable employment and residence bases, months of insurance and residence, and entitlement.

    H-1 is for migrants who have not settled: everyone the PSB registers here is a migrant, so a person is
    taken as one unless the hukou region on record is in Ningbo.
    """
    si = si_months(records.contributions, as_of)
    held = [f.reason.code for f in check_bases(records, as_of, si) if f.holds]
    emp = tuple(b for b in held if b in EMPLOYMENT_BASES)
    home = tuple(b for b in held if b in RESIDENCE_BASES)
    months = residence_months(records, as_of)
    checks = (
        _bases_fact("R-EMP", "legal stable employment", emp, settings.require_employment),
        _bases_fact("R-HOME", "legal stable residence", home, settings.require_residence),
        _threshold("R-SI", "social insurance that counts (back-payments and work-injury-only months excluded)",
                   si.total, settings.min_si_months),
        _threshold("H-1", f"continuous residence since the first registration, to {as_of.isoformat()}",
                   months, settings.min_residence_months),
    )
    local = _local_hukou(records.person)
    migrant = Reason("H-1", (
        "the hukou on record is in Ningbo: H-1 is for migrants who have not settled (settled residents have the "
        "same housing security as urban residents)") if local else (
        "a migrant without local hukou (the gateway's records are of migrants registered with the PSB)"))
    entitled = all(ok for ok, _ in checks) and not local
    summary = Reason("H-1", (
        "meets the local thresholds for housing security for migrants (003 §六(五))" if entitled
        else "housing security for migrants (003 §六(五)) does not apply: local hukou" if local
        else "does not meet the local thresholds for housing security for migrants (003 §六(五))"))
    return HousingFacts(emp, home, si.total, months, entitled, (summary, *(r for _, r in checks), migrant))
