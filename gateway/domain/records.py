"""Canonical records the gateway keeps: people, residence registrations, permits, guardianships.

Adapters turn each bureau's rows into these; the store persists them; the rules read them.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from enum import StrEnum

from gateway.domain.districts import District
from gateway.domain.idnumber import IdNumber


class HousingType(StrEnum):
    """PSB ZSLX codes (docs/bureau-files.md); R-HOME-1/2/3 read these."""

    OWN_HOME = "11"
    RELATIVE_HOME = "12"
    DORMITORY = "21"
    RENTAL_REGISTERED = "31"
    RENTAL_UNREGISTERED = "32"
    OTHER = "99"


class PermitState(StrEnum):
    """PSB JZZZT codes as recorded (the effective status also depends on dates: rules/permit_status)."""

    VALID = "1"
    EXPIRED = "2"
    CANCELLED = "3"
    REVOKED = "4"


class TalentDesignation(StrEnum):
    """PSB RCLB codes: the district's R-EXEMPT designations."""

    INVESTOR = "TZ"
    INTRODUCED_TALENT = "YJ"
    SPECIAL_SKILL = "JN"
    SPECIAL_CONTRIBUTION = "GX"
    URGENTLY_NEEDED = "JX"


class Sex(StrEnum):
    """GB/T 2261.1."""

    UNKNOWN = "0"
    MALE = "1"
    FEMALE = "2"
    UNSPECIFIED = "9"


@dataclass(frozen=True, slots=True)
class Person:
    id_number: IdNumber
    name: str
    sex: Sex
    birth_date: _dt.date
    hukou_region: str | None = None
    talent: TalentDesignation | None = None


@dataclass(frozen=True, slots=True)
class ResidenceRegistration:
    id_number: IdNumber
    district: District
    address: str
    declared_on: _dt.date
    housing_type: HousingType


@dataclass(frozen=True, slots=True)
class Permit:
    id_number: IdNumber
    permit_number: str
    district: District
    issued_on: _dt.date
    valid_until: _dt.date
    endorsed_on: _dt.date | None
    state: PermitState


@dataclass(frozen=True, slots=True)
class Guardianship:
    """A guardian relation, kept with the bureau that recorded it (psb or education)."""

    child: IdNumber
    guardian: IdNumber
    relation: str  # GB/T 4761 code where known ('51' father, '52' mother, '59' other); '' if not stated
    source: str



# --- records from the other bureaus ("records on file with the competent bureau", 000 §二) --------------


class InsuranceType(StrEnum):
    """HRSS AAE140. R-SI: months with only work-injury insurance do not count."""

    EMPLOYEE_PENSION = "110"
    INSTITUTION_PENSION = "120"
    UNEMPLOYMENT = "210"
    MEDICAL = "310"
    WORK_INJURY = "410"
    MATERNITY = "510"


class ContributionKind(StrEnum):
    """HRSS AAA115. R-SI: back-payments (补缴) do not count."""

    NORMAL = "10"
    LATE = "21"
    BACK_PAYMENT = "31"


class LicenceKind(StrEnum):
    """Market regulation LX (R-EMP-2)."""

    INDIVIDUAL_BUSINESS = "GTGSH"
    ENTERPRISE = "QY"
    PRIVATE_NON_ENTERPRISE = "MFQY"
    PROFESSIONAL_FIRM = "SWS"


class LandContractKind(StrEnum):
    """Agriculture LX (R-EMP-3)."""

    LAND_TRANSFER = "TDLZ"
    STATE_WATER_AQUACULTURE = "YZZ"
    COLLECTIVE_WATER_AQUACULTURE = "JTYZ"


class SchoolStage(StrEnum):
    """Education XD (R-STUDY)."""

    PRIMARY = "XX"
    JUNIOR_SECONDARY = "CZ"
    SENIOR_SECONDARY = "GZ"
    VOCATIONAL = "ZZ"
    HIGHER = "GX"


