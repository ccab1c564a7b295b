"""The log entry of `permitgw explain`, an operator's look at one person's permit eligibility.

The decision is the same use case EvaluatePermitEligibility answers (gateway/service/eligibility.py). It reads
personal data, so it is logged like any gateway access, with the operator as the caller (principal
`operator/<os user>`, role `operator`), through the same entry builder as the gate's.
"""
from __future__ import annotations

from gateway.audit.entry import AccessEntry, Decision
from gateway.domain.idnumber import IdNumber
from gateway.rules.eligibility import EligibilityDecision
from gateway.service.access import Caller, access_entry
from gateway.store.port import Store

METHOD = "permitgw explain"
PURPOSE = "permit-administration"


def log_entry(store: Store, who: IdNumber, decision: EligibilityDecision, operator: str,
              policy_version: str) -> AccessEntry:
    """The access-log entry of one explain by `operator` (an OS user name); the subject by blind index."""
    return access_entry(Caller(id=f"operator/{operator}", role="operator"), method=METHOD, purpose=PURPOSE,
                        operator_id=operator, subject=store.subject_index(who), decision=Decision.ALLOW,
                        reason="ELIGIBLE" if decision.eligible else "NOT_ELIGIBLE", policy_version=policy_version)
