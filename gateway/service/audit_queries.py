"""What the AuditService answers: searches of the access log, signed checkpoints, proofs, subject access reports.

Every query reads the store (and, for a checkpoint whose row a later head replaced, asks the log to sign it
again); none writes. Refusals are the errors below, which the servicer turns into statuses.
"""
from __future__ import annotations

from dataclasses import dataclass

from gateway.audit.checkpoint import InconsistentCheckpointError
from gateway.audit.entry import AccessEntry, Decision
from gateway.audit.log import AuditLog
from gateway.audit.port import AccessQuery
from gateway.audit.rfc9162 import consistency_proof, inclusion_proof
from gateway.audit.search import parse_time
from gateway.errors import GatewayError
from gateway.store.port import Store

DEFAULT_LIMIT = 10_000


class BadQuery(GatewayError, ValueError):
    """A query argument out of range or malformed; `field` names it (the value is never echoed)."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field, self.description = field, description


class NoCheckpoint(GatewayError, LookupError):
    """No checkpoint can be given: none signed yet, or the stored tree does not support the size asked for."""


@dataclass(frozen=True, slots=True)
class Filters:
    """A search of the access log as asked (empty text = no filter; limit <= 0 = the default)."""

    subject: str | None = None  # blind index
    principal: str = ""
    org: str = ""
    role: str = ""
    purpose: str = ""
    decision: str = ""
    since: str = ""
    until: str = ""
    limit: int = 0


def search(store: Store, f: Filters) -> list[AccessEntry]:
    """The entries that match, oldest first; `since` and `until` are RFC 3339 times or YYYY-MM-DD dates."""
    try:
        since, until = parse_time(f.since, "since"), parse_time(f.until, "until")
    except ValueError as exc:
        raise BadQuery(str(exc).split(":")[0].lstrip("-"), "an RFC 3339 time or YYYY-MM-DD") from exc
    query = AccessQuery(subject=f.subject, principal=f.principal or None, org=f.org or None, role=f.role or None,
                        purpose=f.purpose or None, decision=f.decision or None, since=since, until=until,
                        limit=f.limit if f.limit > 0 else DEFAULT_LIMIT)
    return list(store.access_entries(query))


def checkpoint(store: Store, log: AuditLog, size: int) -> tuple[int, bytes, str]:
    """(size, root, signed note) of the checkpoint of `size` entries, 0 = the latest."""
    cps = store.checkpoints()
    if not cps:
        raise NoCheckpoint("no checkpoint has been signed yet")
    if size == 0:
        return cps[-1]
    for cp in cps:
        if cp[0] == size:
            return cp
    try:
        made = log.checkpoint_at(size)  # a head whose row a later one replaced: signed again on demand
    except InconsistentCheckpointError as exc:
        raise NoCheckpoint(f"cannot sign a checkpoint of that size: {exc}") from exc
    if made is not None:
        return made[0].size, made[0].root, made[1].decode("utf-8")
    raise BadQuery("size", "no signed checkpoint of that size (0 = the latest)")


@dataclass(frozen=True, slots=True)
class Inclusion:
    index: int
    size: int
    leaf_hash: bytes
    checkpoint: str  # the signed note the proof leads to
    proof: list[bytes]
    entry: AccessEntry


def inclusion(store: Store, log: AuditLog, index: int, size: int) -> Inclusion:
    """Entry `index` (a leaf index, seq - 1) with its proof of inclusion in the checkpoint of `size` (0 = latest)."""
    size, _, note = checkpoint(store, log, size)
    if not 0 <= index < size:
        raise BadQuery("index", f"a leaf index below the checkpoint's size {size}")
    entry = next(store.access_entries_at(index + 1))
    leaf = store.subtree(0, index)
    return Inclusion(index, size, leaf, note, inclusion_proof(index, size, store), entry)


def consistency(store: Store, old_size: int, new_size: int) -> list[bytes]:
    """The proof that the log of `new_size` entries extends the log of `old_size`."""
    size = store.log_size()
    if not 0 < old_size <= new_size <= size:
        raise BadQuery("old_size", f"0 < old_size <= new_size <= {size}")
    return consistency_proof(old_size, new_size, store)


def subject_accesses(store: Store, subject: str) -> list[AccessEntry]:
    """Every access about the person with blind index `subject` (alerts are not accesses)."""
    return [e for e in store.access_entries(AccessQuery(subject=subject)) if e.decision != Decision.ALERT]
