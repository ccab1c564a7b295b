"""The access log signs each batch on top of the stored head: a head whose note is exactly the one this process
signed and committed is taken without verifying its signature again (gateway/audit/log.py `_head`); any other
text is verified as before, so a head replaced by someone else is still refused. Real SQLite files."""
from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import gateway.audit.log as audit_log
from gateway.audit.checkpoint import Checkpoint, sign_checkpoint
from gateway.audit.log import AuditLog, LogUnavailable
from gateway.datadir import DataDir
from gateway.store.sqlite import SqliteStore
from tests import helpers
from tests.helpers import log_entry

store = helpers.sqlite_store  # the fixture: the data directory's SQLite store

HOUR = 3600.0


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The notes the log verifies a signature of."""
    seen: list[bytes] = []
    real: Callable[..., Checkpoint] = audit_log.verify_checkpoint

    def counting(note: bytes, *args: object, **kwargs: object) -> Checkpoint:
        seen.append(note)
        return real(note, *args, **kwargs)

    monkeypatch.setattr(audit_log, "verify_checkpoint", counting)
    return seen


def test_a_head_this_process_committed_is_not_verified_again(store: SqliteStore, verified: list[bytes]) -> None:
    log = AuditLog(store, "permitgw.test/own", Ed25519PrivateKey.generate(), every_seconds=HOUR)
    try:
        for i in range(6):
            assert log.append(log_entry(i)) == i + 1
        assert verified == [], "a note this process signed and committed was verified again"
        assert log.checkpoint().size == 6
    finally:
        log.close()


def test_a_head_replaced_by_someone_else_is_verified_and_refused(store: SqliteStore, data: DataDir,
                                                                 verified: list[bytes]) -> None:
    log = AuditLog(store, "permitgw.test/own", Ed25519PrivateKey.generate(), every_seconds=HOUR)
    try:
        log.append(log_entry(0))
        head = log.checkpoint()
        forged = sign_checkpoint(Checkpoint(head.origin, head.size, head.root), head.origin,
                                 Ed25519PrivateKey.generate())  # same head, another key
        other = sqlite3.connect(str(data.database), isolation_level=None)
        try:
            assert other.execute("UPDATE checkpoints SET note = ? WHERE size = ?",
                                 (forged.decode("utf-8"), head.size)).rowcount == 1
        finally:
            other.close()
        with pytest.raises(LogUnavailable):
            log.append(log_entry(1))
        assert verified == [forged], "the replaced note was not verified"
        assert store.log_size() == 1, "nothing was signed on top of a head this gateway did not sign"
    finally:
        log.close()
