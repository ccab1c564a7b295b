"""The access-log entry of one use of personal data, however it arrived (a gRPC call, an operator's command).

One builder, so the gate's entries and `permitgw explain`'s have the same shape and are stamped by the same clock.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.audit.entry import AccessEntry, now_rfc3339
from gateway.identity.principal import Principal


@dataclass(frozen=True, slots=True)
class Caller:
    """Who the log names: a certificate's principal, an unreadable certificate's fingerprint, or an operator."""

    id: str = ""
    serial: str = ""
    role: str = ""
    org: str = ""
    district: str = ""

    @classmethod
    def of(cls, principal: Principal | None, fingerprint: str = "") -> Caller:
        """The principal's names; without one, only the certificate's fingerprint (or nothing) as its serial."""
        if principal is None:
            return cls(serial=fingerprint)
        return cls(principal.id, principal.serial, principal.role, principal.org, principal.district)


def access_entry(caller: Caller, *, method: str, purpose: str, decision: str, reason: str, policy_version: str,
                 case_id: str = "", operator_id: str = "", subject: str = "",
                 subjects: Iterable[str] = ()) -> AccessEntry:
    """An entry stamped now; `subject` and `subjects` are blind indexes, never identity numbers."""
    return AccessEntry(
        time=now_rfc3339(), principal=caller.id, serial=caller.serial, role=caller.role, org=caller.org,
        district=caller.district, method=method, purpose=purpose, case_id=case_id, operator_id=operator_id,
        subject=subject, subjects=tuple(subjects), decision=decision, reason=reason, policy_version=policy_version)
