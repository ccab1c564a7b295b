"""Service entitlement (CheckService): is this person entitled to a public service (S-*, C-*) or housing (H-1)?

A permit holder's services depend on the permit's status and the provider's district; housing (H-1) on the
housing facts of the whole case file. The caller's purpose must cover the service asked about.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from gateway.domain.idnumber import IdNumber
from gateway.errors import GatewayError
from gateway.policy.catalogue import SERVICE_CODES
from gateway.rules.eligibility import HousingFacts, HousingSettings, housing_facts
from gateway.rules.entitlements import ServiceEntitlement, service_entitlement
from gateway.rules.permit_status import PermitStatusDecision
from gateway.rules.reasons import Reason
from gateway.service import casefile, permits
from gateway.store.port import Store

HOUSING = "H-1"


class UnknownServiceCode(GatewayError, ValueError):
    """Not a service code the gateway knows; the message lists the codes."""


class ServiceNotCovered(GatewayError, PermissionError):
    """The caller's purpose does not cover the service asked about."""

    def __init__(self, purpose: str, code: str) -> None:
        super().__init__(f"purpose {purpose!r} does not cover service {code}")
        self.purpose, self.code = purpose, code


def service_code(raw: str, purpose: str, covered: Collection[str]) -> str:
    """The service code asked about, known and covered by the caller's purpose (else one of the errors above)."""
    code = raw.strip().upper()
    if code not in SERVICE_CODES:
        raise UnknownServiceCode(f"one of {', '.join(SERVICE_CODES)}")
    if code not in covered:
        raise ServiceNotCovered(purpose, code)
    return code


@dataclass(frozen=True, slots=True)
class ServiceAnswer:
    entitled: bool
    reasons: tuple[Reason, ...]
    housing: HousingFacts | None = None  # only for H-1


def check_service(store: Store, who: IdNumber, code: str, today: _dt.date, housing: HousingSettings,
                  provider_district: str) -> ServiceAnswer:
    """`provider_district` is where the service is supplied: the caller's district (330200 = the whole city)."""
    if code == HOUSING:
        facts = housing_facts(casefile.load(store, who), today, housing)
        return ServiceAnswer(facts.entitled, facts.reasons, facts)
    ent = service_entitlement(permits.status_of(store, who, today), code, provider_district)
    return ServiceAnswer(ent.entitled, ent.reasons)


def entitlements(status: PermitStatusDecision, services: Iterable[str],
                 provider_district: str) -> list[ServiceEntitlement]:
    """The person's entitlement to each of `services` given their permit status (the hospital dialect's list)."""
    return [service_entitlement(status, s, provider_district) for s in services]
