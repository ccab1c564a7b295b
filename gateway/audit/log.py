"""The durable access log: group commit, each batch committed together with its own signed checkpoint.

A handler's append returns only after its entry is committed with fsync, so no answer leaves before its
entry is on disk; concurrent appends share one transaction, so throughput stays high under load. The batch's
checkpoint is signed inside that transaction, and only on top of a validly signed head: no committed entry is
ever outside a signature, and rows written into the database by anyone else are never signed.
"""
from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import attestation
from gateway.audit.checkpoint import (
    Checkpoint,
    CheckpointGuard,
    InconsistentCheckpointError,
    NoteError,
    sign_checkpoint,
    verifier_key,
    verify_checkpoint,
)
from gateway.audit.entry import AccessEntry
from gateway.audit.rfc9162 import SubtreeSource, consistency_proof, root, verify_consistency
from gateway.store.port import Store

log = logging.getLogger("permitgw.audit")


def log_origin(ca_cert_pem: bytes) -> str:
    """The log's name in checkpoints: stable for a gateway, distinct between gateways (its CA)."""
    der = x509.load_pem_x509_certificate(ca_cert_pem).public_bytes(serialization.Encoding.DER)
    return f"permitgw.ningbo/{hashlib.sha256(der).hexdigest()[:16]}"


@dataclass
class _Pending:
    entry: AccessEntry
    done: threading.Event = field(default_factory=threading.Event)
    seq: int = 0
    error: BaseException | None = None


