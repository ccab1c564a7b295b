"""Enrolment (S-1): may this child enrol at this school, and with how many points where the district admits by them?

The school's district comes from its certificate; every adult named is a subject of the call, but only those on
record as the child's guardians are looked up.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

from gateway.domain.idnumber import IdNumber
from gateway.rules.enrollment import EnrollmentDecision, EnrollmentSettings, check_enrollment
from gateway.rules.points import PointsTable
from gateway.service.points import points_for
from gateway.store.port import Store

MAX_GUARDIANS = 2  # the Education Bureau records two guardians per child (JHR1 / JHR2), the PSB one


def named(guardians: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (raw identity number, field name) pairs a request actually fills in."""
    return [(raw, name) for raw, name in guardians if raw.strip()]


def check(store: Store, child: IdNumber, asked: Sequence[IdNumber], school_district: str, today: _dt.date,
          settings: EnrollmentSettings) -> EnrollmentDecision:
    """The decision from the child's guardianships on record and those guardians' permits."""
    ships = store.guardianships(child)
    permits = {g: store.permits(g) for g in {s.guardian for s in ships}}
    return check_enrollment(child, asked, ships, permits, school_district, today, settings)


def points(store: Store, settings: EnrollmentSettings, table: PointsTable, school_district: str,
           decision: EnrollmentDecision, today: _dt.date) -> float | None:
    """The deciding guardian's points, only where the school's district admits by points (enrollment.toml)."""
    if school_district not in settings.points_districts or decision.guardian is None:
        return None
    return points_for(store, table, decision.guardian, school_district, today).total
