"""`permitgw policy explain`: the decision for one kind of request and the policy lines behind it.

An operator's answer to "why was this bureau refused?" (or "why may it see that?"); it reads no personal data.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gateway.errors import GatewayError
from gateway.policy.decisions import DISTRICT_CODES, IN, OUT, SCOPES, PolicyTable, Reason, build_table
from gateway.policy.document import method_names, short_name

MEANING = {
    Reason.PURPOSE_NOT_ALLOWED: "this role may not state this purpose at all",
    Reason.OUT_OF_DISTRICT: "granted only for subjects living in the caller's own district",
    Reason.POLICY_DENIED: "the purpose is allowed, but no line grants any part of this method's answer",
}


class UnknownRequest(GatewayError, ValueError):
    """An argument of `policy explain` names no role, district, purpose, scope or method the policy knows."""


def resolve_method(text: str, methods: Sequence[str]) -> str:
    """A full method name, or a short one (Service.Method, Service/Method, Method) naming exactly one method."""
    if text in methods:
        return text
    found = [m for m in methods if text in method_names(m)]
    if len(found) == 1:
        return found[0]
    if found:
        raise UnknownRequest(f"--method {text!r} is ambiguous: {', '.join(short_name(m, methods) for m in found)}")
    known = ', '.join(short_name(m, methods) for m in methods)
    raise UnknownRequest(f"--method: unknown method {text!r}; one of {known}")


def _check(table: PolicyTable, role: str, district: str, purpose: str, scope: str) -> None:
    cat = table.catalogue
    if role not in cat.roles:
        raise UnknownRequest(f"--role: unknown role {role!r}; one of {', '.join(cat.roles)}")
    if district not in DISTRICT_CODES:
        raise UnknownRequest(f"--district: unknown district {district!r}; one of {', '.join(DISTRICT_CODES)}")
    if purpose not in cat.purposes:
        raise UnknownRequest(f"--purpose: unknown purpose {purpose!r}; one of {', '.join(cat.purposes)}")
    if scope not in SCOPES:
        raise UnknownRequest(f"--scope: {IN} or {OUT}, not {scope!r}")


def _line_note(line: Sequence[str], groups: Sequence[str], scope: str) -> str:
    if line[4] != "*" and line[4] not in groups:
        return f"  (not for this request: this method has no field group {line[4]})"
    return "" if line[5] in ("*", scope) else f"  (not for this request: {line[5]} only)"


def _write_lines(table: PolicyTable, role: str, district: str, purpose: str, method: str, scope: str,
                 out: TextIO) -> None:
    lines = table.lines_for(role, district, purpose, method)
    groups = tuple(table.catalogue.fields[method])
    out.write("policy lines:\n")
    for line in lines:
        out.write(f"  {line[6]:<5}  p, {', '.join(line)}{_line_note(line, groups, scope)}\n")
    if not any(line[6] == "allow" for line in lines):
        out.write("  no line grants this (deny by default)\n")


def _write_purposes(table: PolicyTable, role: str, district: str, out: TextIO) -> None:
    stated = sorted(p for r, d, p in table.role_purposes if (r, d) == (role, district))
    out.write(f"{role} may state: {', '.join(stated) or 'no purpose at all'}\n")


def explain(directory: Path, role: str, district: str, purpose: str, method: str, scope: str, out: TextIO) -> int:
    """Print the decision, the policy version and the lines that speak to the request; 0 whatever the decision."""
    return report(build_table(directory), role, district, purpose, method, scope, out)


def report(table: PolicyTable, role: str, district: str, purpose: str, method: str, scope: str, out: TextIO) -> int:
    """`explain` over an already built table."""
    _check(table, role, district, purpose, scope)
    full = resolve_method(method, table.catalogue.methods)
    decision = table.decide(role, district, purpose, full, scope)
    out.write(f"{role} in {district}, purpose {purpose}, {full}, subject {scope}\n")
    if decision.allowed:
        out.write(f"ALLOWED: field groups {', '.join(sorted(decision.groups))}\n")
    else:
        out.write(f"REFUSED: {decision.reason} ({MEANING.get(decision.reason, '')})\n")
    out.write(f"policy version {decision.policy_version}\n")
    _write_lines(table, role, district, purpose, full, scope, out)
    if decision.reason == Reason.PURPOSE_NOT_ALLOWED:
        _write_purposes(table, role, district, out)
    return 0
