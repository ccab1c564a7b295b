"""Basic public services S-1…S-6 and conveniences C-1…C-7 for permit holders (000 §三).

A holder is entitled where the permit is valid today and issued in the district that provides the
service (services are supplied at the place of residence); otherwise the decision names exactly why not.
"""
from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import GatewayError
from gateway.rules.permit_status import PermitStatusDecision
from gateway.rules.reasons import Reason

SERVICES: dict[str, str] = {
    "S-1": "compulsory education",
    "S-2": "basic public employment services",
    "S-3": "basic public health services and family-planning services",
    "S-4": "public culture and sports",
    "S-5": "legal aid and other legal services",
    "S-6": "other basic public services set by the state, province or city",
    "C-1": "exit/entry documents",
    "C-2": "renewing or replacing the resident ID card",
    "C-3": "motor-vehicle registration",
    "C-4": "applying for a driving licence",
    "C-5": "vocational qualification exams and qualifications",
    "C-6": "birth-service registration and other family-planning certificates",
    "C-7": "other conveniences set by the state, province or city",
}
CITY = "330200"


class UnknownService(GatewayError, ValueError):
    """Not one of S-1…S-6, C-1…C-7."""


@dataclass(frozen=True, slots=True)
class ServiceEntitlement:
    service: str
    entitled: bool
    reasons: tuple[Reason, ...]


def service_entitlement(status: PermitStatusDecision, service: str, provider_district: str) -> ServiceEntitlement:
    """`provider_district` is where the service is supplied (the caller's district; 330200 = anywhere in the city)."""
    if service not in SERVICES:
        raise UnknownService(f"unknown service code {service!r}; one of {', '.join(SERVICES)}")
    what = f"{service} {SERVICES[service]}"
    if not status.valid:
        return ServiceEntitlement(service, False, (Reason(service, f"not entitled to {what}: no valid permit"),
                                                   *status.reasons))
    permit = status.permit
    assert permit is not None
    if provider_district not in (CITY, permit.district.code):
        return ServiceEntitlement(service, False, (Reason("OUT_OF_DISTRICT", (
            f"not entitled to {what} here: the permit was issued in district {permit.district.code}, and "
            f"services are supplied at the place of residence (000 §三)")),))
    return ServiceEntitlement(service, True, (Reason(service, f"entitled to {what}: valid permit until "
                                                              f"{permit.valid_until.isoformat()} (000 §三)"),))
