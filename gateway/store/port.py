"""The storage port: what the gateway needs from a database, whichever one it is.

SQLite (default) implements it now; PostgreSQL joins in a later stage behind the same methods.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.audit.entry import AccessEntry
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import Fact, Guardianship, Permit, Person, Record, ResidenceRegistration


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

    def append_accesses(self, entries: Sequence[AccessEntry]) -> list[int]:
        """Durably append entries as Merkle leaves in one transaction (group commit)."""

    def log_size(self) -> int: ...
    def subtree(self, level: int, index: int) -> bytes: ...
    def leaf_hashes(self) -> Iterator[tuple[int, bytes, AccessEntry]]: ...
    def add_checkpoint(self, size: int, root: bytes, note: str) -> None: ...
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
