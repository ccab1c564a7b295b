"""A precomputed decision table: role × district × purpose × method × scope → the field groups allowed.

Built in one pass over the policy lines (so its cost grows with the lines, never a request's), checked
against casbin's enforce() on every load, and replaced by one reference assignment on reload: requests
read an immutable table, no request ever runs casbin, nothing races (casbin's enforce() is not thread-safe on
CPython 3.11.7: docs/architecture.md).
"""
from __future__ import annotations

import hashlib
import random
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import casbin

from gateway.domain.districts import DISTRICTS
from gateway.policy.catalogue import Catalogue, PolicyError, load_catalogue

CITY = "330200"  # a municipal (city-level) bureau
DISTRICT_CODES = (*DISTRICTS, CITY)
IN, OUT = "in-district", "out-of-district"
SCOPES = (IN, OUT)
MODEL_FILE, POLICY_FILE, CATALOGUE_FILE = "model.conf", "policy.csv", "gateway.toml"
Key = tuple[str, str, str, str, str]  # role, district, purpose, method, scope
IDENTITY_GROUPS = frozenset({"identity-full", "identity-masked"})


class Reason:
    POLICY_DENIED = "POLICY_DENIED"
    PURPOSE_NOT_ALLOWED = "PURPOSE_NOT_ALLOWED"
    OUT_OF_DISTRICT = "OUT_OF_DISTRICT"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    allowed: bool
    reason: str  # "" when allowed, else a Reason code
    groups: frozenset[str]  # the field groups of the answer the caller may see
    policy_version: str


@dataclass(frozen=True, slots=True)
class PolicyTable:
    version: str
    catalogue: Catalogue
    lines: tuple[tuple[str, ...], ...]
    groups: dict[Key, frozenset[str]]
    role_purposes: frozenset[tuple[str, str, str]]  # (role, district, purpose) granted anything at all

    def decide(self, role: str, district: str, purpose: str, method: str, scope: str = IN) -> PolicyDecision:
        granted = self.groups.get((role, district, purpose, method, scope))
        if granted:
            return PolicyDecision(True, "", granted, self.version)
        if (role, district, purpose) not in self.role_purposes:
            reason = Reason.PURPOSE_NOT_ALLOWED
        elif scope == OUT and self.groups.get((role, district, purpose, method, IN)):
            reason = Reason.OUT_OF_DISTRICT
        else:
            reason = Reason.POLICY_DENIED
        return PolicyDecision(False, reason, frozenset(), self.version)

    def lines_for(self, role: str, district: str, purpose: str, method: str) -> list[tuple[str, ...]]:
        """The policy lines that speak to a request (for `permitgw policy explain`)."""
        return [ln for ln in self.lines if ln[0] == role and ln[1] in ("*", district) and ln[2] == purpose
                and ln[3] in ("*", method)]


def policy_version(directory: Path) -> str:
    """SHA-256 over the model, the policy lines and the catalogue: what each log entry records."""
    h = hashlib.sha256()
    for name in (MODEL_FILE, POLICY_FILE, CATALOGUE_FILE):
        data = (directory / name).read_bytes()
        h.update(name.encode() + b"\x00" + len(data).to_bytes(8, "big") + data)
    return "sha256:" + h.hexdigest()[:16]


def _validate(line: list[str], cat: Catalogue, where: Path) -> None:
    if len(line) != 7:
        raise PolicyError(f"{where}: policy line {', '.join(line)} must have 7 fields "
                          "(role, district, purpose, method, group, scope, eft)")
    role, district, purpose, method, group, scope, eft = line
    problems = []
    if role not in cat.roles:
        problems.append(f"unknown role {role!r}")
    if district != "*" and district not in DISTRICT_CODES:
        problems.append(f"unknown district {district!r}")
    if purpose not in cat.purposes:
        problems.append(f"unknown purpose {purpose!r}")
    if method != "*" and method not in cat.methods:
        problems.append(f"unknown method {method!r}")
    elif group != "*" and not any(group in cat.fields[m] for m in ((method,) if method != "*" else cat.methods)):
        problems.append(f"unknown field group {group!r} for {method}")
    if scope not in ("*", *SCOPES):
        problems.append(f"scope must be *, {IN} or {OUT}, not {scope!r}")
    if eft not in ("allow", "deny"):
        problems.append(f"effect must be allow or deny, not {eft!r}")
    if problems:
        raise PolicyError(f"{where}: policy line {', '.join(line)}: {'; '.join(problems)}")


def _read_lines(path: Path, cat: Catalogue) -> None:
    """Every line of policy.csv must be blank, a '#' comment or a valid `p, …` line with 7 fields.

    casbin skips lines it does not understand; a garbled file would then load as "deny everything" (an
    outage). Refusing it keeps the policy in force, and the message names the file and line.
    """
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: {exc.__class__.__name__}: {exc}") from exc
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = [t.strip() for t in line.split(",")]
        if tokens[0] != "p":
            raise PolicyError(f"{path}:{number}: not a policy line (want `p, role, district, purpose, method, "
                              "group, scope, allow|deny` or a # comment)")
        _validate(tokens[1:], cat, Path(f"{path}:{number}"))


