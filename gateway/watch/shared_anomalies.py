"""Anomaly alerts on the combined traffic of every gateway process on one database, and the choice of detector.

Replicas behind a load balancer (or pre-forked workers) each see a share of a principal's calls: counted in each
process's memory, a burst spread over N of them stays below every threshold. `SharedAnomalyDetector` applies the
same rules as anomalies.AnomalyDetector — which kinds an entry counts towards, office hours, thresholds, windows,
cooldown, messages — but keeps the windows in the database (store/anomaly_counts.py behind the `AnomalyCounter`
port), where each observation is one transaction serialised per principal: the counts are of every process's
entries, and a threshold crossing raises exactly one alert in the whole cluster, in the process that crossed it.

`anomaly_watch` decides which detector a gateway uses: the shared one on PostgreSQL (replicas), or when forced
(`serve --workers N` on SQLite: pre-forked workers share one database file); otherwise one process's memory,
warmed from the last day of the access log.
"""
from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

from gateway.audit.entry import AccessEntry
from gateway.errors import GatewayError
from gateway.watch.anomalies import (
    BULK_LOOKUP,
    Alert,
    AnomalyDetector,
    AnomalySettings,
    AnomalyWatch,
    alert_message,
    counted,
)

log = logging.getLogger("permitgw.watch")

Tally = tuple[str, tuple[str, ...] | None, int, int]
"""What one entry counts towards: (kind, its distinct subjects — or None to count the request, threshold, window
in seconds); the store's anomaly_counts.Tally."""

PRUNE_EVERY_SECONDS = 60.0  # of entry time: how often a process removes idle principals' windows
PRUNE_BATCH = 200  # principals removed per pass at most (a pass that fills it is followed by another at once)
MAX_BATCH = 64  # observations one thread counts for the others at most, before it lets another take over


@runtime_checkable
class AnomalyCounter(Protocol):
    """Per-principal anomaly windows every process on the database shares (the stores implement it)."""

    def count_anomalies(self, principal: str, now: float, tallies: Sequence[Tally],
                        cooldown: float) -> list[tuple[str, int]]:
        """Count an entry towards each tally; the kinds that reached their threshold and alert now (exactly once
        across processes), with their count."""
        ...

    def count_anomalies_many(self, principal: str, observations: Sequence[tuple[float, Sequence[Tally]]],
                             cooldown: float) -> list[list[tuple[str, int]]]:
        """count_anomalies for several entries of one principal (time and tallies each), in order, in one
        transaction: what each would have returned."""
        ...

    def prune_anomalies(self, idle_before: float, limit: int) -> int:
        """Forget principals idle since `idle_before`; how many."""
        ...


class SharedAnomalyError(GatewayError):
    """The store cannot keep anomaly counts shared between processes."""


class _Observation:
    """One entry waiting to be counted. Its thread sleeps on `wake` (a C-level lock, taken at creation), released
    once by the counting thread: when the entry is counted (`done`), or to hand the counting over to it."""

    __slots__ = ("principal", "now", "tallies", "cooldown", "fired", "error", "done", "wake")

    def __init__(self, principal: str, now: float, tallies: list[Tally], cooldown: float) -> None:
        self.principal, self.now, self.tallies, self.cooldown = principal, now, tallies, cooldown
        self.fired: list[tuple[str, int]] = []
        self.error: BaseException | None = None
        self.done = False
        self.wake = threading.Lock()
        self.wake.acquire()

    def finish(self, fired: list[tuple[str, int]] | None, error: BaseException | None = None) -> None:
        self.fired, self.error, self.done = fired or [], error, True
        self.wake.release()


