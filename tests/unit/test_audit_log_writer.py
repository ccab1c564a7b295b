"""The access log's writer thread under store failures (a fake store that fails on command, no database).

The writer must never die: a failed batch fails exactly its callers with LogUnavailable and is never retried
(no entry twice); health follows what the writer sees; it heals by itself; no append and no close waits forever.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import attestation
from gateway.audit.entry import AccessEntry
from gateway.audit.log import WRITER_NICENESS, AuditLog, LogUnavailable
from gateway.audit.port import HeadSigner
from gateway.audit.rfc9162 import MemoryTree, leaf_hash
from gateway.store.port import StoreUnavailable
from tests.helpers import wait_until


def entry(i: int) -> AccessEntry:
    return AccessEntry(f"2026-11-21T08:00:{i % 60:02d}.000000Z", "school/330203/S1", "ab", "school", "S1", "330203",
                       "/permitgw.v1.PermitService/GetPermitStatus", "compulsory-education", f"case-{i}", "op", "",
                       "allow", "OK", "v1")


class FlakyStore:
    """The access-log part of the storage port, in memory; `down` makes every call fail as a lost database."""

    def __init__(self) -> None:
        self.entries: list[AccessEntry] = []
        self.tree = MemoryTree()
        self.down = False
        self.lost_ack = False  # commit, then fail as if the acknowledgement were lost
        self.appends = 0
        self.block: threading.Event | None = None  # append waits on it (a database gone silent)
        self.notes: list[tuple[int, bytes, str]] = []  # signed checkpoints (size, root, note)

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("PostgreSQL is unreachable")

    def append_accesses(self, entries: Sequence[AccessEntry], sign: HeadSigner | None = None,
                        leaves: Sequence[bytes] | None = None) -> list[int]:
        if self.block is not None:
            self.block.wait(30)
        self._check()
        self.appends += 1
        start = len(self.entries)
        for e in entries:
            self.entries.append(e)
            self.tree.append(leaf_hash(e.canonical_bytes()))
        if sign is not None and entries:  # the batch's checkpoint, signed "in the transaction" as the stores do
            head = self.notes[-1][2] if self.notes else None
            root, note, drop = sign(start, len(self.entries), self.tree, head)
            self.notes = [c for c in self.notes if c[0] != drop]
            self.notes.append((len(self.entries), root, note))
        if self.lost_ack:
            raise StoreUnavailable("PostgreSQL connection lost")
        return list(range(start + 1, len(self.entries) + 1))

    def log_size(self) -> int:
        self._check()
        return len(self.entries)

    def subtree(self, level: int, index: int) -> bytes:
        self._check()
        return self.tree.subtree(level, index)

    def checkpoints(self) -> list[tuple[int, bytes, str]]:
        return list(self.notes)

    def add_checkpoint(self, size: int, root: bytes, note: str) -> None:
        self._check()


class Health:
    def __init__(self) -> None:
        self.seen: list[bool] = []
        self.changed = threading.Condition()

    def __call__(self, healthy: bool) -> None:
        with self.changed:
            self.seen.append(healthy)
            self.changed.notify_all()

    def wait_for(self, healthy: bool, seconds: float = 10) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.seen[-1:] == [healthy], timeout=seconds), self.seen


@pytest.fixture
def store() -> FlakyStore:
    return FlakyStore()


@pytest.fixture
def audit(store: FlakyStore) -> Iterator[AuditLog]:
    log = AuditLog(store, "permitgw.test/log", Ed25519PrivateKey.generate(), every_entries=1000,
                   every_seconds=0.05, wait_seconds=10)
    yield log
    log.close()


def test_the_writer_survives_a_store_failure_while_idle_and_heals(store: FlakyStore, audit: AuditLog) -> None:
    """The defect: a failure in the idle checkpoint check killed the writer; every later append waited forever."""
    health = Health()
    audit.watch(health)
    assert audit.append(entry(1)) == 1
    store.down = True
    health.wait_for(False)  # the idle check found it, the writer is still running
    with pytest.raises(LogUnavailable):
        audit.append(entry(2))
    store.down = False
    health.wait_for(True)  # it probes by itself: no call needed to heal
    assert audit.append(entry(3)) == 2
    assert [e.case_id for e in store.entries] == ["case-1", "case-3"]


def test_a_failed_batch_fails_its_callers_and_is_never_retried(store: FlakyStore, audit: AuditLog) -> None:
    store.lost_ack = True  # the commit happened but the writer cannot know
    with pytest.raises(LogUnavailable):
        audit.append(entry(1))
    store.lost_ack = False
    wait_until(lambda: audit.healthy, "the log to heal", 10)
    assert audit.append(entry(2)) == 2
    assert [e.case_id for e in store.entries] == ["case-1", "case-2"], "an entry was appended twice"
    assert store.appends == 2


def test_while_unwritable_appends_fail_at_once(store: FlakyStore, audit: AuditLog) -> None:
    store.down = True
    wait_until(lambda: not audit.healthy, "the log to turn unhealthy", 10)
    started = time.monotonic()
    for i in range(20):
        with pytest.raises(LogUnavailable):
            audit.append(entry(i))
    assert time.monotonic() - started < 5, "appends waited while the log was known to be unwritable"
    assert store.entries == []


def test_no_append_waits_forever_on_a_silent_store(store: FlakyStore) -> None:
    store.block = threading.Event()
    audit = AuditLog(store, "permitgw.test/log", Ed25519PrivateKey.generate(), every_seconds=60, wait_seconds=0.5)
    try:
        with pytest.raises(LogUnavailable, match="did not confirm"):
            audit.append(entry(1))
    finally:
        store.block.set()
        audit.close()


def test_close_is_prompt_while_the_store_is_down_and_later_appends_are_refused(store: FlakyStore,
                                                                              audit: AuditLog) -> None:
    audit.append(entry(1))
    store.down = True
    wait_until(lambda: not audit.healthy, "the log to turn unhealthy", 10)
    started = time.monotonic()
    audit.close(timeout=10)
    assert time.monotonic() - started < 5
    with pytest.raises(LogUnavailable, match="closed"):
        audit.append(entry(2))


def test_a_listener_hears_the_current_state_at_once(audit: AuditLog) -> None:
    health = Health()
    audit.watch(health)
    assert health.seen == [True]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are a Linux feature")
def test_the_writer_runs_below_the_threads_that_answer(audit: AuditLog) -> None:
    """So that on a busy core the callers queue their entries before the next batch is taken (fuller batches)."""
    assert audit.append(entry(1)) == 1
    writer = audit._thread.native_id
    assert writer is not None and writer != threading.get_native_id()
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert os.getpriority(os.PRIO_PROCESS, writer) == max(own, WRITER_NICENESS)


def test_append_leaf_gives_the_sequence_number_and_the_leaf_the_log_stored(store: FlakyStore,
                                                                           audit: AuditLog) -> None:
    first = audit.append(entry(1))
    seq, leaf = audit.append_leaf(entry(2))
    assert seq == first + 1 and leaf == leaf_hash(entry(2).canonical_bytes())
    attested = attestation.read(audit.attest(entry(2), seq, leaf), audit.verifier)
    assert attested == attestation.read(audit.attest(entry(2), seq), audit.verifier)  # the same statement
    assert attested["leaf"] == leaf.hex() and attested["index"] == seq - 1
