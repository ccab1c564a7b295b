"""The log-store port: what the access log (gateway/audit) needs from the database that keeps it.

The audit modules write, prove, verify, witness and search the Merkle log through this Protocol alone, so they do
not depend on the storage package; gateway/store implements it (store/port.py's Store is this and the record store).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.audit.entry import AccessEntry
from gateway.audit.oversight_rows import Acknowledgement, CallCount, StoredCheckpoint, VerificationRecord
from gateway.audit.rfc9162 import SubtreeSource
from gateway.errors import GatewayError

MAX_SCOPE_ORGS = 256  # codes and prefixes one scope may name: a bureau's list, kept small enough for one query


class ScopeError(GatewayError, ValueError):
    """An entry scope that names no organisation, too many, or a malformed one."""


@dataclass(frozen=True, slots=True)
class EntryScope:
    """Which log entries an officer may see, by the CALLER recorded in each entry: its district (None: every
    district) and its organisation (None: every organisation; else exact codes, or prefixes written `SCH-*`).
    Both limits apply together. The console computes it from the officer's certificate and policies/."""

    district: str | None = None
    orgs: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.orgs is None:
            return
        if not self.orgs or len(self.orgs) > MAX_SCOPE_ORGS:
            raise ScopeError(f"an organisation scope names 1 to {MAX_SCOPE_ORGS} codes or prefixes")
        for code in self.orgs:
            if not code.rstrip("*") or "*" in code.rstrip("*") or code.endswith("**"):
                raise ScopeError(f"{code!r} is not an organisation code or a prefix ending in one *")

    @property
    def exact(self) -> tuple[str, ...]:
        """The organisation codes named exactly."""
        return tuple(c for c in self.orgs or () if not c.endswith("*"))

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The prefixes named (`SCH-*` as `SCH-`)."""
        return tuple(c[:-1] for c in self.orgs or () if c.endswith("*"))

    def admits(self, district: str, org: str) -> bool:
        """Is an entry made by a caller of `district` and organisation `org` within this scope?"""
        return ((self.district is None or district == self.district)
                and (self.orgs is None or org in self.exact or any(org.startswith(p) for p in self.prefixes)))


EVERYWHERE = EntryScope()  # the city's auditor: no limit


@dataclass(frozen=True, slots=True)
class AccessQuery:
    subject: str | None = None  # hex blind index
    principal: str | None = None
    org: str | None = None
    role: str | None = None
    purpose: str | None = None
    decision: str | None = None
    seq: int | None = None
    since: str | None = None  # RFC 3339
    until: str | None = None
    limit: int | None = None
    scope: EntryScope = EVERYWHERE  # whose entries (the caller's district and organisation) the officer may see
    after: int | None = None  # only entries with a larger seq: the cursor of a paged search


HeadSigner = Callable[[int, int, SubtreeSource, str | None], tuple[bytes, str, int | None]]
"""(size before the batch, size after, the tree inside the transaction, the latest stored checkpoint note or None)
-> (root, signed note, size of a superseded checkpoint row to drop or None): signs the new tree head inside the
batch's own transaction, or raises to roll it back."""


class Blinder(Protocol):
    """Computes the keyed blind index under which the log records a subject (store/crypto.FieldCipher)."""

    def blind(self, canonical: str, domain: str = "id") -> bytes: ...


class LogStore(SubtreeSource, Protocol):
    """The access log as stored: entries as Merkle leaves, every complete subtree, and the signed checkpoints.

    A store that cannot be reached raises (the storage's StoreUnavailable); the log's writer treats any failure
    of an append as "not written" and tells its callers so.
    """

    def append_access(self, entry: AccessEntry) -> int:
        """Durably append one access-log entry; return its sequence number."""
        ...

    def append_accesses(self, entries: Sequence[AccessEntry], sign: HeadSigner | None = None,
                        leaves: Sequence[bytes] | None = None) -> list[int]:
        """Durably append entries as Merkle leaves in one transaction (group commit); with `sign`, the
        checkpoint it returns is stored in that same transaction, so no committed entry is ever unsigned.
        `leaves`, if given, are the entries' leaf hashes (rfc9162.leaf_hash of their canonical bytes) computed
        by the caller — the log's callers do it in their own threads, while the writer waits for its fsync."""
        ...

    def log_size(self) -> int: ...
    def subtree(self, level: int, index: int) -> bytes: ...
    def leaf_hashes(self) -> Iterator[tuple[int, bytes, AccessEntry]]: ...
    def add_checkpoint(self, size: int, root: bytes, note: str) -> None: ...

    def add_cosignatures(self, size: int, note: str) -> bool:
        """Replace checkpoint `size`'s note by the same note carrying witness cosignatures; False if no such row."""
        ...

    def checkpoints(self) -> list[tuple[int, bytes, str]]: ...
    def access_entries(self, query: AccessQuery) -> Iterator[AccessEntry]: ...
    def access_entries_at(self, seq: int) -> Iterator[AccessEntry]: ...

    # --- what the officers' console reads and records (gateway/service/oversight_*.py) --------------------------
    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The stored checkpoint of the largest size with the time its row was written; None before the first."""
        ...

    def calls_by_hour(self, since: str, until: str, scope: EntryScope) -> list[CallCount]:
        """Entries with since <= time < until that are not alerts, counted in the store per UTC hour
        (bucket `YYYY-MM-DDTHH`), caller role (key) and decision; only those within `scope`."""
        ...

    def org_calls_by_day(self, org: str, since: str, until: str, scope: EntryScope) -> list[CallCount]:
        """Entries of callers from organisation `org` with since <= time < until that are not alerts, counted in the
        store per UTC day (bucket `YYYY-MM-DD`), purpose (key) and decision; only those within `scope`."""
        ...

    def alert_count(self, scope: EntryScope, open_only: bool) -> int:
        """Alert entries within `scope`; with `open_only`, those not acknowledged."""
        ...

    def alerts(self, scope: EntryScope, open_only: bool, offset: int,
               limit: int) -> list[tuple[AccessEntry, Acknowledgement | None]]:
        """Alert entries within `scope` newest first, `offset` of them skipped and at most `limit`, each with its
        acknowledgement."""
        ...

    def acknowledgement(self, alert_seq: int) -> Acknowledgement | None:
        """The acknowledgement of alert entry `alert_seq`, if it has one."""
        ...

    def add_acknowledgement(self, ack: Acknowledgement) -> bool:
        """Store an acknowledgement (its note encrypted); False, changing nothing, if the alert already has one."""
        ...

    def add_verification(self, record: VerificationRecord) -> None:
        """Record the outcome of a full verification of the log."""
        ...

    def latest_verification(self) -> VerificationRecord | None:
        """The verification recorded last, or None if the log was never verified in full."""
        ...
