"""Quotas counted in the database, so that every replica and pre-forked worker of one gateway shares one count.

The in-memory QuotaTracker (gateway.watch.quotas) counts per process: behind a load balancer with N replicas a
harvester would get N times the quota. Here each check-and-record runs in a serialised transaction on the
principal's rows in the store (per-principal advisory lock on PostgreSQL, BEGIN IMMEDIATE on SQLite; the checks of
calls made at once in one such transaction, one after another): read how
many distinct subjects the principal was allowed in the hour and the day, decide with the same rules as the
tracker (refusal, granted: one decision for both), and record the subjects only when allowed. So the count is
exact at the boundary even when the calls arrive at once on different processes.

What is stored: per principal and subject (the hex blind index the gate computes, never an identity number) the
time of its latest allowed ask, and per principal and window when it last warned. Rows older than a day are of
no window: the principal's own are dropped in its transaction (at most once every FORGET_EVERY: the clean-up is a
statement of its own, and a check's cost on PostgreSQL is its statements), everyone's in a sweep once an hour (rows
of a principal idle for two days), so the tables stay bounded by what the quotas allow in a day and ten minutes.

No replay at start: the rows survive a restart. Time comes from the injected clock, never the database's.
A store that cannot be reached raises (the store's StoreUnavailable): the request fails closed, never answered
uncounted.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from typing import NamedTuple, Protocol

from gateway.watch.combining import Combiner
from gateway.watch.quotas import (
    DAY,
    HOUR,
    QuotaOutcome,
    QuotaSettings,
    WindowUse,
    granted,
    refusal,
)

SWEEP_EVERY = HOUR  # how often a process drops the rows of principals idle for SWEEP_AGE
SWEEP_AGE = 2 * DAY  # well beyond any window (and any clock skew between replicas)
FORGET_EVERY = 10 * 60.0  # how often (seconds) a principal's check also drops that principal's rows older than a day
_FREE = QuotaOutcome(True, "", 0, None, None)
MAX_BATCH = 64  # checks one thread makes for the others at most, before it lets another take over


class _Check(NamedTuple):
    """One check to make: who asks about which subjects when, under which windows and warning ratio."""

    principal: str
    subjects: set[str]
    now: float
    windows: tuple[tuple[str, float, int], ...]  # the role's limited windows, day first (QuotaLimits.windows)
    alert_ratio: float


class QuotaRows(Protocol):
    """One principal's quota rows, inside the serialised transaction QuotaLedger.quota_rows opened."""

    def usage(self, horizons: Sequence[float], subjects: Collection[str]) -> list[tuple[int, int]]:
        """Per horizon: how many distinct subjects were seen after it, and how many of `subjects` are among them."""
        ...

    def record(self, subjects: Collection[str], now: float) -> None:
        """Note `subjects` as seen at `now` (a later time already stored is kept)."""
        ...

    def warned_at(self, window: str) -> float | None:
        """When the principal last warned in this window, if it did within the last day."""
        ...

    def warn(self, window: str, now: float) -> None:
        """Note a warning in this window at `now`."""
        ...


class QuotaLedger(Protocol):
    """The port the store implements (gateway.store.quota_sql)."""

    def quota_rows(self, principal: str, forget_before: float | None) -> AbstractContextManager[QuotaRows]:
        """The principal's rows, in one transaction serialised with every other holder of this principal's rows in
        any process; its rows seen at or before `forget_before` (unless None) are dropped first. Committed on a
        normal exit."""
        ...

    def forget_quotas(self, before: float) -> int:
        """Drop every principal's rows seen at or before `before`; how many were dropped."""
        ...


class SharedQuotaCounter:
    """Distinct subjects per principal in the last hour and day, counted in the database (see the module).

    Thread-safe: the checks of calls made at once are made by one thread, a principal's in one transaction, each
    seeing what the ones before it recorded. Unlimited roles and requests about no person never reach the database.
    """

    def __init__(self, settings: QuotaSettings, ledger: QuotaLedger, *, clock: Callable[[], float] = time.time
                 ) -> None:
        self._settings, self._ledger, self._clock = settings, ledger, clock
        self._swept_at: float | None = None
        # principal -> when a check of its last dropped its rows older than a day; emptied by every sweep, so it
        # holds at most the principals that asked within an hour
        self._forgot: dict[str, float] = {}
        # Checks at once each waited for the principal's transaction in turn; now one thread makes every waiting
        # check, a principal's in one transaction (gateway/watch/combining.py).
        self._combiner: Combiner[_Check, QuotaOutcome] = Combiner(
            self._check_batch, lambda c: (c.principal, None), max_batch=MAX_BATCH)

    @property
    def batches(self) -> int:
        """Transactions made for the checks."""
        return self._combiner.batches

    @property
    def settings(self) -> QuotaSettings:
        return self._settings

    def update(self, settings: QuotaSettings) -> None:
        """New settings (a policy reload); what was counted so far keeps counting."""
        self._settings = settings

    def check(self, principal_id: str, role: str, subject: str, *others: str) -> QuotaOutcome:
        """As QuotaTracker.check: may this principal ask about `subject` and the `others` of the same request?"""
        settings = self._settings
        limits = settings.for_role(role)
        subjects = {s for s in (subject, *others) if s}
        if not subjects or limits.unlimited:
            return _FREE
        now = self._clock()
        self._sweep(now)
        return self._combiner.submit(_Check(principal_id, subjects, now, limits.windows, settings.alert_ratio))

    def _check_batch(self, batch: list[_Check]) -> list[QuotaOutcome]:
        """(the combiner's working thread) A principal's checks, in the order they came, in one transaction: each
        sees what the ones before it recorded, as one transaction each would have; none is answered before the
        commit, and if the transaction fails every one of them fails (closed)."""
        principal, now = batch[0].principal, min(c.now for c in batch)
        last = self._forgot.get(principal)
        forget = now - DAY if last is None or not last <= now < last + FORGET_EVERY else None
        with self._ledger.quota_rows(principal, forget) as rows:
            outcomes = [self._decide(rows, c) for c in batch]
        if forget is not None:
            self._forgot[principal] = now
        return outcomes

    @staticmethod
    def _decide(rows: QuotaRows, c: _Check) -> QuotaOutcome:
        uses = [WindowUse(name, length, lim, count, len(c.subjects) - known)
                for (name, length, lim), (count, known) in zip(c.windows, rows.usage(
                    [c.now - length for _, length, _ in c.windows], c.subjects), strict=True)]
        refused = refusal(uses)
        if refused is not None:
            return refused
        rows.record(c.subjects, c.now)

        def warn(use: WindowUse) -> bool:
            last = rows.warned_at(use.name)
            if last is not None and c.now - last < use.length:
                return False
            rows.warn(use.name, c.now)
            return True

        return granted(uses, c.alert_ratio, warn)

    def _sweep(self, now: float) -> None:
        """Once every SWEEP_EVERY (and at the first check): drop the rows of principals idle for SWEEP_AGE."""
        if self._swept_at is not None and now - self._swept_at < SWEEP_EVERY:
            return
        self._ledger.forget_quotas(now - SWEEP_AGE)
        self._swept_at = now
        self._forgot.clear()
