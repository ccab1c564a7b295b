"""Whose accesses an officer sees in the console: one EntryScope from its certificate, the policy and the bureaus.

By the CALLER recorded in each entry: an officer the policy lets see a page out of district (the city's auditor,
in-district everywhere) has no district limit, any other only its own district; an officer whose organisation is
a bureau of policies/organisations.toml sees only the accesses of the bureau and its members, whatever their
district. Both limits apply together when both hold.
"""
from __future__ import annotations

from gateway.audit.port import EntryScope
from gateway.identity.principal import Principal
from gateway.policy.decisions import CITY, OUT, PolicyTable
from gateway.settings.organisations import Organisations


def sees_every_district(principal: Principal, table: PolicyTable, purpose: str, method: str) -> bool:
    """The city's auditor is in-district everywhere; any other only where the policy grants `method` out of
    district too."""
    return principal.district == CITY or table.decide(principal.role, principal.district, purpose, method,
                                                      OUT).allowed


def entry_scope(principal: Principal, table: PolicyTable, purpose: str, method: str,
                organisations: Organisations) -> EntryScope:
    """The scope of this officer's pages (see the module's docstring)."""
    district = None if sees_every_district(principal, table, purpose, method) else principal.district
    return EntryScope(district, organisations.scope_of(principal.org))
