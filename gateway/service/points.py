"""A person's points with their breakdown under the published table (P-2, PointsService and enrolment S-1)."""
from __future__ import annotations

import datetime as _dt

from gateway.domain.districts import DISTRICTS
from gateway.domain.idnumber import IdNumber
from gateway.rules.points import PointsResult, PointsTable, compute_points
from gateway.service import casefile
from gateway.store.port import Store

DEFAULT_DISTRICT = "330203"  # where district items are scored when the person's district is not a Ningbo one


def points_for(store: Store, table: PointsTable, who: IdNumber, fallback_district: str,
               today: _dt.date) -> PointsResult:
    """Points as of today, with the district items of the person's residence (else `fallback_district`)."""
    case = casefile.load(store, who)  # once: the points records and the residence district both come from it
    records = casefile.points_records(store, who, case)
    district = casefile.residence_district(case, fallback_district)
    return compute_points(records, table, today, district if district in DISTRICTS else DEFAULT_DISTRICT)
