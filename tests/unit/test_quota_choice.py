"""The one place a serving process picks its quota counter: the database's on PostgreSQL (replicas share it) or
when asked for (workers sharing one SQLite file); otherwise the in-memory tracker, replayed from the access log."""
from __future__ import annotations

from collections.abc import Iterator

from gateway.server.quota_choice import Access, quota_counter
from gateway.watch.quotas import QuotaTracker
from gateway.watch.shared_quotas import SharedQuotaCounter
from tests.fakes import FakeQuotaLedger
from tests.unit.test_quotas import T0, FakeClock, make_settings

SETTINGS = make_settings(school=(1, 10))


class History:
    """The last day of the access log, noting whether anyone read it."""

    def __init__(self) -> None:
        self.read = False

    def __call__(self) -> Iterator[Access]:
        self.read = True
        yield (T0 - 60, "school/1/A", "school", "ab" * 32, "allow")


def test_postgres_counts_in_the_database_and_replays_nothing() -> None:
    history, ledger = History(), FakeQuotaLedger()
    counter = quota_counter(SETTINGS, ledger, "postgres", clock=FakeClock(), history=history)  # type: ignore[arg-type]
    assert isinstance(counter, SharedQuotaCounter) and not history.read
    assert counter.check("school/1/A", "school", "cd" * 32).allowed
    assert set(ledger.seen["school/1/A"]) == {"cd" * 32}


def test_sqlite_keeps_the_in_memory_tracker_rebuilt_from_the_log() -> None:
    history, ledger = History(), FakeQuotaLedger()
    counter = quota_counter(SETTINGS, ledger, "sqlite", clock=FakeClock(), history=history)  # type: ignore[arg-type]
    assert isinstance(counter, QuotaTracker) and history.read
    assert not counter.check("school/1/A", "school", "cd" * 32).allowed  # the replayed ask filled the hour
    assert ledger.transactions == 0


def test_sqlite_shared_on_request_for_several_workers() -> None:
    history, ledger = History(), FakeQuotaLedger()
    counter = quota_counter(SETTINGS, ledger, "sqlite", clock=FakeClock(), history=history,  # type: ignore[arg-type]
                            shared=True)
    assert isinstance(counter, SharedQuotaCounter) and not history.read
