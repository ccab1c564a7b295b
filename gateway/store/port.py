"""The storage port: what the gateway needs from a database, whichever one it is.

`RecordStore` is the bureaus' records (and revocations, published statistics, import runs); the access log's own
port is gateway/audit/port.py's `LogStore`; `Store` is both, as SQLite (default) and PostgreSQL implement it.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from gateway.audit.port import LogStore
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import Fact, Guardianship, Permit, Person, Record, ResidenceRegistration
from gateway.errors import GatewayError


class StoreError(GatewayError):
    """The database cannot be used by this gateway."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now (connection lost, server down); the store retries by itself.

    Callers fail the request with UNAVAILABLE and let the next one try again.
    """


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


class RecordStore(Protocol):
    """The records of the bureaus, encrypted at rest, found by blind index."""

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

    def revocations(self) -> frozenset[str]:
        """Serials (canonical hex) of every client certificate ever revoked."""

    def add_revocation(self, serial: str) -> None:
        """Record a revoked serial (idempotent); revocations are never removed."""

    def record_import(self, run: ImportRun) -> None: ...
    def counts(self) -> dict[str, int]: ...
    def close(self) -> None: ...


class QuotaRows(Protocol):
    """One principal's quota rows in a serialised transaction (gateway.store.quota_sql). The shape of
    gateway.watch.shared_quotas.QuotaRows, which counts with them (watch may not import store, nor store watch)."""

    def usage(self, horizons: Sequence[float], subjects: Collection[str]) -> list[tuple[int, int]]: ...
    def record(self, subjects: Collection[str], now: float) -> None: ...
    def warned_at(self, window: str) -> float | None: ...
    def warn(self, window: str, now: float) -> None: ...


class QuotaStore(Protocol):
    """Quota counts every replica shares: gateway.watch.shared_quotas.QuotaLedger, as the store implements it."""

    def quota_rows(self, principal: str, forget_before: float) -> AbstractContextManager[QuotaRows]: ...
    def forget_quotas(self, before: float) -> int: ...


class Store(RecordStore, LogStore, QuotaStore, Protocol):
    """The whole database of a gateway: its records and its access log, in one place."""
