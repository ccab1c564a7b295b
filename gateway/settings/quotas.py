"""The anti-harvesting limits in policies/quotas.toml: per role, distinct people per hour and per day.

gateway.watch.quotas counts against these values; only this module reads the file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.identity.principal import ROLES
from gateway.policy.catalogue import PolicyError
from gateway.settings.loader import check_keys, is_whole, read_policy_file
from gateway.watch.quotas import QuotaLimits, QuotaSettings

QUOTAS_FILE = "quotas.toml"
UNLIMITED = -1  # how "no limit" is written in the file
_LIMIT_KEYS = ("per_hour", "per_day")
_RATIO_KEY = "alert_ratio"


def _limit(path: Path, role: str, key: str, value: object) -> int | None:
    if not is_whole(value) or value < UNLIMITED:
        raise PolicyError(f"{path}: {role}.{key} must be a whole number >= 0, or {UNLIMITED} for unlimited; "
                          f"got {value!r}")
    return None if value == UNLIMITED else value


def _role_limits(path: Path, role: str, table: object) -> QuotaLimits:
    if not isinstance(table, dict):
        raise PolicyError(f"{path}: {role} must be a table [{role}] with {' and '.join(_LIMIT_KEYS)}")
    check_keys(f"{path}: [{role}]", table, _LIMIT_KEYS)
    limits = QuotaLimits(*(_limit(path, role, k, table[k]) for k in _LIMIT_KEYS))
    if limits.per_hour is not None and limits.per_day is not None and limits.per_hour > limits.per_day:
        raise PolicyError(f"{path}: {role}.per_hour ({limits.per_hour}) exceeds {role}.per_day ({limits.per_day})")
    return limits


def _ratio(path: Path, data: dict[str, Any]) -> float:
    if _RATIO_KEY not in data:
        raise PolicyError(f"{path}: missing key {_RATIO_KEY}")
    value = data[_RATIO_KEY]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise PolicyError(f"{path}: {_RATIO_KEY} must be a number in (0, 1]; got {value!r}")
    return float(value)


def load_quotas(directory: Path) -> QuotaSettings:
    """Read policies/quotas.toml: alert_ratio and a [role] table with per_hour and per_day for every role."""
    path = directory / QUOTAS_FILE
    data = read_policy_file(path)
    unknown = sorted(set(data) - {_RATIO_KEY, *ROLES})
    if unknown:
        raise PolicyError(f"{path}: unknown role(s) {unknown}; roles are {list(ROLES)}")
    missing = [r for r in ROLES if r not in data]
    if missing:
        raise PolicyError(f"{path}: missing role(s) {missing}; write {UNLIMITED} for an unlimited one")
    limits = {role: _role_limits(path, role, data[role]) for role in ROLES}
    return QuotaSettings(limits, _ratio(path, data))
