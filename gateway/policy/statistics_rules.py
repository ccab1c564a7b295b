"""Load and validate the Statistics Bureau settings in policies/statistics.toml (minimum cell, coordinator ratio).

Rules stay pure: gateway.rules.statistics takes these settings as values; only this module reads the file.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

from gateway.policy.catalogue import PolicyError
from gateway.rules.statistics import StatisticsSettings

STATISTICS_FILE = "statistics.toml"
KEYS = ("minimum_cell", "coordinator_ratio")


def load_statistics(directory: Path) -> StatisticsSettings:
    path = directory / STATISTICS_FILE
    if not path.is_file():
        raise PolicyError(f"policy file missing: {path} (`permitgw init` adds missing shipped files)")
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path}: {exc.__class__.__name__}: {exc}") from exc
    unknown, missing = set(data) - set(KEYS), set(KEYS) - set(data)
    if unknown or missing:
        raise PolicyError(f"{path}: keys must be exactly {list(KEYS)}; unknown: {sorted(unknown)}, "
                          f"missing: {sorted(missing)}")
    not_whole = [k for k in KEYS if isinstance(data[k], bool) or not isinstance(data[k], int)]
    if not_whole:
        raise PolicyError(f"{path}: {', '.join(not_whole)} must be whole numbers")
    settings = StatisticsSettings(data["minimum_cell"], data["coordinator_ratio"])
    if settings.minimum_cell < 2:
        raise PolicyError(f"{path}: minimum_cell must be at least 2 (1 would publish every count)")
    if settings.coordinator_ratio <= 0:
        raise PolicyError(f"{path}: coordinator_ratio must be greater than 0")
    return settings
