"""Health Bureau adapter, outbound: permit status in the hospital systems' own data elements.

Field names are the hospitals' own (DE02.01.030.00, JZZZT, JZZYXQ, FWXM; docs/bureau-files.md); the gateway's
proto for this dialect carries them as JSON names, so this mapping needs no knowledge of gRPC.
"""
from __future__ import annotations

from collections.abc import Sequence

from gateway.rules.entitlements import ServiceEntitlement
from gateway.rules.permit_status import PermitStatusDecision

SERVICES = ("S-3", "C-6")  # what a hospital may ask about: basic public health, family-planning certificates


def permit_status_fields(decision: PermitStatusDecision, entitlements: Sequence[ServiceEntitlement],
                         person_shown: str) -> dict[str, object]:
    """The hospital's answer: `person_shown` is the identity number as the caller may see it."""
    permit = decision.permit
    return {
        "DE02.01.030.00": person_shown,
        "JZZZT": "1" if decision.valid else "0",
        "JZZYXQ": permit.valid_until.isoformat() if permit else "",
        "FWXM": [e.service for e in entitlements if e.entitled and e.service in SERVICES],
    }
