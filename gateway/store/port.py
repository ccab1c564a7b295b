"""The storage port: what the gateway needs from a database, whichever one it is.

`RecordStore` is the bureaus' records (and revocations, published statistics, import runs); the access log's own
port is gateway/audit/port.py's `LogStore`; `Store` is both, as SQLite (default) and PostgreSQL implement it.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gateway.audit.port import LogStore
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import Fact, Guardianship, Permit, Person, Record, ResidenceRegistration
from gateway.errors import GatewayError
from gateway.policy.bundle import Files, PushedPolicy


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

    def quota_rows(self, principal: str, forget_before: float | None) -> AbstractContextManager[QuotaRows]: ...
    def forget_quotas(self, before: float) -> int: ...


class Store(RecordStore, LogStore, QuotaStore, Protocol):
    """The whole database of a gateway: its records and its access log, in one place."""


class PolicyFeed(Protocol):
    """Word of newly pushed policies, on a connection of its own (opened by the first wait, in the thread that
    waits: after any fork)."""

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a push; True when one was announced, or when the feed has just
        (re)connected (announcements sent while it was disconnected are lost: look at the latest). Raises
        StoreUnavailable while the database cannot be reached (the next call tries again, with backoff)."""

    def latest(self) -> PushedPolicy | None:
        """The policy in force (the latest pushed), on the feed's own connection."""

    def close(self) -> None: ...


@runtime_checkable
class PolicyVersions(Protocol):
    """The cluster's policy bundles (table policy_versions), kept by the PostgreSQL backend only."""

    def push_policy(self, files: Files, pushed_by: str, *, only_if_none: bool = False) -> tuple[PushedPolicy, bool]:
        """Put a validated bundle in force and announce it to every replica (NOTIFY, delivered at commit).
        The policy in force afterwards and whether this push changed it (False: that version was already in
        force, or `only_if_none` and some version already was)."""

    def latest_policy(self) -> PushedPolicy | None:
        """The policy in force: the latest pushed (None while nothing has been pushed)."""

    def policy_feed(self) -> PolicyFeed:
        """A new feed of pushes, not yet connected."""


def policy_versions(store: object) -> PolicyVersions:
    """The store's policy versions, or a StoreError saying that only the PostgreSQL backend keeps them."""
    if not isinstance(store, PolicyVersions):
        raise StoreError("cluster policy versions are kept by the PostgreSQL backend only; on SQLite the policy "
                         "is the files of DIR/policies (edit them and send SIGHUP)")
    return store
