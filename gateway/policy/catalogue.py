"""The vocabulary the policy speaks: roles, purposes, methods and how each role sees identity numbers.

Read from `gateway.toml` beside model.conf and policy.csv, and validated, so a typo fails at start.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import GatewayError
from gateway.identity.principal import ROLES
from gateway.rules.entitlements import SERVICES

SERVICE_CODES = (*SERVICES, "H-1")


class PolicyError(GatewayError):
    """The policy files are missing, malformed or inconsistent."""


@dataclass(frozen=True, slots=True)
class Catalogue:
    roles: tuple[str, ...]
    purposes: dict[str, str]
    methods: tuple[str, ...]
    purpose_services: dict[str, frozenset[str]]  # purpose -> service codes it covers (CheckService)
    fields: dict[str, dict[str, tuple[str, ...]]]  # method -> field group -> answer field paths


def load_catalogue(path: Path) -> Catalogue:
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path}: {exc}") from exc
    roles = tuple(data.get("roles", ()))
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise PolicyError(f"{path}: roles must be among {ROLES}; unknown: {sorted(unknown)}")
    purposes = dict(data.get("purposes", {}))
    methods = tuple(data.get("methods", ()))
    if not purposes or not methods:
        raise PolicyError(f"{path}: purposes and methods must not be empty")
    covers = {k: frozenset(v) for k, v in dict(data.get("purpose_services", {})).items()}
    bad_p = set(covers) - set(purposes)
    bad_s = {c for v in covers.values() for c in v} - set(SERVICE_CODES)
    if bad_p or bad_s:
        raise PolicyError(f"{path}: purpose_services names unknown purposes {sorted(bad_p)} "
                          f"or unknown services {sorted(bad_s)}")
    fields = {m: {g: tuple(paths) for g, paths in groups.items()} for m, groups in dict(data.get("fields", {})).items()}
    missing = [m for m in methods if not fields.get(m)]
    stray = sorted(set(fields) - set(methods))
    if missing or stray:
        raise PolicyError(f"{path}: every method needs its [fields] groups; missing for {missing}, unknown {stray}")
    for m, groups in fields.items():
        if ("identity-full" in groups) != ("identity-masked" in groups):
            raise PolicyError(f"{path}: {m} must define identity-full and identity-masked together")
    return Catalogue(roles, purposes, methods, covers, fields)
