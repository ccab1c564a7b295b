"""Public Security Bureau adapter: `jzdj_*` files (居住登记与居住证) to people, registrations, permits.

The PSB is the source of truth for registrations and permits (docs/bureau-files.md); HKXZ is never read (I-2).
"""
from __future__ import annotations

import datetime as _dt

from adapters.contract import Bureau, FileKind
from adapters.normalising import RowError, code, date, district, id_number, optional, text
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import (
    Guardianship,
    HousingType,
    Permit,
    PermitState,
    Person,
    Record,
    ResidenceRegistration,
    Sex,
    TalentDesignation,
)

SOURCE = "psb"
REQUIRED_COLUMNS: tuple[str, ...] = ("GMSFHM", "XM", "JZD_XZQH", "JZDJRQ", "ZSLX")
# Everything else is optional as a column. HKXZ (农业/非农业) is deliberately absent from this module:
# the legacy hukou nature must not be stored or passed on (I-2, docs/domain.md).


def _birth_date(fields: dict[str, str], idn: IdNumber) -> _dt.date:
    """CSRQ when given (it must agree with the identity number), else the identity number's birth date."""
    stated = date(fields, "CSRQ", required=False)
    if stated is not None and stated != idn.birth_date:
        raise RowError("CSRQ", "does not match identity number")
    return idn.birth_date


def _hukou_region(fields: dict[str, str]) -> str | None:
    region = optional(fields.get("HJDZ_XZQH"))
    if region is not None and not (len(region) == 6 and region.isascii() and region.isdigit()):
        raise RowError("HJDZ_XZQH", "not a 6-digit region code")
    return region


def _sex(fields: dict[str, str], idn: IdNumber) -> Sex:
    """XB as recorded (0 and 9 included); when empty, the sex the identity number encodes."""
    stated = code(fields, "XB", Sex, required=False)
    return Sex(idn.sex) if stated is None else stated


def _person(fields: dict[str, str]) -> Person:
    idn = id_number(fields, "GMSFHM")
    return Person(
        id_number=idn,
        name=text(fields, "XM"),
        sex=_sex(fields, idn),
        birth_date=_birth_date(fields, idn),
        hukou_region=_hukou_region(fields),
        talent=code(fields, "RCLB", TalentDesignation, required=False),
    )


def _registration(fields: dict[str, str], idn: IdNumber) -> ResidenceRegistration:
    return ResidenceRegistration(
        id_number=idn,
        district=district(fields, "JZD_XZQH"),
        address=text(fields, "JZDZ", required=False) or "",
        declared_on=date(fields, "JZDJRQ"),
        housing_type=code(fields, "ZSLX", HousingType),
    )


def _permit(fields: dict[str, str], registration: ResidenceRegistration) -> Permit | None:
    """The permit, when JZZBH holds one: issue and expiry dates and the status are then required."""
    number = text(fields, "JZZBH", required=False)
    if number is None:
        return None
    issued_on = date(fields, "FZRQ")
    valid_until = date(fields, "YXQZ")
    if valid_until < issued_on:
        raise RowError("YXQZ", "before FZRQ")
    return Permit(
        id_number=registration.id_number,
        permit_number=number,
        district=registration.district,
        issued_on=issued_on,
        valid_until=valid_until,
        endorsed_on=date(fields, "QZRQ", required=False),
        state=code(fields, "JZZZT", PermitState),
    )


def _guardianship(fields: dict[str, str], child: IdNumber) -> Guardianship | None:
    guardian = id_number(fields, "JHRGMSFHM", required=False)
    if guardian is None:
        return None
    if guardian == child:
        raise RowError("JHRGMSFHM", "same as GMSFHM")
    return Guardianship(child=child, guardian=guardian, relation="", source=SOURCE)


def parse_row(fields: dict[str, str]) -> tuple[Record, ...]:
    """Person, ResidenceRegistration, and a Permit / Guardianship when the row carries one."""
    person = _person(fields)
    registration = _registration(fields, person.id_number)
    optional_records = (_permit(fields, registration), _guardianship(fields, person.id_number))
    return (person, registration, *(r for r in optional_records if r is not None))


BUREAU = Bureau("psb", (FileKind("jzdj_*", parse_row, REQUIRED_COLUMNS),))
