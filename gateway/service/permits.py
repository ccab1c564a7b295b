"""Permit status and the residence record of one person (PermitService, and the hospital dialect's answer)."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from gateway.domain.idnumber import IdNumber
from gateway.domain.records import Permit, Person, ResidenceRegistration
from gateway.rules.permit_status import PermitStatus, PermitStatusDecision, permit_status
from gateway.store.port import Store


def status_of(store: Store, who: IdNumber, today: _dt.date) -> PermitStatusDecision:
    """The effective status of the person's current permit today, with its reasons."""
    return permit_status(store.permits(who), today)


@dataclass(frozen=True, slots=True)
class PermitLine:
    permit: Permit
    status: PermitStatus  # this permit's own effective status today


@dataclass(frozen=True, slots=True)
class ResidenceRecord:
    person: Person | None
    registrations: tuple[ResidenceRegistration, ...]
    permits: tuple[PermitLine, ...]


def residence_record(store: Store, who: IdNumber, today: _dt.date) -> ResidenceRecord:
    """Everything the PSB holds about the person's residence: registrations, and each permit with its status."""
    person = store.person(who)
    registrations = tuple(store.registrations(who))
    permits = tuple(PermitLine(p, permit_status([p], today).status) for p in store.permits(who))
    return ResidenceRecord(person, registrations, permits)
