"""Several writers on one access log (serve --workers: one AuditLog per process, one store), on both backends.

Each log here has its own store connection, as each worker process has: appends are serialised by the store and
each batch signs on top of whatever head is stored, whoever signed it. What a single writer could assume — "every
entry beyond the head I signed was written by someone else" — no longer holds, and must not raise false alarms,
nor keep one log from proving what its sibling signed.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from gateway.audit.checkpoint import verify_checkpoint
from gateway.audit.log import AuditLog, log_origin
from gateway.audit.verify import verify_log
from gateway.datadir import DataDir
from gateway.store.port import Store
from tests.integration.test_store_backends import backend, entry, opener, pg_dsn, pg_schema  # noqa: F401

HOUR = 3600.0  # checkpoint_seconds long enough that no row is kept for time during a test


@pytest.fixture
def two(opener: Callable[[], Store], data: DataDir) -> Iterator[tuple[Store, Store]]:  # noqa: F811
    stores = (opener(), opener())
    yield stores
    for s in stores:
        s.close()


def writer(store: Store, data: DataDir) -> AuditLog:
    return AuditLog(store, log_origin((data.keys / "ca.crt").read_bytes()), data.signing_key(),
                    every_entries=1000, every_seconds=HOUR)


def test_two_writers_append_concurrently_every_entry_once_and_the_log_verifies(
        two: tuple[Store, Store], data: DataDir, caplog: pytest.LogCaptureFixture) -> None:
    logs = [writer(s, data) for s in two]
    go = threading.Barrier(len(logs) * 4)
    seqs: list[int] = []
    errors: list[BaseException] = []

    def calls(log: AuditLog, n: int) -> None:
        go.wait()
        try:
            for k in range(25):
                seqs.append(log.append(entry(1000 * n + k, principal=f"w/{n}/x")))
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=calls, args=(logs[n % 2], n)) for n in range(8)]
    with caplog.at_level(logging.WARNING, logger="permitgw.audit"):
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for log in logs:
            log.close()
    assert not errors, errors
    assert sorted(seqs) == list(range(1, 201)), "every call got its own place in the log"
    assert sorted(e.case_id for _, _, e in two[0].leaf_hashes()) == sorted(
        f"case-{1000 * n + k}" for n in range(8) for k in range(25))
    report = verify_log(two[1], data.log_verifier())
    assert report.ok and report.size == 200 and report.unsigned == 0, report.problems
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


def test_a_writer_idle_while_its_sibling_appends_reports_nothing_unsigned(
        two: tuple[Store, Store], data: DataDir, caplog: pytest.LogCaptureFixture) -> None:
    """The defect: a worker that had not written lately took its sibling's entries for rows nobody signed."""
    a, b = writer(two[0], data), writer(two[1], data)
    a.append(entry(1))
    for k in range(2, 6):
        b.append(entry(k))
    with caplog.at_level(logging.WARNING, logger="permitgw.audit"):
        a.close()  # closing looks at the log one last time (force): it must take on b's head, not complain
    b.close()
    assert not [r.getMessage() for r in caplog.records if "no signature covers" in r.getMessage()]
    assert verify_log(two[0], data.log_verifier()).ok


def test_rows_no_signature_covers_are_still_reported_with_several_writers(
        two: tuple[Store, Store], data: DataDir, caplog: pytest.LogCaptureFixture) -> None:
    a, b = writer(two[0], data), writer(two[1], data)
    a.append(entry(1))
    b.append(entry(2))
    two[1].append_accesses([entry(3)])  # written into the database by someone without the key: no checkpoint
    with caplog.at_level(logging.WARNING, logger="permitgw.audit"):
        a.close()
    b.close()
    said = [r.getMessage() for r in caplog.records if "no signature covers" in r.getMessage()]
    assert said and "holds 1 entries" in said[0], said


def test_a_writer_proves_a_head_its_sibling_signed_and_replaced(two: tuple[Store, Store], data: DataDir) -> None:
    """GetCheckpoint(size) for a size whose row a later head replaced is signed again on demand — also when the
    worker answering it did not sign that head itself."""
    a, b = writer(two[0], data), writer(two[1], data)
    try:
        a.append(entry(1))
        for k in range(2, 5):
            b.append(entry(k))  # heads 2, 3, 4 signed by b; 2 and 3 replaced by the next (interim rows)
        sizes = [size for size, _, _ in two[0].checkpoints()]
        assert 3 not in sizes and sizes[-1] == 4, sizes
        made = a.checkpoint_at(3)
        assert made is not None, "a could not sign size 3: it knew only the head of size 1 it signed itself"
        cp = verify_checkpoint(made[1], data.log_verifier())
        assert (cp.size, made[0].root) == (3, cp.root)
        assert a.checkpoint_at(5) is None  # beyond every signed head: nothing
    finally:
        a.close()
        b.close()


def test_writers_taking_turns_keep_the_checkpoints_table_as_small_as_one_writer_does(
        two: tuple[Store, Store], data: DataDir) -> None:
    """A head a sibling signed is replaced like one's own: alternating writers do not keep a row per batch."""
    logs = [writer(s, data) for s in two]
    try:
        for k in range(60):  # one entry a batch, the writers strictly alternating
            logs[k % 2].append(entry(k, principal=f"w/{k % 2}/x"))
    finally:
        for log in logs:
            log.close()
    rows = two[0].checkpoints()
    assert rows[-1][0] == 60
    assert len(rows) <= 3, [size for size, _, _ in rows]  # 60 entries < every_entries: the latest, not one per batch
    report = verify_log(two[1], data.log_verifier())
    assert report.ok and report.unsigned == 0, report.problems


def test_a_head_at_a_multiple_of_every_entries_stays_whichever_writer_signed_it(
        two: tuple[Store, Store], data: DataDir) -> None:
    logs = [AuditLog(s, log_origin((data.keys / "ca.crt").read_bytes()), data.signing_key(),
                     every_entries=10, every_seconds=HOUR) for s in two]
    try:
        for k in range(35):
            logs[k % 2].append(entry(k, principal=f"w/{k % 2}/x"))
    finally:
        for log in logs:
            log.close()
    sizes = [size for size, _, _ in two[0].checkpoints()]
    assert sizes[-1] == 35
    # the last head before each boundary of 10 entries is kept as a row, and little else
    assert {9, 19, 29} <= set(sizes) or {10, 20, 30} <= set(sizes), sizes
    assert len(sizes) <= 8, sizes
