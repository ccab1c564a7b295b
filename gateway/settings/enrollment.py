"""The published enrolment settings in policies/enrollment.toml (ages, cut-off day, points districts).

Rules stay pure: gateway.rules.enrollment takes these settings as values; only this module reads the file.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

from gateway.domain.districts import DISTRICTS
from gateway.policy.catalogue import PolicyError
from gateway.rules.enrollment import EnrollmentSettings
from gateway.settings.loader import read_policy_file

ENROLLMENT_FILE = "enrollment.toml"


def load_enrollment(directory: Path) -> EnrollmentSettings:
    path = directory / ENROLLMENT_FILE
    data = read_policy_file(path)
    try:
        month, day = (int(x) for x in str(data["cutoff"]).split("-"))
        settings = EnrollmentSettings(int(data["min_age"]), int(data["max_age"]), month, day,
                                      frozenset(data.get("points_districts", ())))
    except (KeyError, ValueError) as exc:
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
