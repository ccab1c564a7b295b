"""Points (积分, P-1…P-4 of docs/domain.md): score a person's records with the published table (policies/points.toml).

Pure: the table and the records come in as values; every item says how it was scored and which records it came from,
and an indicator no bureau sends records for scores 0 with "no record on file" — never guessed.
"""
from __future__ import annotations

import calendar
import datetime as _dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, ClassVar

from gateway.domain.districts import District
from gateway.domain.records import (
    Contribution,
    LabourContract,
    Permit,
    PermitState,
    Person,
    PropertyTitle,
    RentalRegistration,
    ResidenceRegistration,
)
from gateway.rules.eligibility import BreakCause, si_months
from gateway.rules.enrollment import age_on
from gateway.rules.permit_status import current_permit, permit_status
from gateway.rules.reasons import Reason

NO_RECORD = "no record on file"

# --- the table ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgeBand:
    from_age: int
    to_age: int
    points: float


@dataclass(frozen=True, slots=True)
class AgeBands:
    """age_band: the band's points; below the youngest band + per_year_younger a year; above the oldest 0."""

    kind: ClassVar[str] = "age_band"
    bands: tuple[AgeBand, ...]
    per_year_younger: float = 0.0


@dataclass(frozen=True, slots=True)
class PerMonth:
    kind: ClassVar[str] = "per_month"
    points_per_month: float


@dataclass(frozen=True, slots=True)
class LevelTable:
    """level_table: the points of the best level on record."""

    kind: ClassVar[str] = "level_table"
    levels: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class Flag:
    kind: ClassVar[str] = "flag"
    points: float


Params = AgeBands | PerMonth | LevelTable | Flag
SCORING_KINDS: dict[str, type] = {k.kind: k for k in (AgeBands, PerMonth, LevelTable, Flag)}


@dataclass(frozen=True, slots=True)
class Measure:
    """What the code measures from records: the scoring kinds it suits and the records it reads."""

    kinds: tuple[str, ...]
    reads: tuple[str, ...]
    levels: tuple[str, ...] = ()  # for level_table measures: the levels the records can show


MEASURES: dict[str, Measure] = {
    "age": Measure(("age_band",), ("person",)),
    "social_insurance_months": Measure(("per_month",), ("contributions",)),
    "residence_months": Measure(("per_month",), ("registrations", "permits")),
    "employment_months": Measure(("per_month",), ("contracts",)),
    "housing": Measure(("level_table",), ("titles", "rentals"), ("own_home", "registered_rental")),
    "none": Measure(tuple(SCORING_KINDS), ()),  # no bureau sends these records: always "no record on file"
}


class GroupStatus(StrEnum):
    PUBLISHED = "published"
    PLACEHOLDER = "placeholder"


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    name_zh: str
    name_en: str
    max: float
    status: GroupStatus


@dataclass(frozen=True, slots=True)
class Indicator:
    id: str
    group: str
    name_zh: str
    name_en: str
    max: float
    measure: str
    reads: tuple[str, ...]
    params: Params

    @property
    def scoring(self) -> str:
        return self.params.kind

    @property
    def name(self) -> str:
        return f"{self.name_zh} / {self.name_en}"


@dataclass(frozen=True, slots=True)
class Violations:
    """Deductions and account freezing for violations (docs/domain.md): published, but no records are on file."""

    name_zh: str
    name_en: str
    points_per_record: float
    freezes_account: bool
    reads: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PointsTable:
    max: float
    groups: tuple[Group, ...]
    indicators: tuple[Indicator, ...]  # provincial and city items
    violations: Violations
    districts: Mapping[str, tuple[Indicator, ...]] = field(default_factory=dict)  # district code -> its items
    version: str = ""  # SHA-256 of the published file (set by the loader)

    def group(self, group_id: str) -> Group:
        return next(g for g in self.groups if g.id == group_id)

    def indicators_for(self, district: str) -> tuple[Indicator, ...]:
        return (*self.indicators, *self.districts.get(district, ()))


# --- records in, points out -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PointsRecords:
    """One person's records on file with the bureaus (the caller selects them; others' records are ignored)."""

    person: Person | None = None
    registrations: tuple[ResidenceRegistration, ...] = ()
    permits: tuple[Permit, ...] = ()
    contributions: tuple[Contribution, ...] = ()
    contracts: tuple[LabourContract, ...] = ()
    titles: tuple[PropertyTitle, ...] = ()
    rentals: tuple[RentalRegistration, ...] = ()


