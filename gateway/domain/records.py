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
    """PSB ZSLX codes (BUREAU-SCHEMAS.md); R-HOME-1/2/3 read these."""

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


Record = Person | ResidenceRegistration | Permit | Guardianship
