"""The Statistics Bureau settings in policies/statistics.toml (minimum cell, coordinator ratio).

Rules stay pure: gateway.rules.statistics takes these settings as values; only this module reads the file.
"""
from __future__ import annotations

from pathlib import Path

from gateway.policy.catalogue import PolicyError
from gateway.rules.statistics import StatisticsSettings
from gateway.settings.loader import is_whole, read_policy_file

STATISTICS_FILE = "statistics.toml"
KEYS = ("minimum_cell", "coordinator_ratio")


def load_statistics(directory: Path) -> StatisticsSettings:
    path = directory / STATISTICS_FILE
    data = read_policy_file(path)
    unknown, missing = set(data) - set(KEYS), set(KEYS) - set(data)
    if unknown or missing:
        raise PolicyError(f"{path}: keys must be exactly {list(KEYS)}; unknown: {sorted(unknown)}, "
                          f"missing: {sorted(missing)}")
    not_whole = [k for k in KEYS if not is_whole(data[k])]
    if not_whole:
        raise PolicyError(f"{path}: {', '.join(not_whole)} must be whole numbers")
    settings = StatisticsSettings(data["minimum_cell"], data["coordinator_ratio"])
    if settings.minimum_cell < 2:
        raise PolicyError(f"{path}: minimum_cell must be at least 2 (1 would publish every count)")
    if settings.coordinator_ratio <= 0:
        raise PolicyError(f"{path}: coordinator_ratio must be greater than 0")
    return settings
