"""The durable access log: group commit, and signed checkpoints every N entries or T seconds.

A handler's append returns only after its entry is committed with fsync, so no answer leaves before its
entry is on disk; concurrent appends share one transaction, so throughput stays high under load.
"""
from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import attestation
from gateway.audit.checkpoint import Checkpoint, CheckpointGuard, verifier_key
from gateway.audit.entry import AccessEntry
from gateway.audit.rfc9162 import consistency_proof, root, verify_consistency
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
                 every_seconds: float = 10.0, max_batch: int = 512) -> None:
        self.store, self.origin, self._key = store, origin, key
        self.every_entries, self.every_seconds, self.max_batch = every_entries, every_seconds, max_batch
        self.verifier = verifier_key(origin, key.public_key())
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._sign_lock = threading.Lock()
        last = store.checkpoints()[-1:]
        head = Checkpoint(origin, last[0][0], last[0][1]) if last else None
        self._guard = CheckpointGuard(self._consistent, last=head)
        self._last_signed_at = time.monotonic()
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
            seqs = self.store.append_accesses([p.entry for p in batch])
        except BaseException as exc:  # nothing was committed: every waiter hears of it, none is answered
            log.exception("access log append failed")
            for p in batch:
                p.error = exc
                p.done.set()
            return
        self.batches += 1
        for p, seq in zip(batch, seqs, strict=True):
            p.seq = seq
            p.done.set()

    # --- checkpoints ---------------------------------------------------------------------------------
    def _consistent(self, old: int, new: int, old_root: bytes, new_root: bytes) -> bool:
        return verify_consistency(old, new, old_root, new_root, consistency_proof(old, new, self.store))

    @property
    def signed_size(self) -> int:
        return self._guard.last.size if self._guard.last else 0

    def _maybe_checkpoint(self, force: bool = False) -> None:
        size = self.store.log_size()
        signed = self.signed_size
        due = size - signed >= self.every_entries or time.monotonic() - self._last_signed_at >= self.every_seconds
        if size > signed and (due or force):
            try:
                self.checkpoint()
            except Exception:
                log.exception("checkpoint failed")

    def checkpoint(self) -> Checkpoint:
        """Sign a checkpoint of the log as it is now (never one inconsistent with the last signed)."""
        with self._sign_lock:
            size = self.store.log_size()
            cp = Checkpoint(self.origin, size, root(size, self.store))
            if self._guard.last is not None and self._guard.last.size == size:
                return self._guard.last
            note = self._guard.sign(cp, self.origin, self._key)  # refuses one inconsistent with the last
            self.store.add_checkpoint(cp.size, cp.root, note.decode("utf-8"))
            self._last_signed_at = time.monotonic()
            return cp

    def attest(self, entry: AccessEntry, seq: int) -> bytes:
        """A signed attestation of a logged decision (gateway/audit/attestation.py)."""
        return attestation.sign(entry, seq, self.origin, self._key)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)