class EnrolmentStatus(StrEnum):
    """Education XJZT."""

    ENROLLED = "01"
    SUSPENDED = "02"
    LEFT = "03"
    GRADUATED = "04"


@dataclass(frozen=True, slots=True)
class Contribution:
    """One social-insurance contribution: a person, an insurance, the month it is for and when it was paid."""

    id_number: IdNumber
    employer_code: str
    employer_name: str
    insurance: InsuranceType
    month_for: str  # 'YYYY-MM'
    month_paid: str  # 'YYYY-MM'
    kind: ContributionKind


@dataclass(frozen=True, slots=True)
class LabourContract:
    id_number: IdNumber
    employer_code: str
    employer_name: str
    start: _dt.date
    end: _dt.date | None  # None: open-ended
    employment_registered: bool


@dataclass(frozen=True, slots=True)
class PropertyTitle:
    """不动产登记: an owned home (R-HOME-1). The owner's name is not kept: the PSB is the source of names."""

    title_number: str
    owner: IdNumber
    co_owners: tuple[IdNumber, ...]
    address: str
    district: District
    registered_on: _dt.date


@dataclass(frozen=True, slots=True)
class RentalRegistration:
    """出租房屋登记: a registered rental (R-HOME-3) while `registered` and within its dates."""

    registration_number: str
    landlord: IdNumber
    tenant: IdNumber
    address: str
    district: District
    start: _dt.date
    end: _dt.date | None
    registered: bool  # BAZT 1 registered / 0 withdrawn


@dataclass(frozen=True, slots=True)
class BusinessLicence:
    credit_code: str  # unified social credit code, 18 chars
    representative: IdNumber
    kind: LicenceKind
    registered_on: _dt.date
    deregistered_on: _dt.date | None


@dataclass(frozen=True, slots=True)
class LandContract:
    contract_number: str
    contractor: IdNumber
    kind: LandContractKind
    start: _dt.date
    end: _dt.date | None


@dataclass(frozen=True, slots=True)
class Enrolment:
    """学籍: full-time enrolment (R-STUDY). Guardians arrive as Guardianship records with source 'education'."""

    id_number: IdNumber
    student_number: str  # XJH: 'G' + identity number
    school_code: str  # 10 digits
    school_name: str
    stage: SchoolStage
    enrolled_month: str  # 'YYYY-MM'
    status: EnrolmentStatus


Fact = Contribution | LabourContract | PropertyTitle | RentalRegistration | BusinessLicence | LandContract | Enrolment
FACT_KINDS: dict[str, type] = {t.__name__: t for t in (Contribution, LabourContract, PropertyTitle, RentalRegistration,
                                                        BusinessLicence, LandContract, Enrolment)}


def fact_subjects(fact: Fact) -> tuple[IdNumber, ...]:
    """Whose records a fact is, for lookup: the people the rules ask about."""
    if isinstance(fact, PropertyTitle):
        return (fact.owner, *fact.co_owners)
    if isinstance(fact, RentalRegistration):
        return (fact.tenant,)  # the landlord's rental income is not the question anyone may ask here
    if isinstance(fact, BusinessLicence):
        return (fact.representative,)
    if isinstance(fact, LandContract):
        return (fact.contractor,)
    return (fact.id_number,)


Record = Person | ResidenceRegistration | Permit | Guardianship | Fact


# What identifies a fact across re-exports: a later row with the same key is the same fact, updated
# (a rental withdrawn, a student graduated); a row identical in everything is a duplicate.
NATURAL_KEYS: dict[type, tuple[str, ...]] = {
    Contribution: ("id_number", "employer_code", "insurance", "month_for"),
    LabourContract: ("id_number", "employer_code", "start"),
    PropertyTitle: ("title_number",),
    RentalRegistration: ("registration_number",),
    BusinessLicence: ("credit_code",),
    LandContract: ("contract_number",),
    Enrolment: ("student_number", "school_code", "stage"),
}
