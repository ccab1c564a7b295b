"""A precomputed decision table over role × district × purpose × method, built with pycasbin.

Casbin is consulted only while building (single-threaded); requests read an immutable dict that a
reload replaces in one reference swap, so no request sees a half-built table and nothing races.
"""
from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass
from pathlib import Path

import casbin

from gateway.domain.districts import DISTRICTS
from gateway.policy.catalogue import Catalogue, PolicyError, load_catalogue

CITY = "330200"  # a municipal (city-level) bureau
MODEL_FILE, POLICY_FILE, CATALOGUE_FILE = "model.conf", "policy.csv", "gateway.toml"


class Reason:
    POLICY_DENIED = "POLICY_DENIED"
    PURPOSE_NOT_ALLOWED = "PURPOSE_NOT_ALLOWED"
    OUT_OF_DISTRICT = "OUT_OF_DISTRICT"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    allowed: bool
    reason: str  # "" when allowed, else a Reason code
    policy_version: str


@dataclass(frozen=True, slots=True)
class PolicyTable:
    version: str
    catalogue: Catalogue
    allowed: frozenset[tuple[str, str, str, str]]
    role_purposes: frozenset[tuple[str, str, str]]  # (role, district, purpose) allowed for some method

    def decide(self, role: str, district: str, purpose: str, method: str) -> PolicyDecision:
        if (role, district, purpose, method) in self.allowed:
            return PolicyDecision(True, "", self.version)
        if (role, district, purpose) not in self.role_purposes:
            return PolicyDecision(False, Reason.PURPOSE_NOT_ALLOWED, self.version)
        return PolicyDecision(False, Reason.POLICY_DENIED, self.version)


def policy_version(directory: Path) -> str:
    """SHA-256 over the model, the policy lines and the catalogue: what each log entry records."""
    h = hashlib.sha256()
    for name in (MODEL_FILE, POLICY_FILE, CATALOGUE_FILE):
        data = (directory / name).read_bytes()
        h.update(name.encode() + b"\x00" + len(data).to_bytes(8, "big") + data)
    return "sha256:" + h.hexdigest()[:16]


def _validate_lines(enforcer: casbin.Enforcer, cat: Catalogue, where: Path) -> None:
    for line in enforcer.get_policy():
        if len(line) != 5:
            raise PolicyError(f"{where}: policy line {line} must have 5 fields (role, district, purpose, method, eft)")
        role, district, purpose, method, eft = line
        problems = []
        if role not in cat.roles:
            problems.append(f"unknown role {role!r}")
        if district != "*" and district not in DISTRICTS and district != CITY:
            problems.append(f"unknown district {district!r}")
        if purpose not in cat.purposes:
            problems.append(f"unknown purpose {purpose!r}")
        if method != "*" and method not in cat.methods:
            problems.append(f"unknown method {method!r}")
        if eft not in ("allow", "deny"):
            problems.append(f"effect must be allow or deny, not {eft!r}")
        if problems:
            raise PolicyError(f"{where}: policy line {', '.join(line)}: {'; '.join(problems)}")


def build_table(directory: Path) -> PolicyTable:
    """Load and validate the three policy files and precompute every decision."""
    for name in (MODEL_FILE, POLICY_FILE, CATALOGUE_FILE):
        if not (directory / name).is_file():
            raise PolicyError(f"policy file missing: {directory / name} (`permitgw init` adds missing shipped files)")
    cat = load_catalogue(directory / CATALOGUE_FILE)
    try:
        enforcer = casbin.Enforcer(str(directory / MODEL_FILE), str(directory / POLICY_FILE))
    except Exception as exc:  # casbin raises plain exceptions for malformed files
        raise PolicyError(f"{directory}: cannot load policy: {exc}") from exc
    _validate_lines(enforcer, cat, directory / POLICY_FILE)
    districts = (*DISTRICTS, CITY)
    allowed = frozenset(k for k in itertools.product(cat.roles, districts, cat.purposes, cat.methods)
                        if enforcer.enforce(*k))
    role_purposes = frozenset((r, d, p) for r, d, p, _ in allowed)
    return PolicyTable(policy_version(directory), cat, allowed, role_purposes)


class PolicyEngine:
    """Holds the current table; `reload()` builds a new one aside and swaps the reference."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._reload_lock = threading.Lock()
        self._table = build_table(directory)

    @property
    def table(self) -> PolicyTable:
        return self._table

    def decide(self, role: str, district: str, purpose: str, method: str) -> PolicyDecision:
        return self._table.decide(role, district, purpose, method)

    def reload(self) -> PolicyTable:
        """Build from the files again; on error the old table stays in force and the error is raised."""
        with self._reload_lock:
            table = build_table(self.directory)
            self._table = table
            return table