@dataclass(frozen=True, slots=True)
class PointsItem:
    indicator: str
    name: str
    group: str
    points: float
    max: float
    basis: str  # how the points were scored
    sources: tuple[str, ...]  # the records they came from (bureau, kind, dates), or "no record on file"


@dataclass(frozen=True, slots=True)
class PointsResult:
    total: float
    items: tuple[PointsItem, ...]
    reasons: tuple[Reason, ...]
    table_version: str
    district: str


@dataclass(frozen=True, slots=True)
class _Measured:
    value: int | tuple[str, ...] | None  # years of age, a number of months, levels on record; None: no record
    basis: str
    sources: tuple[str, ...]
    reasons: tuple[Reason, ...] = ()


def round_points(x: float) -> float:
    return float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _fmt(x: float) -> str:
    return f"{x:g}"


def full_months(start: _dt.date, end: _dt.date) -> int:
    """Whole months from start to end (the last day of a shorter month completes a month)."""
    if end < start:
        return 0
    short = end.day < start.day and end.day != calendar.monthrange(end.year, end.month)[1]
    return (end.year - start.year) * 12 + end.month - start.month - short


def _no_record(why: str) -> _Measured:
    return _Measured(None, f"{NO_RECORD}: {why}", (NO_RECORD,))


# --- measures --------------------------------------------------------------------------------------------------


def _age(r: PointsRecords, as_of: _dt.date) -> _Measured:
    if r.person is None:
        return _no_record("no person record with the PSB")
    age = age_on(r.person.birth_date, as_of)
    return _Measured(age, f"aged {age} on {as_of.isoformat()}", ("PSB person record (birth date)",))


def _mine(r: PointsRecords, items: Iterable[Any], attr: str = "id_number") -> list[Any]:
    return [x for x in items if r.person is None or getattr(x, attr) == r.person.id_number]


def _si_months(r: PointsRecords, as_of: _dt.date) -> _Measured:
    """R-SI months as permit eligibility counts them (rules/eligibility.si_months): one rule, one count."""
    mine = tuple(_mine(r, r.contributions))
    limit = f"{as_of:%Y-%m}"
    months = sorted({c.month_for for c in mine if c.month_for <= limit})
    if not months:
        return _no_record("no social-insurance contributions with HRSS")
    si = si_months(mine, as_of)
    back = sum(b.cause is BreakCause.BACK_PAYMENT for b in si.breaks)
    injury = sum(b.cause is BreakCause.WORK_INJURY_ONLY for b in si.breaks)
    source = f"HRSS contributions {months[0]}..{months[-1]} ({si.total} qualifying months)"
    basis = f"{si.total} months of social insurance paid"
    reasons: tuple[Reason, ...] = ()
    if back or injury:
        note = f"{back} back-paid (补缴) and {injury} work-injury-only month(s) not counted"
        basis += f"; {note}"
        reasons = (Reason("R-SI", f"social insurance for points: {note} (R-SI)"),)
    return _Measured(si.total, basis, (source,), reasons)


def _known(p: Permit, as_of: _dt.date) -> bool:
    return p.issued_on <= as_of and (p.endorsed_on is None or p.endorsed_on <= as_of)


def late_endorsements(permits: Iterable[Permit]) -> list[tuple[_dt.date, _dt.date]]:
    """(late endorsement, the valid-until it came after) for each version of a permit endorsed after it lapsed.

    Only history on record shows lateness: a version is compared with the previous version of the same permit.
    """
    found: list[tuple[_dt.date, _dt.date]] = []
    by_number: dict[str, list[Permit]] = {}
    for p in permits:
        by_number.setdefault(p.permit_number, []).append(p)
    for versions in by_number.values():
        versions.sort(key=lambda p: (p.valid_until, p.endorsed_on or p.issued_on))
        for prev, cur in zip(versions, versions[1:], strict=False):
            endorsed = cur.endorsed_on
            if endorsed is not None and endorsed > prev.valid_until and cur.valid_until > prev.valid_until:
                found.append((endorsed, prev.valid_until))
    return sorted(set(found))