def _expand(lines: list[list[str]], cat: Catalogue) -> dict[Key, frozenset[str]]:
    allow: dict[Key, set[str]] = defaultdict(set)
    deny: dict[Key, set[str]] = defaultdict(set)
    for role, district, purpose, method, group, scope, eft in lines:
        target = allow if eft == "allow" else deny
        for d in DISTRICT_CODES if district == "*" else (district,):
            for m in cat.methods if method == "*" else (method,):
                gs = cat.fields[m] if group == "*" else ((group,) if group in cat.fields[m] else ())
                for s in SCOPES if scope == "*" else (scope,):
                    target[(role, d, purpose, m, s)].update(gs)
    table = {k: frozenset(v - deny.get(k, set())) for k, v in allow.items()}
    # the identity groups say how the subject is shown in an answer; on their own they grant no answer
    return {k: v for k, v in table.items() if v - IDENTITY_GROUPS}


def _check_against_casbin(enforcer: casbin.Enforcer, table: dict[Key, frozenset[str]], cat: Catalogue,
                          lines: list[list[str]], where: Path) -> None:
    """Sample requests — every granted entry of a few lines and random ones — and compare with casbin."""
    budget = max(8, min(400, 200_000 // max(len(lines), 1)))  # enforce() is linear in the lines: ~1 s of checks
    rng = random.Random(len(lines))
    samples = [(*k, g) for k in list(table)[: budget // 2] for g in sorted(table[k])][: budget // 2]
    while len(samples) < budget:
        m = rng.choice(cat.methods)
        samples.append((rng.choice(cat.roles), rng.choice(DISTRICT_CODES), rng.choice(list(cat.purposes)), m,
                        rng.choice(SCOPES), rng.choice(sorted(cat.fields[m]))))
    for role, d, purpose, m, scope, g in samples:
        granted = table.get((role, d, purpose, m, scope), frozenset())
        if not granted and g in IDENTITY_GROUPS:
            continue  # casbin may allow an identity group alone; the table deliberately grants nothing then
        if (g in granted) != enforcer.enforce(role, d, purpose, m, g, scope):
            raise PolicyError(f"{where}: the decision table and casbin disagree on ({role}, {d}, {purpose}, {m}, "
                              f"{g}, {scope}); model.conf's matcher may have changed beyond what the builder knows")


def build_table(directory: Path, version: str | None = None) -> PolicyTable:
    """Load and validate the three policy files and precompute every decision. The table's version is
    policy_version(directory) unless `version` names it (a pushed bundle's version: gateway/policy/bundle.py)."""
    for name in (MODEL_FILE, POLICY_FILE, CATALOGUE_FILE):
        if not (directory / name).is_file():
            raise PolicyError(f"policy file missing: {directory / name} (`permitgw init` adds missing shipped files)")
    cat = load_catalogue(directory / CATALOGUE_FILE)
    _read_lines(directory / POLICY_FILE, cat)
    try:
        enforcer = casbin.Enforcer(str(directory / MODEL_FILE), str(directory / POLICY_FILE))
    except Exception as exc:  # casbin raises plain exceptions for malformed files
        raise PolicyError(f"{directory}: cannot load policy: {exc}") from exc
    lines = [list(line) for line in enforcer.get_policy()]
    for line in lines:
        _validate(line, cat, directory / POLICY_FILE)
    table = _expand(lines, cat)
    _check_against_casbin(enforcer, table, cat, lines, directory / POLICY_FILE)
    role_purposes = frozenset((r, d, p) for r, d, p, _, _ in table)
    return PolicyTable(version or policy_version(directory), cat, tuple(tuple(ln) for ln in lines), table,
                       role_purposes)


class PolicyEngine:
    """Holds the current table; `reload()` builds a new one aside and swaps the reference; `swap()` puts in force
    a table built elsewhere (a cluster policy pushed into the database, gateway/server/policy_listener.py)."""

    def __init__(self, directory: Path, table: PolicyTable | None = None) -> None:
        self.directory = directory
        self._reload_lock = threading.Lock()
        self._table = table if table is not None else build_table(directory)

    @property
    def table(self) -> PolicyTable:
        return self._table

    def decide(self, role: str, district: str, purpose: str, method: str, scope: str = IN) -> PolicyDecision:
        return self._table.decide(role, district, purpose, method, scope)

    def reload(self) -> PolicyTable:
        """Build from the files again; on error the old table stays in force and the error is raised."""
        with self._reload_lock:
            table = build_table(self.directory)
            self._table = table
            return table

    def swap(self, table: PolicyTable) -> PolicyTable:
        """Put an already built and validated table in force; the table it replaces."""
        with self._reload_lock:
            before, self._table = self._table, table
            return before