class AuditLog:
    def __init__(self, store: Store, origin: str, key: Ed25519PrivateKey, *, every_entries: int = 1000,
                 every_seconds: float = 10.0, max_batch: int = 512,
                 on_signed: Callable[[bytes], None] | None = None) -> None:
        self.store, self.origin, self._key = store, origin, key
        self._on_signed = on_signed  # e.g. hand each new checkpoint to the witnesses (gateway/audit/witnessing.py)
        self._proof_source: SubtreeSource = store
        self._signing: tuple[Checkpoint, bytes, bool] | None = None  # the batch's head, its note, kept as a row?
        self.every_entries, self.every_seconds, self.max_batch = every_entries, every_seconds, max_batch
        self.verifier = verifier_key(origin, key.public_key())
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._sign_lock = threading.Lock()
        last = store.checkpoints()[-1:]
        head = Checkpoint(origin, last[0][0], last[0][1]) if last else None
        self._guard = CheckpointGuard(self._consistent, last=head)
        self._last_signed_at = time.monotonic()
        # Every batch signs a head; a head's row is kept at least every N entries or T seconds, and in between
        # each head replaces the previous one, so the checkpoints table grows as slowly as it always did.
        self._kept_size, self._kept_at, self._interim = self.signed_size, time.monotonic(), None
        self.batches = 0
        self._thread = threading.Thread(target=self._run, name="audit-log", daemon=True)
        self._thread.start()

    # --- appending ---------------------------------------------------------------------------------
    def append(self, entry: AccessEntry) -> int:
        """Queue the entry, wait until its batch is committed (fsync), return its sequence number."""
        pending = _Pending(entry)
        self._queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.seq

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=max(self.every_seconds, 0.05))
            except queue.Empty:
                self._maybe_checkpoint()
                continue
            if first is None:
                self._maybe_checkpoint(force=True)
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            self._commit(batch)
            self._maybe_checkpoint()

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            self._signing = None
            seqs = self.store.append_accesses([p.entry for p in batch], sign=self.sign_batch)
        except BaseException as exc:  # nothing was committed: every waiter hears of it, none is answered
            log.exception("access log append failed")
            for p in batch:
                p.error = exc
                p.done.set()
            return
        self._signed(self._signing)
        self.batches += 1
        for p, seq in zip(batch, seqs, strict=True):
            p.seq = seq
            p.done.set()

    # --- checkpoints ---------------------------------------------------------------------------------
    def _consistent(self, old: int, new: int, old_root: bytes, new_root: bytes) -> bool:
        return verify_consistency(old, new, old_root, new_root, consistency_proof(old, new, self._proof_source))

    def sign_batch(self, before: int, after: int, tree: SubtreeSource,
                   head_note: str | None) -> tuple[bytes, str, int | None]:
        """Inside the batch's transaction: sign the new head, but only on top of a valid signed head of
        exactly the entries before the batch (else raise, and the batch rolls back: nothing is answered)."""
        self._proof_source = tree
        try:
            head = self._head(before, head_note)
            if head is not None:
                self._guard.check(head)  # never a fork of what this process signed
            cp = Checkpoint(self.origin, after, root(after, tree))
            CheckpointGuard(self._consistent, last=head).check(cp)
            note = sign_checkpoint(cp, self.origin, self._key)
        finally:
            self._proof_source = self.store
        keep = after - self._kept_size >= self.every_entries or time.monotonic() - self._kept_at >= self.every_seconds
        self._signing = (cp, note, keep)
        return cp.root, note.decode("utf-8"), self._interim if self._interim == before else None

    def _head(self, before: int, head_note: str | None) -> Checkpoint | None:
        if head_note is None:
            if before:
                raise InconsistentCheckpointError(f"the log holds {before} entries and no signed checkpoint: "
                                                  "refusing to sign entries this gateway did not write")
            return None
        try:
            head = verify_checkpoint(head_note.encode("utf-8"), self.verifier, origin=self.origin)
        except NoteError as exc:
            raise InconsistentCheckpointError(f"the latest stored checkpoint does not verify: {exc}") from exc
        if head.size != before:
            raise InconsistentCheckpointError(
                f"the log holds {before} entries but its latest signed checkpoint covers {head.size}: "
                f"refusing to sign {before - head.size} entries no signature covers")
        return head

    def _signed(self, signing: tuple[Checkpoint, bytes, bool] | None) -> None:
        """The batch committed with its checkpoint: remember it, and pass it on (to the witnesses)."""
        if signing is None:
            return
        self._guard = CheckpointGuard(self._consistent, last=signing[0])
        self._last_signed_at = time.monotonic()
        if signing[2]:
            self._kept_size, self._kept_at, self._interim = signing[0].size, time.monotonic(), None
        else:
            self._interim = signing[0].size
        if self._on_signed is not None:
            self._on_signed(signing[1])

    @property
    def signed_size(self) -> int:
        return self._guard.last.size if self._guard.last else 0

    def _maybe_checkpoint(self, force: bool = False) -> None:
        """Every batch signs its own checkpoint; entries beyond it were written by someone else: say so."""
        size = self.store.log_size()
        if size > self.signed_size and (force or time.monotonic() - self._last_signed_at >= self.every_seconds):
            self._last_signed_at = time.monotonic()
            log.error("the log holds %d entries no signature covers (not written by this gateway): not signing "
                      "them; `permitgw audit verify` reports them", size - self.signed_size)

    def checkpoint(self) -> Checkpoint:
        """The latest checkpoint this gateway signed (each batch signs one as it commits)."""
        with self._sign_lock:
            if self._guard.last is None:
                raise InconsistentCheckpointError("no checkpoint signed yet")
            return self._guard.last

    def checkpoint_at(self, size: int) -> tuple[Checkpoint, bytes] | None:
        """A signed checkpoint of an earlier size whose row was replaced (see __init__), made on demand: signed
        only if a consistency proof shows it is a prefix of the latest head this gateway signed. None if the
        size is not in 1..latest."""
        head = self._guard.last
        if head is None or not 0 < size <= head.size:
            return None
        cp = Checkpoint(self.origin, size, root(size, self.store))
        if not verify_consistency(size, head.size, cp.root, head.root, consistency_proof(size, head.size, self.store)):
            raise InconsistentCheckpointError(f"the stored tree at size {size} is not a prefix of the signed head")
        return cp, sign_checkpoint(cp, self.origin, self._key)

    def attest(self, entry: AccessEntry, seq: int) -> bytes:
        """A signed attestation of a logged decision (gateway/audit/attestation.py)."""
        return attestation.sign(entry, seq, self.origin, self._key)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)
