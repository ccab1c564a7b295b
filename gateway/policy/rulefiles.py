"""Load and validate the published rule settings in policies/ (enrollment ages, points districts…).

Rules stay pure: they take these settings as values; only this module reads the files.
"""
from __future__ import annotations

import datetime as _dt
import tomllib
from pathlib import Path

from gateway.domain.districts import DISTRICTS
from gateway.policy.catalogue import PolicyError
from gateway.rules.enrollment import EnrollmentSettings

ENROLLMENT_FILE = "enrollment.toml"


def load_enrollment(directory: Path) -> EnrollmentSettings:
    path = directory / ENROLLMENT_FILE
    if not path.is_file():
        raise PolicyError(f"policy file missing: {path} (`permitgw init` adds missing shipped files)")
    try:
        data = tomllib.loads(path.read_text("utf-8"))
        month, day = (int(x) for x in str(data["cutoff"]).split("-"))
        settings = EnrollmentSettings(int(data["min_age"]), int(data["max_age"]), month, day,
                                      frozenset(data.get("points_districts", ())))
    except (OSError, tomllib.TOMLDecodeError, KeyError, ValueError) as exc:
        raise PolicyError(f"{path}: {exc.__class__.__name__}: {exc}") from exc
    if not 0 <= settings.min_age <= settings.max_age <= 18:
        raise PolicyError(f"{path}: ages must satisfy 0 <= min_age <= max_age <= 18")
    try:
        _dt.date(2025, month, day)  # a day every year has (so not 02-29)
    except ValueError as exc:
        raise PolicyError(f"{path}: cutoff must be MM-DD, a day every year has") from exc
    unknown = settings.points_districts - set(DISTRICTS)
    if unknown:
        raise PolicyError(f"{path}: points_districts has unknown district codes {sorted(unknown)}")
    return settings
