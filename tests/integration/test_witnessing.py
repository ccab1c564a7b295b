"""Witnessing with real files, a real HTTP witness (in-process) and real SQLite and PostgreSQL stores.

Each batch commits with its own signed checkpoint, or not at all; the witness's state survives a restart; the
gateway keeps cosignatures beside its checkpoints and outside the database.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.audit.checkpoint import InconsistentCheckpointError, verify_checkpoint
from gateway.audit.cosignature import verify_cosigned
from gateway.audit.entry import AccessEntry
from gateway.audit.log import AuditLog, LogUnavailable, log_origin
from gateway.audit.rfc9162 import MemoryTree, leaf_hash
from gateway.audit.witness import AddCheckpoint
from gateway.audit.witness_files import Witness, WitnessDir, init
from gateway.audit.witness_http import add_checkpoint, start
from gateway.audit.witnessing import Submitter, WitnessRef, anchor_file, local_anchor
from gateway.datadir import DataDir
from gateway.store.port import Store
from tests.helpers import wait_until
from tests.integration.test_store_backends import Opener, backend, opener, pg_dsn, pg_schema  # noqa: F401


def _entry(i: int) -> AccessEntry:
    return AccessEntry(f"2026-11-21T08:00:{i % 60:02d}.000000Z", "school/330203/S1", "ab", "school", "S1", "330203",
                       "permitgw.v1.PermitService/GetPermitStatus", "compulsory-education", f"C-{i}", "", "",
                       "allow", "S-1", "sha256:0")


@pytest.fixture
def log_store(opener: Opener) -> Iterator[Store]:  # noqa: F811 - the fixture imported above
    """The data directory's store on each backend (SQLite, PostgreSQL)."""
    opened = opener()
    yield opened
    opened.close()


@pytest.fixture
def witness(tmp_path: Path, data: DataDir) -> Iterator[tuple[WitnessRef, WitnessDir]]:
    wdir = WitnessDir(tmp_path / "witness")
    init(wdir.root, "audit.ningbo/w1", [data.log_verifier()])
    server, port = start(Witness(wdir, now=lambda: 1_800_000_000), "127.0.0.1:0")
    yield WitnessRef(wdir.name(), wdir.verifier_key(), f"127.0.0.1:{port}"), wdir
    server.shutdown()
    server.server_close()


def test_every_batch_commits_with_its_signed_checkpoint(log_store: Store, data: DataDir) -> None:
    log = AuditLog(log_store, log_origin((data.keys / "ca.crt").read_bytes()), data.signing_key(),
                   every_entries=3, every_seconds=3600)
    try:
        for i in range(7):
            log.append(_entry(i))
            assert log_store.checkpoints()[-1][0] == log_store.log_size() == i + 1  # signed as it committed
    finally:
        log.close()
    cps = log_store.checkpoints()
    assert [s for s, _, _ in cps] == [3, 6, 7]  # a row kept every 3 entries; the heads between replaced
    assert all(verify_checkpoint(n.encode(), data.log_verifier()).size == s for s, _, n in cps)


def test_a_signer_that_refuses_rolls_the_batch_back(log_store: Store) -> None:
    def refuse(*_: object) -> tuple[bytes, str, int | None]:
        raise InconsistentCheckpointError("no")

    with pytest.raises(InconsistentCheckpointError):
        log_store.append_accesses([_entry(1), _entry(2)], sign=refuse)
    assert log_store.log_size() == 0 and log_store.checkpoints() == []


def test_rows_written_by_someone_else_are_never_signed_and_the_log_fails_closed(
        log_store: Store, data: DataDir) -> None:
    log = AuditLog(log_store, log_origin((data.keys / "ca.crt").read_bytes()), data.signing_key())
    try:
        log.append(_entry(1))
        log_store.append_accesses([_entry(99)])  # a database writer appends a forged entry, with correct Merkle nodes
        with pytest.raises(LogUnavailable) as refused:  # the caller gets no answer (UNAVAILABLE)
            log.append(_entry(2))
        assert isinstance(refused.value.__cause__, InconsistentCheckpointError)
        assert "no signature covers" in str(refused.value.__cause__)
    finally:
        log.close()
    assert log_store.log_size() == 2 and log_store.checkpoints()[-1][0] == 1  # the forged row stays unsigned


def test_checkpoints_are_cosigned_and_kept_beside_the_checkpoint_and_outside_the_database(
        log_store: Store, data: DataDir, witness: tuple[WitnessRef, WitnessDir]) -> None:
    ref, wdir = witness
    submitter = Submitter(data.root, [ref], data.log_verifier(), log_store, retry_seconds=0.05)
    log = AuditLog(log_store, log_origin((data.keys / "ca.crt").read_bytes()), data.signing_key(),
                   on_signed=submitter.submit)
    try:
        for i in range(5):
            log.append(_entry(i))
        wait_until(lambda: log_store.checkpoints()[-1][2].count("\u2014 ") == 2, "the cosignature to be stored")
    finally:
        log.close()
        submitter.close()
    assert local_anchor(data.root, ref, data.log_verifier())[0].size == 5  # type: ignore[index]
    assert verify_cosigned(anchor_file(data.root, ref.name).read_bytes(), data.log_verifier(), ref.verifier_key)
    stored = log_store.checkpoints()[-1][2]
    assert verify_cosigned(stored, data.log_verifier(), ref.verifier_key)[0].size == 5
    assert wdir.heads()[log.origin].size == 5


