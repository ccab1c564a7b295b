"""Which quota counter a serving process uses: the one place the choice is made.

On PostgreSQL every replica shares the database, so quotas are counted there (gateway.watch.shared_quotas): one
count for the whole gateway, exact at the boundary. On SQLite a single serving process keeps the in-memory tracker
(gateway.watch.quotas: no database round trip per call), rebuilt at start from the last day of the access log;
`shared` forces the database counter there too, for pre-forked workers (`serve --workers N`, N > 1) that share one
SQLite file. The shared counter needs no replay: its rows survive a restart.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from gateway.store.port import Store
from gateway.watch.quotas import QuotaCounter, QuotaSettings, QuotaTracker
from gateway.watch.shared_quotas import SharedQuotaCounter

Access = tuple[float, str, str, str, str]  # (epoch seconds, principal, role, subjects space-separated, decision)


def quota_counter(settings: QuotaSettings, store: Store, backend: str, *, clock: Callable[[], float],
                  history: Callable[[], Iterable[Access]], shared: bool = False) -> QuotaCounter:
    """The counter for this process: shared in the database when `backend` is postgres or `shared` is asked for,
    else in memory, replayed from `history` (the last day of the access log; read only then)."""
    if backend == "postgres" or shared:
        return SharedQuotaCounter(settings, store, clock=clock)
    tracker = QuotaTracker(settings, clock=clock)
    tracker.replay(history())  # a restart does not reset anyone's quota
    return tracker