class SharedAnomalyDetector:
    """Anomaly alerts counted in the database: the combined traffic of every process using it.

    Failure (the database cannot be reached, or a counting transaction fails): the error is logged, counted in
    `failures`, and the entry sets off no alert; the call goes on. The call's own entry is already in the
    access log when it is observed, and alerts never refuse anything (policies/anomalies.toml): making a call
    UNAVAILABLE because a counter could not be updated would turn an aid for auditors into an outage, while
    what was missed stays in the log for an offline scan (AnomalyDetector.scan). Failing closed is for the log
    itself: when the database is really gone, the log's append fails first and the call is refused there.
    Entries missed while the database was away are not counted afterwards (the windows resume with the next).

    Time: each entry at its own logged time (never the database's clock); a time earlier than the principal's
    latest is counted at the latest. Settings are an immutable value replaced by update().
    """

    def __init__(self, settings: AnomalySettings, counter: AnomalyCounter) -> None:
        self._settings = settings
        self._counter = counter
        self._pruning = threading.Lock()
        self._next_prune = -math.inf
        self.failures = 0  # observations that could not be counted
        self._waiting: collections.deque[_Observation] = collections.deque()
        self._mutex = threading.Lock()  # over _waiting and _leading
        self._leading = False  # a thread is counting the waiting observations (or has been asked to)
        self.batches = 0  # transactions (or lone counts) made for the observations

    @property
    def settings(self) -> AnomalySettings:
        return self._settings

    def update(self, settings: AnomalySettings) -> None:
        """New settings (a policy reload); what was counted so far keeps counting."""
        self._settings = settings

    def observe(self, entry: AccessEntry) -> list[Alert]:
        """Count one access-log entry; the alerts it sets off in this process (none for alert entries, an empty
        principal, or when the count could not be made). Raises ValueError if the entry's time is not RFC 3339."""
        settings = self._settings
        seconds, kinds = counted(entry, settings)
        if not kinds:
            return []
        rules = dict(kinds)
        tallies: list[Tally] = [
            (kind, tuple(dict.fromkeys(entry.people())) if kind == BULK_LOOKUP else None, rule.threshold,
             rule.window_seconds) for kind, rule in kinds if rule.threshold is not None]
        mine = _Observation(entry.principal, seconds, tallies, settings.cooldown_seconds)
        self._count(mine)
        if mine.error is not None:  # any failure of the database: log it, never fail the call
            exc = mine.error
            log.error("anomaly counts unavailable, entry of %s not counted: %s: %s", entry.principal,
                      type(exc).__name__, " ".join(str(exc).split()))
            return []
        fired = mine.fired
        self._prune(seconds, settings)
        return [Alert(kind, entry.principal, count, rules[kind].window_seconds,
                      alert_message(kind, entry.principal, count, rules[kind].window_seconds))
                for kind, count in fired]

    def _count(self, mine: _Observation) -> None:
        """Count `mine`, with whatever else is waiting. Calls at once each waited for the principal's transaction in
        turn; now one thread at a time counts every waiting observation (one transaction per principal among them)
        while the others sleep until theirs is done.

        Nothing is left waiting and no thread counts for ever: the counting thread, once its own entry is done,
        hands the counting over to the first one still waiting (its wake-up) or, if none is, stops counting — under
        `_mutex`, where a newcomer finding no one counting starts counting itself."""
        with self._mutex:
            self._waiting.append(mine)
            counting = not self._leading
            self._leading = True
        if not counting:
            mine.wake.acquire()  # counted, or asked to take over the counting
            if mine.done:
                return
        else:
            # Calls come in groups (the access log answers a batch of them at once): give up the GIL once, so that
            # those just behind queue now and are counted with this one, not in a transaction of their own after it
            # (on PostgreSQL at 16 in flight: half the transactions counted one entry without this, a tenth with it).
            time.sleep(0)
        while True:
            leaving = True
            try:
                self._count_waiting()
                leaving = mine.done
            finally:
                with self._mutex:
                    successor = None
                    if not self._waiting:
                        self._leading = False
                    elif leaving:
                        successor = self._waiting[0]  # still queued: nobody else releases its wake-up now
                if successor is not None:
                    successor.wake.release()
            if leaving:
                return

    def _count_waiting(self) -> None:
        """(the counting thread) Count up to MAX_BATCH waiting observations, each principal's in their order; every
        one taken is finished, counted or with the error that stopped it."""
        with self._mutex:
            taken = [self._waiting.popleft() for _ in range(min(len(self._waiting), MAX_BATCH))]
        groups: list[list[_Observation]] = []
        by_principal: dict[str, list[_Observation]] = {}
        for o in taken:
            last = by_principal.get(o.principal)
            if last is None or last[-1].cooldown != o.cooldown:  # a policy reload between two: counted apart, in order
                last = by_principal[o.principal] = []
                groups.append(last)
            last.append(o)
        for group in groups:
            principal, cooldown = group[0].principal, group[0].cooldown
            try:
                self.batches += 1
                if len(group) == 1:
                    results = [self._counter.count_anomalies(principal, group[0].now, group[0].tallies, cooldown)]
                else:
                    results = self._counter.count_anomalies_many(
                        principal, [(o.now, o.tallies) for o in group], cooldown)
                if len(results) != len(group):
                    raise SharedAnomalyError(f"{len(results)} counts for {len(group)} entries")
            except BaseException as exc:
                self.failures += len(group)  # here, in the one counting thread: no count is lost to a race
                for o in group:
                    o.finish(None, exc)
                if not isinstance(exc, Exception):
                    for o in taken:
                        if not o.done:
                            o.finish(None, exc)
                    raise
                continue
            for o, fired in zip(group, results, strict=True):
                o.finish(fired)

    def _prune(self, seconds: float, settings: AnomalySettings) -> None:
        """Now and then (by entry time), forget principals idle beyond every window and the cooldown; one thread
        at a time, the others go on without waiting."""
        if seconds < self._next_prune or not self._pruning.acquire(blocking=False):
            return
        try:
            forgotten = self._counter.prune_anomalies(seconds - settings.horizon(), PRUNE_BATCH)
            if forgotten < PRUNE_BATCH:
                self._next_prune = seconds + PRUNE_EVERY_SECONDS
        except Exception as exc:  # pruning is housekeeping: the next pass tries again
            log.error("anomaly counts: pruning idle principals failed: %s: %s", type(exc).__name__,
                      " ".join(str(exc).split()))
        finally:
            self._pruning.release()


def anomaly_watch(settings: AnomalySettings, store: object, *, backend: str, force_shared: bool = False,
                  history: Callable[[], Iterable[AccessEntry]] = tuple) -> AnomalyWatch:
    """The detector a gateway uses: shared through the store on PostgreSQL (several replicas may serve one
    database) or when `force_shared` (pre-forked workers on SQLite); else one process's memory, warmed with
    `history` (the recent access log; the alerts it sets off were logged when they fired)."""
    if backend == "postgres" or force_shared:
        if not isinstance(store, AnomalyCounter):
            raise SharedAnomalyError(f"the {backend} store cannot keep anomaly counts shared between processes")
        return SharedAnomalyDetector(settings, store)
    detector = AnomalyDetector(settings)
    detector.scan(history())
    return detector
