"""Everything on file about one person, gathered from the store for the rules (PersonRecords).

The rules are pure; this is the one place that decides which records they see — including the titles
of near relatives in the household (guardians and wards on record) for R-HOME-1.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from gateway.domain.idnumber import IdNumber
from gateway.domain.records import (
    BusinessLicence,
    Contribution,
    Enrolment,
    Fact,
    LabourContract,
    LandContract,
    PropertyTitle,
    RentalRegistration,
)
from gateway.rules.eligibility import PersonRecords
from gateway.rules.points import PointsRecords
from gateway.store.port import Store

F = TypeVar("F", bound=Fact)


def of_kind(facts: Sequence[Fact], kind: type[F]) -> tuple[F, ...]:
    return tuple(f for f in facts if isinstance(f, kind))


def load(store: Store, who: IdNumber) -> PersonRecords:
    facts = store.facts(who)

    def of(kind: type[F]) -> tuple[F, ...]:
        return of_kind(facts, kind)

    ships = tuple(store.guardianships(who))
    relatives = {g.guardian for g in ships} | set(store.wards(who))
    own = {t.title_number for t in of(PropertyTitle)}
    household = tuple(t for r in sorted(relatives, key=lambda i: i.value)
                      for t in of_kind(store.facts(r, PropertyTitle), PropertyTitle) if t.title_number not in own)
    return PersonRecords(
        person=store.person(who), registrations=tuple(store.registrations(who)), permits=tuple(store.permits(who)),
        contributions=of(Contribution), contracts=of(LabourContract), licences=of(BusinessLicence),
        land_contracts=of(LandContract), titles=of(PropertyTitle), household_titles=household,
        rentals=tuple(r for r in of(RentalRegistration) if r.tenant == who), enrolments=of(Enrolment),
        guardianships=ships)


def points_records(store: Store, who: IdNumber, r: PersonRecords | None = None) -> PointsRecords:
    """What points are computed from: the person's records, with every permit version (late endorsements)."""
    r = r or load(store, who)
    return PointsRecords(person=r.person, registrations=r.registrations, permits=tuple(store.permit_history(who)),
                         contributions=r.contributions, contracts=r.contracts, titles=r.titles, rentals=r.rentals)


def residence_district(records: PersonRecords, fallback: str) -> str:
    """The district of the latest residence registration (where district points items apply)."""
    latest = max(records.registrations, key=lambda r: r.declared_on, default=None)
    return latest.district.code if latest else fallback