def _residence_months(r: PointsRecords, as_of: _dt.date) -> _Measured:
    """Months of residence registration; counting restarts from a late endorsement (docs/domain.md, points)."""
    regs = sorted((x for x in _mine(r, r.registrations) if x.declared_on <= as_of), key=lambda x: x.declared_on)
    if not regs:
        return _no_record("no residence registration with the PSB")
    first = regs[0]
    sources = [f"PSB registration {first.declared_on.isoformat()} (district {first.district.code})"]
    permits = [p for p in _mine(r, r.permits) if _known(p, as_of)]
    current = current_permit(permits)
    if current is not None and (current.state is PermitState.EXPIRED
                                or (current.state is PermitState.VALID and current.valid_until < as_of)):
        sources.append(f"PSB permit valid until {current.valid_until.isoformat()}, not endorsed since")
        why = (f"the permit lapsed after {current.valid_until.isoformat()} without the annual endorsement (签注): "
               "residence counted for points restarts from the late endorsement, which has not happened")
        return _Measured(0, f"0 months: {why}", tuple(sources), (Reason("ENDORSEMENT_MISSED", why),))
    start = first.declared_on
    reasons: tuple[Reason, ...] = ()
    late = [x for x in late_endorsements(permits) if x[0] > first.declared_on]
    if late:
        start, lapsed = late[-1]
        sources.append(f"PSB permit endorsement {start.isoformat()} (late: valid until {lapsed.isoformat()})")
        reasons = (Reason("ENDORSEMENT_LATE", (
            f"the permit was endorsed on {start.isoformat()}, after its validity ran out on {lapsed.isoformat()}: "
            "residence counted for points restarts from the late endorsement")),)
    months = full_months(start, as_of)
    since = "the late endorsement" if late else "residence registration"
    basis = f"{months} months from {since} on {start.isoformat()} to {as_of.isoformat()}"
    return _Measured(months, basis, tuple(sources), reasons)


def _employment_months(r: PointsRecords, as_of: _dt.date) -> _Measured:
    contracts = sorted((c for c in _mine(r, r.contracts) if c.start <= as_of), key=lambda c: c.start)
    if not contracts:
        return _no_record("no labour contract with HRSS")
    sources = tuple(f"HRSS labour contract {c.start.isoformat()}..{c.end.isoformat() if c.end else 'open-ended'} "
                    f"({'employment registered' if c.employment_registered else 'not counted: not registered'})"
                    for c in contracts)
    spans: list[list[_dt.date]] = []
    for c in (c for c in contracts if c.employment_registered):
        end = min(c.end or as_of, as_of)
        if spans and c.start <= spans[-1][1] + _dt.timedelta(days=1):
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([c.start, end])
    months = sum(full_months(s, e) for s, e in spans)
    return _Measured(months, f"{months} months under registered labour contracts", sources)


def _housing(r: PointsRecords, as_of: _dt.date) -> _Measured:
    titles = [t for t in r.titles if r.person is None or r.person.id_number in (t.owner, *t.co_owners)]
    titles = [t for t in titles if t.registered_on <= as_of]
    rentals = [x for x in _mine(r, r.rentals, "tenant") if x.start <= as_of]
    if not titles and not rentals:
        return _no_record("no property title or rental registration with the Housing Bureau")
    current = [x for x in rentals if x.registered and (x.end is None or as_of <= x.end)]
    sources = [f"Housing Bureau property title registered {t.registered_on.isoformat()} (district {t.district.code})"
               for t in titles]
    sources += [f"Housing Bureau rental registration {x.start.isoformat()}.."
                f"{x.end.isoformat() if x.end else 'open-ended'} ({'current' if x in current else 'not current'})"
                for x in rentals]
    levels = (("own_home",) if titles else ()) + (("registered_rental",) if current else ())
    return _Measured(levels, f"on record: {', '.join(levels) or 'no current home'}", tuple(sources))


_MEASURERS = {"age": _age, "social_insurance_months": _si_months, "residence_months": _residence_months,
              "employment_months": _employment_months, "housing": _housing}


# --- scoring ---------------------------------------------------------------------------------------------------


def _age_band(p: AgeBands, age: int) -> tuple[float, str]:
    for b in p.bands:
        if b.from_age <= age <= b.to_age:
            return b.points, f"{b.from_age}–{b.to_age} = {_fmt(b.points)}"
    youngest = min(p.bands, key=lambda b: b.from_age)
    if age < youngest.from_age:
        raw = youngest.points + p.per_year_younger * (youngest.from_age - age)
        return raw, (f"{youngest.from_age - age} year(s) younger than {youngest.from_age}: {_fmt(youngest.points)} "
                     f"+ {_fmt(p.per_year_younger)} a year = {_fmt(raw)}")
    return 0.0, f"older than {max(b.to_age for b in p.bands)} = 0"


