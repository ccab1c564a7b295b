"""The anomaly thresholds in policies/anomalies.toml: cooldown, the three alert kinds, office hours, role overrides.

gateway.watch.anomalies counts against these values; only this module reads the file.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from gateway.identity.principal import ROLES
from gateway.policy.catalogue import PolicyError
from gateway.settings.loader import check_keys, is_whole, read_policy_file
from gateway.watch.anomalies import AnomalySettings, OfficeHours, RoleRules, Rule

ANOMALIES_FILE = "anomalies.toml"
NEVER = -1  # how "never alert on this" is written in the file
DAY_MINUTES = 1440
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_BULK, _OFF, _STORM = "bulk_lookup", "off_hours", "denied_storm"
_OFFICE_KEYS = ("office_days", "office_start", "office_end", "holidays", "workdays")
_SECTIONS: dict[str, tuple[str, ...]] = {  # file section -> its keys; the first is the threshold
    _BULK: ("subjects", "window_minutes"),
    _OFF: ("requests", "window_minutes", *_OFFICE_KEYS),
    _STORM: ("requests", "window_minutes"),
}
_TOP_KEYS = ("cooldown_minutes", *_SECTIONS, "roles")


def _whole(path: Path, key: str, value: object, low: int, high: int) -> int:
    if not is_whole(value) or not low <= value <= high:
        raise PolicyError(f"{path}: {key} must be a whole number from {low} to {high}; got {value!r}")
    return value


def _threshold(path: Path, key: str, value: object) -> int | None:
    if not is_whole(value) or (value < 1 and value != NEVER):
        raise PolicyError(f"{path}: {key} must be a whole number >= 1, or {NEVER} for never; got {value!r}")
    return None if value == NEVER else value


def _rule(path: Path, where: str, table: dict[str, Any]) -> Rule:
    name = _SECTIONS[where.rsplit(".", 1)[-1]][0]
    threshold = _threshold(path, f"{where}.{name}", table[name])
    return Rule(threshold, 60 * _whole(path, f"{where}.window_minutes", table["window_minutes"], 1, DAY_MINUTES))


def _clock(path: Path, key: str, value: object) -> int:
    text = value if isinstance(value, str) else ""
    hh, sep, mm = text.partition(":")
    if not (sep and len(hh) == len(mm) == 2 and hh.isdigit() and mm.isdigit()) or int(mm) > 59:
        raise PolicyError(f"{path}: {key} must be a time \"HH:MM\"; got {value!r}")
    minutes = int(hh) * 60 + int(mm)
    if minutes > DAY_MINUTES:
        raise PolicyError(f"{path}: {key} must be from \"00:00\" to \"24:00\"; got {value!r}")
    return minutes


def _days(path: Path, key: str, value: object) -> frozenset[int]:
    if not isinstance(value, list) or any(d not in WEEKDAYS for d in value) or len(set(value)) != len(value):
        raise PolicyError(f"{path}: {key} must be a list of distinct days among {list(WEEKDAYS)}; got {value!r}")
    return frozenset(WEEKDAYS.index(d) for d in value)


def _date(value: object) -> _dt.date:
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return value  # a bare TOML date
    if isinstance(value, str) and len(value) == 10:
        return _dt.date.fromisoformat(value)
    raise ValueError(value)


def _dates(path: Path, key: str, value: object) -> frozenset[_dt.date]:
    try:
        if not isinstance(value, list):
            raise ValueError(value)
        return frozenset(_date(d) for d in value)
    except ValueError as exc:
        raise PolicyError(f"{path}: {key} must be a list of dates \"YYYY-MM-DD\"; got {value!r}") from exc


def _office(path: Path, where: str, table: dict[str, Any]) -> OfficeHours:
    start = _clock(path, f"{where}.office_start", table["office_start"])
    end = _clock(path, f"{where}.office_end", table["office_end"])
    if start >= end:
        raise PolicyError(f"{path}: {where}.office_start ({table['office_start']}) must be before "
                          f"{where}.office_end ({table['office_end']})")
    holidays = _dates(path, f"{where}.holidays", table["holidays"])
    workdays = _dates(path, f"{where}.workdays", table["workdays"])
    if holidays & workdays:
        both = sorted(map(str, holidays & workdays))
        raise PolicyError(f"{path}: {where}.holidays and {where}.workdays share {both}")
    return OfficeHours(_days(path, f"{where}.office_days", table["office_days"]), start, end, holidays, workdays)


def _table(path: Path, where: str, value: object, *, partial: bool) -> dict[str, Any]:
    """A section's table, its keys checked; a role override may leave keys out."""
    keys = _SECTIONS[where.rsplit(".", 1)[-1]]
    if not isinstance(value, dict):
        raise PolicyError(f"{path}: {where} must be a table [{where}] with {', '.join(keys)}")
    check_keys(f"{path}: [{where}]", value, keys, () if partial else None)
    return value


def _role_rules(path: Path, prefix: str, tables: dict[str, dict[str, Any]]) -> RoleRules:
    where = {s: f"{prefix}{s}" for s in _SECTIONS}
    return RoleRules(_rule(path, where[_BULK], tables[_BULK]), _rule(path, where[_OFF], tables[_OFF]),
                     _office(path, where[_OFF], tables[_OFF]), _rule(path, where[_STORM], tables[_STORM]))


def _overrides(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    roles = data.get("roles", {})
    if not isinstance(roles, dict):
        raise PolicyError(f"{path}: roles must be tables [roles.<role>.<section>]")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise PolicyError(f"{path}: roles: unknown role(s) {unknown}; roles are {list(ROLES)}")
    for role, sections in roles.items():
        if not isinstance(sections, dict) or set(sections) - set(_SECTIONS):
            got = sorted(sections) if isinstance(sections, dict) else sections
            raise PolicyError(f"{path}: roles.{role} may only hold sections {list(_SECTIONS)}; got {got!r}")
    return roles


def load_anomalies(directory: Path) -> AnomalySettings:
    """Read policies/anomalies.toml: cooldown, the three sections, and per-role overrides of their keys."""
    path = directory / ANOMALIES_FILE
    data = read_policy_file(path)
    check_keys(f"{path}:", data, _TOP_KEYS, _TOP_KEYS[:-1])  # roles: no overrides when absent
    cooldown = 60 * _whole(path, "cooldown_minutes", data["cooldown_minutes"], 0, DAY_MINUTES)
    base = {s: _table(path, s, data[s], partial=False) for s in _SECTIONS}
    default = _role_rules(path, "", base)
    roles: dict[str, RoleRules] = {}
    for role, sections in _overrides(path, data).items():
        prefix = f"roles.{role}."
        merged = {s: base[s] | _table(path, prefix + s, sections.get(s, {}), partial=True) for s in _SECTIONS}
        roles[role] = _role_rules(path, prefix, merged)
    return AnomalySettings(default, {r: roles.get(r, default) for r in ROLES}, cooldown)