def test_a_restarted_witness_remembers_and_refuses_a_fork(tmp_path: Path, data: DataDir,
                                                         witness: tuple[WitnessRef, WitnessDir]) -> None:
    from gateway.audit.checkpoint import Checkpoint, sign_checkpoint

    ref, wdir = witness
    origin, key = log_origin((data.keys / "ca.crt").read_bytes()), data.signing_key()
    honest = MemoryTree(leaf_hash(b"%d" % i) for i in range(8))
    forged = MemoryTree(leaf_hash(b"x%d" % i) for i in range(8))

    def note(t: MemoryTree, n: int) -> bytes:
        return sign_checkpoint(Checkpoint(origin, n, t.root(n)), origin, key)

    assert add_checkpoint(ref.url, AddCheckpoint(0, (), note(honest, 4)))[0] == 200
    again = Witness(WitnessDir(wdir.root), now=lambda: 1_800_000_001)  # the witness restarts from its files
    fork = AddCheckpoint(4, tuple(forged.consistency_proof(4, 8)), note(forged, 8)).encode()
    assert again.add_checkpoint(fork).status == 422
    assert again.add_checkpoint(AddCheckpoint(0, (), note(honest, 2)).encode()).status == 409
    assert again.add_checkpoint(AddCheckpoint(4, tuple(honest.consistency_proof(4, 8)), note(honest, 8))
                                .encode()).status == 200
    assert (wdir.root / "witness.key").stat().st_mode & 0o777 == 0o600


def test_verify_never_creates_the_database(data: DataDir) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{data.database}{suffix}").unlink(missing_ok=True)
    with pytest.raises(Exception, match="does not exist|is missing"):
        data.open_store(read_only=True)
    assert not data.database.exists()
    sqlite3.connect(data.database).close()  # an empty file: not a gateway database, and left as it was
    with pytest.raises(Exception, match="not a gateway database|is empty"):
        data.open_store(read_only=True)


def test_a_gateway_that_lost_its_saved_cosignature_learns_the_witness_size_from_409(
        log_store: Store, data: DataDir, witness: tuple[WitnessRef, WitnessDir]) -> None:
    ref, wdir = witness
    origin = log_origin((data.keys / "ca.crt").read_bytes())

    def run(n: int) -> None:
        submitter = Submitter(data.root, [ref], data.log_verifier(), log_store, retry_seconds=0.05)
        log = AuditLog(log_store, origin, data.signing_key(), on_signed=submitter.submit)
        try:
            for i in range(n):
                log.append(_entry(i))
            size = log_store.log_size()
            wait_until(lambda: origin in wdir.heads() and wdir.heads()[origin].size == size, f"a cosigned {size}")
        finally:
            log.close()
            submitter.close()

    run(3)
    anchor_file(data.root, ref.name).unlink()  # the gateway forgets what the witness cosigned
    run(2)  # first try says "old 0", the witness answers 409 "3", the second try carries the proof from 3
    assert local_anchor(data.root, ref, data.log_verifier())[0].size == 5  # type: ignore[index]


def test_a_replica_submitting_a_head_older_than_its_siblings_raises_no_false_alarm(
        tmp_path: Path, log_store: Store, data: DataDir, witness: tuple[WitnessRef, WitnessDir],
        caplog: pytest.LogCaptureFixture) -> None:
    """Replicas (or workers) submit their own heads: the witness may already hold a newer one a sibling signed.
    That is no lost entry — the store holds them — and must not be reported as one; a real loss still is."""
    ref, wdir = witness
    origin = log_origin((data.keys / "ca.crt").read_bytes())
    first = Submitter(data.root, [ref], data.log_verifier(), log_store, retry_seconds=0.05)
    log = AuditLog(log_store, origin, data.signing_key(), on_signed=first.submit)
    try:
        for i in range(3):
            log.append(_entry(i))
        wait_until(lambda: origin in wdir.heads() and wdir.heads()[origin].size == 3, "the witness to cosign 3")
        older = log.checkpoint_at(2)
    finally:
        log.close()
        first.close()
    assert older is not None
    sibling_root = tmp_path / "replica-2"
    sibling_root.mkdir()
    sibling = Submitter(sibling_root, [ref], data.log_verifier(), log_store, retry_seconds=0.05)
    with caplog.at_level("DEBUG", logger="permitgw.witness"):
        sibling.submit(older[1])
        sibling.close()  # returns once the newest note was tried
    assert not [r for r in caplog.records if r.levelname == "ERROR"], [r.getMessage() for r in caplog.records]
    assert wdir.heads()[origin].size == 3
