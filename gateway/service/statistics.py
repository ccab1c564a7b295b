"""District statistics (I-4, I-5): a month's table built from the store, frozen on first request, and served.

Per person: residence district, registration, permit validity and primary basis at the month's end;
the pure rule (rules/statistics.py) aggregates and suppresses; the result is stored once and reused.
Counts only, never a person.
"""
from __future__ import annotations

import calendar
import datetime as _dt
import json
from typing import Any

from gateway.domain.districts import DISTRICTS, LEGACY
from gateway.domain.idnumber import IdNumber
from gateway.errors import GatewayError
from gateway.rules.eligibility import evaluate_eligibility
from gateway.rules.permit_status import permit_status
from gateway.rules.statistics import PersonStat, StatisticsSettings, district_month_table
from gateway.service import casefile
from gateway.store.port import Store

CITY_CODE = "330200"


class NotPublishable(GatewayError, ValueError):
    """The month asked for cannot be published (malformed, or not yet complete)."""


class UnknownDistrict(GatewayError, ValueError):
    """Not a Ningbo district code (nor empty / 330200 for the whole city)."""


def month_end(month: str) -> _dt.date:
    try:
        year, mon = int(month[:4]), int(month[5:7])
        if len(month) != 7 or month[4] != "-" or not 1 <= mon <= 12 or year < 2000:
            raise ValueError
    except ValueError:
        raise NotPublishable("month must be YYYY-MM") from None
    return _dt.date(year, mon, calendar.monthrange(year, mon)[1])


def person_stat(store: Store, who: IdNumber, end: _dt.date) -> PersonStat | None:
    records = casefile.load(store, who)
    regs = [r for r in records.registrations if r.declared_on <= end]
    if not regs:
        return None
    latest = max(regs, key=lambda r: r.declared_on)
    valid = permit_status([p for p in records.permits if p.issued_on <= end], end).valid
    bases = frozenset(evaluate_eligibility(records, end).bases) if valid else frozenset()
    return PersonStat(latest.district.code, latest.declared_on, valid, bases)


def build(store: Store, month: str, settings: StatisticsSettings) -> dict[str, Any]:
    end = month_end(month)
    stats = [s for who in store.people() if (s := person_stat(store, who, end)) is not None]
    table = district_month_table(stats, month, store.registrations_declared(end.year - 1), settings.minimum_cell,
                                 coordinator_ratio=settings.coordinator_ratio)
    return {"month": table.month, "minimum": table.minimum,
            "permits": {r: dict(cols) for r, cols in table.permits.items()},
            "registrations": dict(table.registrations), "coordinators_required": dict(table.coordinators_required)}


def published(store: Store, month: str, settings: StatisticsSettings, today: _dt.date) -> dict[str, Any]:
    """The month's frozen table, built on first request; only months already over are published."""
    end = month_end(month)
    if end >= today:
        raise NotPublishable("month: only completed months are published")
    body = store.published_statistics(month)
    if body is None:
        body = store.publish_statistics(month, json.dumps(build(store, month, settings), sort_keys=True))
    return json.loads(body)


def district_keys(raw: str) -> list[str]:
    """The rows asked for: one district (legacy codes accepted), or every district for "" or 330200."""
    district = LEGACY.get(raw.strip(), raw.strip())
    if district not in ("", CITY_CODE, *DISTRICTS):
        raise UnknownDistrict("a Ningbo district code, or empty / 330200 for all")
    return list(DISTRICTS) if district in ("", CITY_CODE) else [district]
