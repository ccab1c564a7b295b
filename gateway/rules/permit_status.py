"""The effective status of a person's residence permit on a given day (000 §三, S-1…S-6; docs/domain.md).

The PSB records a state (JZZZT) and a valid-until date that each annual endorsement (签注) extends;
a permit recorded as valid whose date has passed has lapsed for a missed endorsement.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from gateway.domain.records import Permit, PermitState
from gateway.rules.reasons import Reason


class PermitStatus(StrEnum):
    VALID = "VALID"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    REVOKED = "REVOKED"
    NONE = "NONE"


@dataclass(frozen=True, slots=True)
class PermitStatusDecision:
    status: PermitStatus
    permit: Permit | None
    reasons: tuple[Reason, ...]

    @property
    def valid(self) -> bool:
        return self.status is PermitStatus.VALID


def current_permit(permits: Sequence[Permit]) -> Permit | None:
    """The permit that speaks for the person now: the most recently issued (then longest valid)."""
    return max(permits, key=lambda p: (p.issued_on, p.valid_until), default=None)


def permit_status(permits: Sequence[Permit], today: _dt.date) -> PermitStatusDecision:
    p = current_permit(permits)
    if p is None:
        return PermitStatusDecision(PermitStatus.NONE, None, (
            Reason("NO_PERMIT", "no residence permit on record (R-REG: a permit is issued after six months "
                                "of registered residence)"),))
    if p.state is PermitState.REVOKED:
        return PermitStatusDecision(PermitStatus.REVOKED, p, (
            Reason("PERMIT_REVOKED", "the permit was revoked by the Public Security Bureau"),))
    if p.state is PermitState.CANCELLED:
        return PermitStatusDecision(PermitStatus.CANCELLED, p, (
            Reason("PERMIT_CANCELLED", "the permit was cancelled: the holder left the city"),))
    if p.state is PermitState.EXPIRED:
        return PermitStatusDecision(PermitStatus.EXPIRED, p, (
            Reason("PERMIT_EXPIRED", f"the permit expired on {p.valid_until.isoformat()}"),))
    if p.valid_until < today:
        return PermitStatusDecision(PermitStatus.EXPIRED, p, (
            Reason("ENDORSEMENT_MISSED", f"valid until {p.valid_until.isoformat()} passed without the annual "
                                         "endorsement (签注); the permit is suspended until endorsed"),))
    return PermitStatusDecision(PermitStatus.VALID, p, (
        Reason("S-1..S-6", f"valid permit until {p.valid_until.isoformat()}: basic public services and "
                           "conveniences at the place of residence (000 §三)"),))
