"""The console's Overview page: the log's size and latest signed head, the latest full verification, a week of
calls per hour by role, the refusal rate over that week, and the alerts nobody has acknowledged yet.

An officer sees the calls and alerts within its scope (`scope`: the callers' district and organisations it may see);
the city's auditor sees them all.
The size, the checkpoint and the verification are the log's own and are the same for everyone. Every number is
counted in the store (one GROUP BY for the week), so the page costs the same whatever the log's length.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from gateway.audit.entry import Decision
from gateway.audit.oversight_rows import VerificationRecord
from gateway.audit.port import EVERYWHERE, EntryScope, LogStore
from gateway.service.oversight_time import HOUR, bucket_start, hour_start, instant, log_time

WINDOW_HOURS = 7 * 24
REFUSED = frozenset({Decision.DENY, Decision.INVALID})


@dataclass(frozen=True, slots=True)
class CheckpointSummary:
    size: int
    root_hex: str
    time: str  # RFC 3339 UTC: when the checkpoint's row was stored (a signed note carries no time of its own)
    age_seconds: int  # at the overview's `now`; never negative


@dataclass(frozen=True, slots=True)
class HourCount:
    hour: str  # RFC 3339 UTC start of the hour, e.g. 2026-06-15T04:00:00Z
    role: str
    count: int


@dataclass(frozen=True, slots=True)
class Overview:
    log_size: int
    checkpoint: CheckpointSummary | None  # None before the first signed head
    verification: VerificationRecord | None  # the latest full verification; None if never verified
    hours: tuple[str, ...]  # the 168 hour starts of the window, oldest first (the chart's x axis)
    calls: tuple[HourCount, ...]  # non-zero counts only, by hour then role; alerts are not calls
    calls_total: int
    refused: int  # deny + invalid among the calls
    refusal_rate: float | None  # refused / calls_total; None when there were no calls
    open_alerts: int

    def roles(self) -> tuple[str, ...]:
        """The roles that made calls in the window, sorted."""
        return tuple(sorted({c.role for c in self.calls}))

    def series(self, role: str) -> list[int]:
        """The role's calls per hour, aligned with `hours` (zero where it made none)."""
        by_hour = {c.hour: c.count for c in self.calls if c.role == role}
        return [by_hour.get(h, 0) for h in self.hours]


def overview(store: LogStore, now: str, scope: EntryScope = EVERYWHERE) -> Overview:
    """The Overview at `now` (RFC 3339): the window is the 168 UTC hours ending with the one `now` falls in."""
    at = instant(now, "now")
    first = hour_start(at) - (WINDOW_HOURS - 1) * HOUR
    hours = tuple(bucket_start(log_time(first + i * HOUR)[:13]) for i in range(WINDOW_HOURS))
    rows = store.calls_by_hour(log_time(first), log_time(first + WINDOW_HOURS * HOUR), scope)
    per_role: dict[tuple[str, str], int] = {}
    refused = 0
    for row in rows:
        key = (bucket_start(row.bucket), row.key)
        per_role[key] = per_role.get(key, 0) + row.count
        refused += row.count if row.decision in REFUSED else 0
    total = sum(per_role.values())
    return Overview(
        log_size=store.log_size(), checkpoint=_checkpoint(store, at), verification=store.latest_verification(),
        hours=hours, calls=tuple(HourCount(h, r, n) for (h, r), n in sorted(per_role.items())), calls_total=total,
        refused=refused, refusal_rate=refused / total if total else None,
        open_alerts=store.alert_count(scope, open_only=True))


def _checkpoint(store: LogStore, at: _dt.datetime) -> CheckpointSummary | None:
    cp = store.latest_checkpoint()
    if cp is None:
        return None
    age = int((at - instant(cp.stored_at, "checkpoint time")).total_seconds())
    return CheckpointSummary(cp.size, cp.root.hex(), cp.stored_at, max(age, 0))
