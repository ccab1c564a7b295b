"""The durable access log: group commit, each batch committed together with its own signed checkpoint.

A handler's append returns only after its entry is committed with fsync, so no answer leaves before its
entry is on disk; concurrent appends share one transaction, so throughput stays high under load. The batch's
checkpoint is signed inside that transaction, and only on top of a validly signed head: no committed entry is
ever outside a signature, and rows written into the database by anyone else are never signed.
When the store fails, the callers of the failed batch get LogUnavailable (UNAVAILABLE, no answer), the log
reports itself unhealthy (health turns NOT_SERVING) and the writer heals by itself once the store answers.
"""
from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import attestation
from gateway.audit.arrivals import Arrivals
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
from gateway.audit.port import LogStore
from gateway.audit.rfc9162 import SubtreeSource, consistency_proof, leaf_hash, root, verify_consistency
from gateway.errors import GatewayError

log = logging.getLogger("permitgw.audit")


def log_origin(ca_cert_pem: bytes) -> str:
    """The log's name in checkpoints: stable for a gateway, distinct between gateways (its CA)."""
    der = x509.load_pem_x509_certificate(ca_cert_pem).public_bytes(serialization.Encoding.DER)
    return f"permitgw.ningbo/{hashlib.sha256(der).hexdigest()[:16]}"


WAIT_SECONDS = 30.0  # an append gives up (LogUnavailable) if its batch is not confirmed by then
FIRST_PROBE_SECONDS = 0.1  # while the log cannot be written, the writer tries the store again this soon…
MAX_PROBE_SECONDS = 2.0  # …backing off to at most this
# The writer thread's niceness (Linux, per thread). Below the threads that answer calls, so that on a busy core they
# queue their entries before it takes the next batch (measured once at ~15 entries instead of ~7 at 16 calls in flight;
# on another machine later, 9: what fills the server's batches now is arrivals.py). Alone on an idle core it runs at
# once, so a lone call waits no longer.
WRITER_NICENESS = 19
# How long a batch may wait for the entries of calls the server has accepted and not yet logged (arrivals.py).
GATHER_SECONDS = 0.004


class LogUnavailable(GatewayError):
    """The access log cannot be written right now, so the call must not be answered (UNAVAILABLE).

    The entry may or may not be in the log (a commit whose acknowledgement was lost); it is never appended
    twice, because a failed batch is never retried: its callers are told, and may ask again.
    """


class _Wake:
    """Queued to make a gathering writer look again at whether more entries can come (arrivals.py)."""


_WAKE = _Wake()


class _Pending:
    """One queued entry and its caller's wake-up: a C-level lock taken at creation and released once by the writer
    (a threading.Event would cost a Condition, a deque and two more locks per call — measurable at thousands of
    calls a second)."""

    __slots__ = ("entry", "leaf", "seq", "error", "_done")

    def __init__(self, entry: AccessEntry) -> None:
        self.entry = entry
        self.leaf = leaf_hash(entry.canonical_bytes())  # in the caller's thread, not the writer's
        self.seq = 0
        self.error: BaseException | None = None
        self._done = threading.Lock()
        self._done.acquire()

    def wait(self, timeout: float) -> bool:
        """(caller) True once the writer has finished with this entry, False if it did not within timeout."""
        return self._done.acquire(timeout=timeout)

    def finish(self, seq: int) -> None:
        """(writer thread, once) The entry is committed as number seq."""
        self.seq = seq
        self._done.release()

    def fail(self, error: BaseException) -> None:
        """(writer thread, once) The entry was not committed, or is not known to be."""
        self.error = error
        self._done.release()


