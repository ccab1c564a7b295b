"""Anomaly alerts on the combined traffic of every gateway process on one database, and the choice of detector.

Replicas behind a load balancer (or pre-forked workers) each see a share of a principal's calls: counted in each
process's memory, a burst spread over N of them stays below every threshold. `SharedAnomalyDetector` applies the
same rules as anomalies.AnomalyDetector — which kinds an entry counts towards, office hours, thresholds, windows,
cooldown, messages — but keeps the windows in the database (store/anomaly_counts.py behind the `AnomalyCounter`
port), where a principal's observations are counted in transactions serialised per principal (those made at once
in one): the counts are of every process's
entries, and a threshold crossing raises exactly one alert in the whole cluster, in the process that crossed it.

`anomaly_watch` decides which detector a gateway uses: the shared one on PostgreSQL (replicas), or when forced
(`serve --workers N` on SQLite: pre-forked workers share one database file); otherwise one process's memory,
warmed from the last day of the access log.
"""
from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

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
from gateway.watch.combining import Combiner

log = logging.getLogger("permitgw.watch")

Tally = tuple[str, tuple[str, ...] | None, int, int]
"""What one entry counts towards: (kind, its distinct subjects — or None to count the request, threshold, window
in seconds); the store's anomaly_counts.Tally."""

PRUNE_EVERY_SECONDS = 60.0  # of entry time: how often a process removes idle principals' windows
PRUNE_BATCH = 200  # principals removed per pass at most (a pass that fills it is followed by another at once)
MAX_BATCH = 64  # observations one thread counts for the others at most, before it lets another take over


class _Observation(NamedTuple):
    """One entry to count: its principal, time, tallies and the cooldown of the settings it was made with."""

    principal: str
    now: float
    tallies: list[Tally]
    cooldown: float


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
        # Calls at once each waited for the principal's transaction in turn; now one thread counts every waiting
        # observation, a principal's in one transaction (gateway/watch/combining.py).
        self._combiner: Combiner[_Observation, list[tuple[str, int]]] = Combiner(
            self._count_batch, lambda o: (o.principal, o.cooldown), max_batch=MAX_BATCH)

    @property
    def batches(self) -> int:
        """Transactions made to count the observations."""
        return self._combiner.batches

    @property
    def waiting(self) -> int:
        """Observations queued for the counting thread."""
        return self._combiner.waiting

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
        try:
            fired = self._combiner.submit(_Observation(entry.principal, seconds, tallies, settings.cooldown_seconds))
        except Exception as exc:  # any failure of the database: log it, never fail the call
            log.error("anomaly counts unavailable, entry of %s not counted: %s: %s", entry.principal,
                      type(exc).__name__, " ".join(str(exc).split()))
            return []
        self._prune(seconds, settings)
        return [Alert(kind, entry.principal, count, rules[kind].window_seconds,
                      alert_message(kind, entry.principal, count, rules[kind].window_seconds))
                for kind, count in fired]

    def _count_batch(self, batch: list[_Observation]) -> list[list[tuple[str, int]]]:
        """(the combiner's working thread) Count a principal's observations, made with one cooldown, in order."""
        try:
            return self._counter.count_anomalies_many(batch[0].principal, [(o.now, o.tallies) for o in batch],
                                                      batch[0].cooldown)
        except Exception:
            self.failures += len(batch)  # here, in the one working thread: no count is lost to a race
            raise

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
