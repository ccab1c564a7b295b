"""Field projection and masking: an answer carries only what the caller's role may see.

Stage 1 masks identity numbers per role (policies/gateway.toml); field groups join in Stage 4.
"""
from __future__ import annotations

from gateway.domain.idnumber import IdNumber
from gateway.policy.catalogue import Catalogue


def present_id(who: IdNumber, role: str, catalogue: Catalogue) -> str:
    """The identity number as this role may see it: whole, or masked as 330203********1234."""
    return who.value if catalogue.identity_numbers.get(role) == "full" else who.masked()