def _raw(params: Params, value: int | tuple[str, ...]) -> tuple[float, str]:
    if isinstance(params, AgeBands):
        assert isinstance(value, int)
        return _age_band(params, value)
    if isinstance(params, PerMonth):
        assert isinstance(value, int)
        raw = value * params.points_per_month
        return raw, f"{value} × {_fmt(params.points_per_month)} = {_fmt(round_points(raw))}"
    if isinstance(params, LevelTable):
        assert isinstance(value, tuple)
        held = [(pts, lvl) for lvl, pts in params.levels if lvl in value]
        if not held:
            return 0.0, "no level on record = 0"
        pts, lvl = max(held)
        return pts, f"{lvl} = {_fmt(pts)}"
    return (params.points, f"on record = {_fmt(params.points)}") if value else (0.0, "not on record = 0")


def score_indicator(ind: Indicator, records: PointsRecords, as_of: _dt.date) -> tuple[PointsItem, tuple[Reason, ...]]:
    measurer = _MEASURERS.get(ind.measure)
    m = measurer(records, as_of) if measurer else _no_record(f"no bureau sends {ind.name_en} records to the gateway")
    if m.value is None:
        return PointsItem(ind.id, ind.name, ind.group, 0.0, ind.max, f"{m.basis}; scored 0", m.sources), m.reasons
    raw, how = _raw(ind.params, m.value)
    points = round_points(min(raw, ind.max))
    basis = f"{m.basis}: {how}" + (f", capped at {_fmt(ind.max)}" if raw > ind.max else "")
    return PointsItem(ind.id, ind.name, ind.group, points, ind.max, basis, m.sources), m.reasons


def _table_reasons(table: PointsTable, district: str, items: tuple[PointsItem, ...]) -> list[Reason]:
    reasons = [Reason("P-3", f"scored with the published points table (version {table.version[:12] or 'unversioned'}"
                             f"), at most {_fmt(table.max)} points; district {district}")]
    for g in table.groups:
        if g.status is GroupStatus.PLACEHOLDER and any(i.group == g.id for i in items):
            reasons.append(Reason("PLACEHOLDER_VALUES", (
                f"the {g.name_en}' point values are placeholders, not yet published (P-3): the administrator "
                "must publish them")))
    if not table.districts.get(district):
        reasons.append(Reason("NO_DISTRICT_ITEMS", f"district {district} publishes no district items"))
    missing = [i.name for i in items if i.sources == (NO_RECORD,)]
    if missing:
        reasons.append(Reason("NO_RECORD", f"{NO_RECORD} for {'; '.join(missing)}: scored 0, never guessed"))
    return reasons


def _totals(table: PointsTable, items: tuple[PointsItem, ...]) -> tuple[float, list[Reason]]:
    reasons, total = [], 0.0
    for g in table.groups:
        subtotal = round_points(sum(i.points for i in items if i.group == g.id))
        if subtotal > g.max:
            reasons.append(Reason("GROUP_CAPPED", f"{g.name_en}: {_fmt(subtotal)} capped at {_fmt(g.max)}"))
            subtotal = g.max
        total += subtotal
    total = round_points(total)
    if total > table.max:
        reasons.append(Reason("TOTAL_CAPPED", f"total {_fmt(total)} capped at {_fmt(table.max)}"))
        total = table.max
    return total, reasons


def _violations_reason(v: Violations) -> Reason:
    return Reason("VIOLATIONS_NOT_CHECKED", (
        f"{v.name_en} deduct {_fmt(v.points_per_record)} point(s) each"
        f"{' and freeze the account' if v.freezes_account else ''}, but no violation records are on file with "
        "the gateway: none were applied; the points office must check them"))


def compute_points(records: PointsRecords, table: PointsTable, as_of: _dt.date, district: str) -> PointsResult:
    """The person's points on `as_of` under `table`, with `district`'s items (legacy 330204 is 330212)."""
    code = District.parse(district).code
    scored = [score_indicator(ind, records, as_of) for ind in table.indicators_for(code)]
    items = tuple(item for item, _ in scored)
    total, capped = _totals(table, items)
    reasons = _table_reasons(table, code, items)
    reasons += [r for _, rs in scored for r in rs] + capped + [_violations_reason(table.violations)]
    status = permit_status([p for p in _mine(records, records.permits) if _known(p, as_of)], as_of)
    if not status.valid and all(r.code != status.reasons[0].code for r in reasons):
        reasons.append(Reason(status.reasons[0].code, f"{status.reasons[0].message} (P-1: points are applied for "
                                                      "by permit holders)"))
    return PointsResult(total, items, tuple(reasons), table.version, code)
