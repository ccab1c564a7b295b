"""The log's writer gathers a batch while entries of accepted calls can still come (arrivals.py), and only then.

A fake store counts the batches. The gather time is long (30 s) wherever a test checks that something does NOT wait
for it: a writer that waited would fail the test's 10 s deadline instead of passing by luck.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.arrivals import Arrival, Arrivals
from gateway.audit.log import AuditLog
from tests.helpers import wait_until
from tests.unit.test_audit_log_writer import FlakyStore, entry

LONG = 30.0


class Caller(threading.Thread):
    """A worker thread serving one accepted call: enters it, appends its entry, leaves."""

    def __init__(self, log: AuditLog, call: Arrival, i: int) -> None:
        super().__init__(daemon=True)
        self.log, self.call, self.i = log, call, i
        self.seq = 0

    def run(self) -> None:
        self.call.enter()
        try:
            self.seq = self.log.append(entry(self.i))
        finally:
            self.call.leave()


@pytest.fixture
def store() -> FlakyStore:
    return FlakyStore()


def open_log(store: FlakyStore, gather: float, threads: int = 4) -> AuditLog:
    return AuditLog(store, "permitgw.test/log", Ed25519PrivateKey.generate(), every_seconds=60, wait_seconds=60,
                    arrivals=Arrivals(threads), gather_seconds=gather)


@pytest.fixture
def log(store: FlakyStore) -> Iterator[AuditLog]:
    audit = open_log(store, LONG)
    yield audit
    audit.close()


def arrivals_of(log: AuditLog) -> Arrivals:
    assert log.arrivals is not None
    return log.arrivals


def test_a_batch_waits_for_the_entry_of_a_call_accepted_meanwhile(store: FlakyStore, log: AuditLog) -> None:
    first, second = arrivals_of(log).expect(), arrivals_of(log).expect()
    a = Caller(log, first, 1)
    a.start()
    wait_until(lambda: log.gathering, "the writer to hold the first entry and wait for the second", 10)
    assert store.appends == 0
    b = Caller(log, second, 2)
    b.start()
    a.join(10)
    b.join(10)
    assert {a.seq, b.seq} == {1, 2}
    assert store.appends == 1, "the two entries were committed in two batches"


def test_a_lone_call_is_committed_at_once(store: FlakyStore, log: AuditLog) -> None:
    call = Caller(log, arrivals_of(log).expect(), 1)
    call.start()
    call.join(10)
    assert call.seq == 1, "a lone call waited for the gather time"


def test_an_append_of_no_expected_call_is_committed_at_once(store: FlakyStore, log: AuditLog) -> None:
    """The console's calls and the log's own alerts are not announced: they do not make a batch wait."""
    assert log.append(entry(1)) == 1


def test_a_call_that_ends_without_logging_stops_the_wait(store: FlakyStore, log: AuditLog) -> None:
    first, second = arrivals_of(log).expect(), arrivals_of(log).expect()
    a = Caller(log, first, 1)
    a.start()
    wait_until(lambda: log.gathering, "the writer to wait for the second call", 10)
    second.enter()
    second.leave()  # aborted before its handler logged anything
    a.join(10)
    assert a.seq == 1 and store.appends == 1


def test_a_call_gRPC_drops_unrun_stops_the_wait(store: FlakyStore, log: AuditLog) -> None:
    arrivals = arrivals_of(log)
    first = arrivals.expect()
    dropped: list[Arrival] = [arrivals.expect()]
    a = Caller(log, first, 1)
    a.start()
    wait_until(lambda: log.gathering, "the writer to wait for the second call", 10)
    dropped.clear()  # gRPC refused it over its concurrency bound: its handler, holding the arrival, is dropped
    a.join(10)
    assert a.seq == 1 and arrivals.expected() == 0


def test_no_wait_when_every_thread_is_in_the_batch(store: FlakyStore) -> None:
    """With one worker thread, a call accepted while that thread waits for its commit cannot start before it."""
    log = open_log(store, LONG, threads=1)
    try:
        arrivals = arrivals_of(log)
        first = arrivals.expect()
        arrivals.expect()  # queued in gRPC for the one thread
        a = Caller(log, first, 1)
        a.start()
        a.join(10)
        assert a.seq == 1
    finally:
        log.close()


def test_the_wait_is_bounded_by_the_gather_time(store: FlakyStore) -> None:
    log = open_log(store, 0.05)
    try:
        arrivals = arrivals_of(log)
        first, stuck = arrivals.expect(), arrivals.expect()
        stuck.enter()  # running, but it will not log before the first call's batch gives up waiting
        a = Caller(log, first, 1)
        a.start()
        a.join(10)
        assert a.seq == 1 and store.appends == 1
        stuck.leave()
    finally:
        log.close()


def test_close_while_gathering_fails_nobody_twice(store: FlakyStore) -> None:
    log = open_log(store, LONG)
    arrivals = arrivals_of(log)
    first, second = arrivals.expect(), arrivals.expect()
    second.enter()
    a = Caller(log, first, 1)
    a.start()
    wait_until(lambda: log.gathering, "the writer to wait for the second call", 10)
    log.close(timeout=10)  # the close marker ends the gathering: the held entry is committed, not lost
    a.join(10)
    assert a.seq == 1 and store.appends == 1
    second.leave()
