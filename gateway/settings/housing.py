"""The published H-1 thresholds in policies/housing.toml (housing security, 003 §六(五)).

The thresholds are local policy, not law: officials edit the file, the pure rules take the values it gives.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.policy.catalogue import PolicyError
from gateway.rules.eligibility import HousingSettings
from gateway.settings.loader import check_keys, is_whole, read_policy_file

HOUSING_FILE = "housing.toml"
_MONTHS = ("min_si_months", "min_residence_months")
_FLAGS = ("require_employment", "require_residence")
MAX_MONTHS = 600  # fifty years: a larger number is a typo, not a policy


def _check_values(path: Path, data: dict[str, Any]) -> None:
    for key in _MONTHS:
        value = data[key]
        if not is_whole(value) or not 0 <= value <= MAX_MONTHS:
            raise PolicyError(f"{path}: {key} must be a whole number of months from 0 to {MAX_MONTHS}")
    for key in _FLAGS:
        if not isinstance(data[key], bool):
            raise PolicyError(f"{path}: {key} must be true or false")


def load_housing(directory: Path) -> HousingSettings:
    path = directory / HOUSING_FILE
    data = read_policy_file(path)
    check_keys(f"{path}:", data, (*_MONTHS, *_FLAGS))
    _check_values(path, data)
    return HousingSettings(data["min_si_months"], data["min_residence_months"], data["require_employment"],
                           data["require_residence"])