def _lower_priority(niceness: int) -> None:
    """Give the calling thread this niceness where the system has per-thread priorities (Linux); else nothing."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError) as exc:  # not Linux, or not allowed: the log works as well, batches smaller
        log.debug("access log writer keeps its priority: %s", exc)


class AuditLog:
    """One writer thread commits queued entries in batches and signs checkpoints.

    The writer never dies on a failure: a failed batch fails exactly its callers with LogUnavailable, the log
    turns unhealthy (`healthy`, and the listeners given to `watch`), and the writer probes the store with
    backoff — failing new entries at once meanwhile — until it can write again.
    """

    def __init__(self, store: LogStore, origin: str, key: Ed25519PrivateKey, *, every_entries: int = 1000,
                 every_seconds: float = 10.0, max_batch: int = 512, wait_seconds: float = WAIT_SECONDS,
                 on_signed: Callable[[bytes], None] | None = None, arrivals: Arrivals | None = None,
                 gather_seconds: float = GATHER_SECONDS) -> None:
        self.store, self.origin, self._key = store, origin, key
        self._on_signed = on_signed  # e.g. hand each new checkpoint to the witnesses (gateway/audit/witnessing.py)
        self._proof_source: SubtreeSource = store
        self._signing: tuple[Checkpoint, bytes, bool] | None = None  # the batch's head, its note, kept as a row?
        self._own_note: tuple[str, Checkpoint] | None = None  # the note of the last head this process committed
        self.every_entries, self.every_seconds, self.max_batch = every_entries, every_seconds, max_batch
        self.wait_seconds = wait_seconds
        self.verifier = verifier_key(origin, key.public_key())
        self._queue: queue.SimpleQueue[_Pending | _Wake | None] = queue.SimpleQueue()  # C-level: no lock dance
        # Without arrivals (tools, tests, benchmarks of the log alone) a batch is what is queued when the writer
        # takes it; with them, the writer waits up to gather_seconds for entries of calls the server accepted.
        self.arrivals, self.gather_seconds = arrivals, gather_seconds
        self.gathering = False  # the writer holds a batch and waits for expected entries (tests, diagnostics)
        if arrivals is not None:
            arrivals.wake = self._wake
        self._sign_lock = threading.Lock()
        last = store.checkpoints()[-1:]
        head = Checkpoint(origin, last[0][0], last[0][1]) if last else None
        self._guard = CheckpointGuard(self._consistent, last=head)
        self._last_signed_at = time.monotonic()
        # Every batch signs a head; a head's row is kept at least every N entries or T seconds, and in between
        # each head replaces the previous one, so the checkpoints table grows as slowly as it always did.
        self._interim: int | None
        self._kept_size, self._kept_at, self._interim = self.signed_size, time.monotonic(), None
        self.batches = 0
        self._healthy = True
        self._probe_delay = FIRST_PROBE_SECONDS
        self._listeners: list[Callable[[bool], None]] = []
        self._listeners_lock = threading.Lock()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-log", daemon=True)
        self._thread.start()

    # --- health --------------------------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        """Whether the writer's last attempt to use the store succeeded."""
        return self._healthy

    def watch(self, listener: Callable[[bool], None]) -> None:
        """Call listener(healthy) now, and again from the writer thread each time the log's health changes."""
        with self._listeners_lock:
            self._listeners.append(listener)
            listener(self._healthy)

    def _set_healthy(self, healthy: bool, cause: BaseException | None = None) -> None:
        if healthy:
            self._probe_delay = FIRST_PROBE_SECONDS
        if healthy == self._healthy:
            return
        with self._listeners_lock:
            self._healthy = healthy
            if healthy:
                log.warning("access log writable again")
            else:
                log.error("access log cannot be written: calls fail with UNAVAILABLE until it can (%s)", cause)
            for listener in self._listeners:
                try:
                    listener(healthy)
                except Exception:
                    log.exception("access log health listener failed")

    # --- appending ---------------------------------------------------------------------------------
    def append(self, entry: AccessEntry) -> int:
        """Queue the entry, wait until its batch is committed (fsync), return its sequence number.

        Raises LogUnavailable if the log cannot be written, is closing, or does not confirm within
        wait_seconds: no call waits forever.
        """
        return self.append_leaf(entry)[0]

    def append_leaf(self, entry: AccessEntry) -> tuple[int, bytes]:
        """`append`, also giving the entry's leaf hash (an answer's attestation states it: not hashed twice)."""
        if self._closing.is_set():
            raise LogUnavailable("the access log is closed: the gateway is shutting down")
        pending = _Pending(entry)
        self._queue.put(pending)
        if self.arrivals is not None:
            self.arrivals.queued()
        if not pending.wait(self.wait_seconds):
            raise LogUnavailable(f"the access log did not confirm the entry within {self.wait_seconds:g} s")
        if pending.error is not None:
            raise pending.error
        return pending.seq, pending.leaf

    def _run(self) -> None:
        _lower_priority(WRITER_NICENESS)
        while True:
            try:
                if not self._step():
                    return
            except Exception as exc:  # a bug must not kill the writer and leave callers waiting
                log.exception("access log writer failed; carrying on")
                self._set_healthy(False, exc)

    def _step(self) -> bool:
        """Wait for entries and commit one batch (or probe / checkpoint when idle); False once closed."""
        idle = max(self.every_seconds, 0.05) if self._healthy else self._probe_delay
        try:
            first = self._queue.get(timeout=idle)
        except queue.Empty:
            if self._healthy:
                self._maybe_checkpoint()
            else:
                self._probe()
            return True
        if first is None:
            self._finish()
            return False
        if isinstance(first, _Wake):
            return True
        batch = self._collect(first)
        if not self._healthy:
            self._probe()
        if self._healthy:
            self._commit(batch)
        else:
            for p in batch:
                p.fail(LogUnavailable("the access log cannot be written right now"))
        if self._healthy and time.monotonic() - self._last_signed_at >= self.every_seconds:
            self._maybe_checkpoint()  # not after every batch: a batch that committed signed its own head
        return True

    def _wake(self) -> None:
        self._queue.put(_WAKE)

    def _collect(self, first: _Pending) -> list[_Pending]:
        """The batch: the entries queued, and those that arrive while more can come (at most gather_seconds)."""
        batch = [first]
        deadline = 0.0
        while len(batch) < self.max_batch:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                if self.arrivals is None or not self.arrivals.worth_waiting(len(batch)):
                    break
                now = time.monotonic()
                deadline = deadline or now + self.gather_seconds
                if now >= deadline:
                    break
                self.gathering = True
                try:
                    more = self._queue.get(timeout=deadline - now)
                except queue.Empty:
                    break
                finally:
                    self.gathering = False
            if more is None:
                self._queue.put(None)
                break
            if isinstance(more, _Wake):
                continue
            batch.append(more)
        return batch

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            self._signing = None
            seqs = self.store.append_accesses([p.entry for p in batch], sign=self.sign_batch,
                                              leaves=[p.leaf for p in batch])
        except Exception as exc:  # not committed, or not known to be: every waiter hears of it, none is answered
            self._set_healthy(False, exc)
            failure = LogUnavailable("the access log cannot be written right now")
            failure.__cause__ = exc
            for p in batch:
                p.fail(failure)
            return
        self._signed(self._signing)
        self.batches += 1
        for p, seq in zip(batch, seqs, strict=True):
            p.finish(seq)
        # Give up the GIL once, so that the callers just woken run before the next batch is taken: a caller that
        # appends again as soon as it is answered then queues into the next batch, not the one after (16 threads in a
        # closed loop: batches of 8 -> 12). Not after a lone entry: its caller has no one to meet, and would only wait
        # longer. The server's calls are gathered through arrivals; this costs them nothing.
        if len(batch) > 1:
            time.sleep(0)

    def _probe(self) -> None:
        """Try the store again (it reconnects by itself if it can); healthy again if it answers."""
        try:
            self.store.log_size()
        except Exception as exc:
            self._probe_delay = min(self._probe_delay * 2, MAX_PROBE_SECONDS)
            log.debug("access log still cannot be written: %s", exc)
            return
        self._set_healthy(True)

    def _finish(self) -> None:
        """On close: report unsigned rows if the store answers, then fail whatever is still queued."""
        if self._healthy:
            self._maybe_checkpoint(force=True)
        while True:
            try:
                left = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(left, _Pending):
                left.fail(LogUnavailable("the access log is closed: the gateway is shutting down"))

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
        now = time.monotonic()
        keep = after - self._kept_size >= self.every_entries or now - self._kept_at >= self.every_seconds
        self._signing = (cp, note, keep)
        return cp.root, note.decode("utf-8"), self._replaced(before, after, now)

    def _replaced(self, before: int, after: int, now: float) -> int | None:
        """The stored head this batch's head replaces (its row is deleted), or None to keep it as a row.

        One's own interim head is replaced as a single writer always did; one's own kept head never is. A head
        another process signed (a sibling worker, another replica) is replaced too while no multiple of
        every_entries lies between the two heads and this process kept a row less than every_seconds ago: so
        writers taking turns keep about one row per every_entries entries, not one per batch, and the last head
        before each such multiple stays.
        """
        if self._interim == before:
            return before
        every = max(self.every_entries, 1)
        if before and before != self._kept_size and before // every == after // every \
                and now - self._kept_at < self.every_seconds:
            return before
        return None

    def _head(self, before: int, head_note: str | None) -> Checkpoint | None:
        if head_note is None:
            if before:
                raise InconsistentCheckpointError(f"the log holds {before} entries and no signed checkpoint: "
                                                  "refusing to sign entries this gateway did not write")
            return None
        own = self._own_note
        if own is not None and head_note == own[0]:
            head = own[1]  # the very text this process signed and committed: its signature was made here
        else:
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
        self._own_note = (signing[1].decode("utf-8"), signing[0])  # the next batch finds it as the stored head
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
        """Every batch signs its own checkpoint; entries beyond the latest signed head were written by someone
        else: say so. Another worker of this gateway (serve --workers) signs its own batches: its head is taken
        on, not reported. A store that fails here makes the log unhealthy (this is also the writer's liveness
        check while idle)."""
        try:
            size = self.store.log_size()
            due = size > self.signed_size and (force or time.monotonic() - self._last_signed_at >= self.every_seconds)
            if due:
                self._last_signed_at = time.monotonic()
                self._take_on_stored_head()
        except InconsistentCheckpointError as exc:
            log.error("the access log cannot be signed on: %s", exc)
            self._set_healthy(False, exc)
            return
        except Exception as exc:
            log.warning("the access log's store does not answer: %s", exc)
            self._set_healthy(False, exc)
            return
        if due and size > self.signed_size:
            log.error("the log holds %d entries no signature covers (not written by this gateway): not signing "
                      "them; `permitgw audit verify` reports them", size - self.signed_size)

    def _stored_head(self) -> Checkpoint | None:
        """The latest stored checkpoint if it is a head this gateway signed (any of its workers) that extends
        the last head this process signed (a consistency proof); else the last head this process signed."""
        own = self._guard.last
        stored = self.store.latest_checkpoint()
        if stored is None or (own is not None and stored.size <= own.size):
            return own
        try:
            head = verify_checkpoint(stored.note.encode("utf-8"), self.verifier, origin=self.origin)
        except NoteError:
            return own  # not this gateway's signature: never taken on
        if own is not None and not verify_consistency(own.size, head.size, own.root, head.root,
                                                      consistency_proof(own.size, head.size, self.store)):
            raise InconsistentCheckpointError(f"the stored head of size {head.size} does not extend the head of "
                                              f"size {own.size} this gateway signed")
        return head

    def _take_on_stored_head(self) -> None:
        """(writer thread) Make a newer head another worker signed the one this process signs on top of."""
        head = self._stored_head()
        if head is not None and head is not self._guard.last:
            self._guard = CheckpointGuard(self._consistent, last=head)

    def checkpoint(self) -> Checkpoint:
        """The latest checkpoint this gateway signed (each batch signs one as it commits)."""
        with self._sign_lock:
            if self._guard.last is None:
                raise InconsistentCheckpointError("no checkpoint signed yet")
            return self._guard.last

    def checkpoint_at(self, size: int) -> tuple[Checkpoint, bytes] | None:
        """A signed checkpoint of an earlier size whose row was replaced (see __init__), made on demand: signed
        only if a consistency proof shows it is a prefix of the latest head this gateway signed. None if the
        size is not in 1..latest (the latest head of any worker of this gateway)."""
        head = self._stored_head()
        if head is None or not 0 < size <= head.size:
            return None
        cp = Checkpoint(self.origin, size, root(size, self.store))
        if not verify_consistency(size, head.size, cp.root, head.root, consistency_proof(size, head.size, self.store)):
            raise InconsistentCheckpointError(f"the stored tree at size {size} is not a prefix of the signed head")
        return cp, sign_checkpoint(cp, self.origin, self._key)

    def attest(self, entry: AccessEntry, seq: int, leaf: bytes | None = None) -> bytes:
        """A signed attestation of a logged decision (gateway/audit/attestation.py); `leaf`, the entry's leaf hash
        if the caller has it (append_leaf), else it is computed."""
        return attestation.sign(entry, seq, self.origin, self._key, leaf)

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking entries, let the writer finish its batch and sign a last checkpoint (bounded wait)."""
        self._closing.set()
        self._queue.put(None)
        self._thread.join(timeout=timeout)
        if self._thread.is_alive():
            log.warning("access log writer still busy after %g s; closing anyway", timeout)
