"""The console's Organisation report: one organisation's accesses over a period, by purpose and outcome, and per
day by outcome for the chart — counted in the store (one GROUP BY), never by loading the entries.

Days are UTC days (the log's time is UTC text, grouped by its date); alerts are not accesses and are left out.
An officer sees only the accesses within its scope (`scope`: the callers' district and organisations it may see);
the city's auditor sees them all.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from gateway.audit.port import EVERYWHERE, EntryScope, LogStore
from gateway.errors import GatewayError
from gateway.service.oversight_time import instant, log_time

MAX_DAYS = 366
MAX_ORG = 64


class BadReport(GatewayError, ValueError):
    """The organisation or the period asked for is not one a report can be made for."""


@dataclass(frozen=True, slots=True)
class PurposeCount:
    purpose: str
    decision: str  # the outcome: allow, deny, invalid, error
    count: int


@dataclass(frozen=True, slots=True)
class DayCount:
    day: str  # YYYY-MM-DD, UTC
    decision: str
    count: int


@dataclass(frozen=True, slots=True)
class OrgReport:
    org: str
    since: str  # RFC 3339 UTC, inclusive
    until: str  # exclusive
    by_purpose: tuple[PurposeCount, ...]  # sorted by purpose, then outcome; non-zero only
    by_day: tuple[DayCount, ...]  # sorted by day, then outcome; non-zero only
    total: int
    days: tuple[str, ...]  # every UTC day the period touches, oldest first (the chart's x axis)

    def outcomes(self) -> tuple[str, ...]:
        """The outcomes that occur, sorted (the chart's series, the table's columns)."""
        return tuple(sorted({c.decision for c in self.by_purpose}))

    def series(self, decision: str) -> list[int]:
        """Accesses per day with this outcome, aligned with `days`."""
        by_day = {c.day: c.count for c in self.by_day if c.decision == decision}
        return [by_day.get(d, 0) for d in self.days]


def org_report(store: LogStore, org: str, since: str, until: str, scope: EntryScope = EVERYWHERE) -> OrgReport:
    """Organisation `org`'s accesses with since <= time < until (RFC 3339), at most MAX_DAYS days."""
    if not org or len(org) > MAX_ORG or not org.isprintable():
        raise BadReport(f"org: an organisation code of 1 to {MAX_ORG} printable characters")
    start, end = instant(since, "since"), instant(until, "until")
    if end <= start:
        raise BadReport("until: must come after since")
    if (end - start).total_seconds() > MAX_DAYS * 86400:
        raise BadReport(f"the period is longer than {MAX_DAYS} days")
    lo, hi = log_time(start), log_time(end)
    purposes: dict[tuple[str, str], int] = {}
    days: dict[tuple[str, str], int] = {}
    for row in store.org_calls_by_day(org, lo, hi, scope):
        purposes[(row.key, row.decision)] = purposes.get((row.key, row.decision), 0) + row.count
        days[(row.bucket, row.decision)] = days.get((row.bucket, row.decision), 0) + row.count
    return OrgReport(org, lo, hi, tuple(PurposeCount(p, d, n) for (p, d), n in sorted(purposes.items())),
                     tuple(DayCount(day, d, n) for (day, d), n in sorted(days.items())), sum(purposes.values()),
                     _days(start, end))


def _days(start: _dt.datetime, end: _dt.datetime) -> tuple[str, ...]:
    """The UTC dates of the instants in [start, end)."""
    first, last = start.date(), (end - _dt.timedelta(microseconds=1)).date()
    return tuple((first + _dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1))
