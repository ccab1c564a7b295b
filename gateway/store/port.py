"""The storage port: what the gateway needs from a database, whichever one it is.

SQLite (default) and PostgreSQL implement it behind the same methods.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.audit.entry import AccessEntry
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import Fact, Guardianship, Permit, Person, Record, ResidenceRegistration


class StoreError(Exception):
    """The database cannot be used by this gateway."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now (connection lost, server down); the store retries by itself.

    Callers fail the request with UNAVAILABLE and let the next one try again.
    """


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


@dataclass(frozen=True, slots=True)
class ImportRun:
    bureau: str
    file: str
    sha256: str
    read: int
    accepted: int
    rejected: int
    duplicates: int
    rejects_file: str


class SubtreeReader(Protocol):
    def subtree(self, level: int, index: int) -> bytes: ...


HeadSigner = Callable[[int, int, SubtreeReader, str | None], tuple[bytes, str, int | None]]
"""(size before the batch, size after, the tree inside the transaction, the latest stored checkpoint note or None)
-> (root, signed note, size of a superseded checkpoint row to drop or None): signs the new tree head inside the
batch's own transaction, or raises to roll it back."""


class Store(Protocol):
    def save_rows(self, rows: Sequence[Sequence[Record]]) -> list[bool]:
        """Save a batch of rows in one transaction; per row, True if it changed anything (else a duplicate)."""

    def person(self, who: IdNumber) -> Person | None: ...
    def registrations(self, who: IdNumber) -> list[ResidenceRegistration]: ...
    def permits(self, who: IdNumber) -> list[Permit]:
        """The latest version of each of the person's permits."""

    def permit_history(self, who: IdNumber) -> list[Permit]:
        """Every version of the person's permits, oldest first (points need late endorsements)."""

    def guardianships(self, child: IdNumber) -> list[Guardianship]: ...
    def wards(self, guardian: IdNumber) -> list[IdNumber]: ...
    def latest_district(self, who: IdNumber) -> str | None: ...
    def facts(self, who: IdNumber, kind: type | None = None) -> list[Fact]:
        """Records of the other bureaus about a person (contributions, contracts, homes, enrolments...)."""

    def people(self) -> list[IdNumber]: ...
    def registrations_declared(self, year: int) -> dict[str, int]: ...
    def published_statistics(self, month: str) -> str | None: ...
    def publish_statistics(self, month: str, body: str) -> str: ...
    def subject_index(self, who: IdNumber) -> str:
        """Hex blind index of an identity number, as the access log records subjects."""

    def append_access(self, entry: AccessEntry) -> int:
        """Durably append one access-log entry; return its sequence number."""

    def append_accesses(self, entries: Sequence[AccessEntry], sign: HeadSigner | None = None) -> list[int]:
        """Durably append entries as Merkle leaves in one transaction (group commit); with `sign`, the
        checkpoint it returns is stored in that same transaction, so no committed entry is ever unsigned."""

    def log_size(self) -> int: ...
    def subtree(self, level: int, index: int) -> bytes: ...
    def leaf_hashes(self) -> Iterator[tuple[int, bytes, AccessEntry]]: ...
    def add_checkpoint(self, size: int, root: bytes, note: str) -> None: ...
    def add_cosignatures(self, size: int, note: str) -> bool:
        """Replace checkpoint `size`'s note by the same note carrying witness cosignatures; False if no such row."""
    def checkpoints(self) -> list[tuple[int, bytes, str]]: ...

    def revocations(self) -> frozenset[str]:
        """Serials (canonical hex) of every client certificate ever revoked."""

    def add_revocation(self, serial: str) -> None:
        """Record a revoked serial (idempotent); revocations are never removed."""

    def access_entries(self, query: AccessQuery) -> Iterator[AccessEntry]: ...
    def access_entries_at(self, seq: int) -> Iterator[AccessEntry]: ...
    def record_import(self, run: ImportRun) -> None: ...
    def counts(self) -> dict[str, int]: ...
    def close(self) -> None: ...
