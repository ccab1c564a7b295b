"""In-memory fakes of the gateway's ports, for unit tests of the gate and the use cases.

`FakeStore` keeps records by IdNumber and the access log as a list with sequence numbers and a Merkle tree
(gateway/audit/rfc9162.py), computes blind indexes with an HMAC under a fixed test key, and signs each batch's
checkpoint through the HeadSigner it is given, as the real stores do. `fail_appends` makes every append fail as
an unreachable database does (StoreUnavailable), to simulate an unwritable log. `FakeContext` stands in for a
gRPC servicer context: it hands out the peer's certificate PEMs and turns an abort into an exception.
`FakeQuotaLedger` keeps quota rows in dictionaries, one transaction at a time (gateway.watch.shared_quotas).
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import grpc

from gateway.audit.entry import AccessEntry, Decision
from gateway.audit.oversight_rows import Acknowledgement, CallCount, StoredCheckpoint, VerificationRecord
from gateway.audit.port import AccessQuery, EntryScope, HeadSigner
from gateway.audit.rfc9162 import MemoryTree, leaf_hash
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import Fact, Guardianship, Permit, Person, Record, ResidenceRegistration
from gateway.store.port import ImportRun, StoreUnavailable

TEST_KEY = b"permitgw unit tests: blind index key"


@dataclass
class FakeStore:
    """An honest in-memory Store: what is appended is read back, in order, with its Merkle tree and checkpoints."""

    key: bytes = TEST_KEY
    people_: dict[IdNumber, Person] = field(default_factory=dict)
    registrations_: dict[IdNumber, list[ResidenceRegistration]] = field(default_factory=dict)
    permits_: dict[IdNumber, list[Permit]] = field(default_factory=dict)  # every version, oldest first
    guardianships_: list[Guardianship] = field(default_factory=list)
    facts_: dict[IdNumber, list[Fact]] = field(default_factory=dict)
    entries: list[AccessEntry] = field(default_factory=list)  # the access log; entries carry their seq
    tree: MemoryTree = field(default_factory=MemoryTree)
    checkpoint_rows: list[tuple[int, bytes, str]] = field(default_factory=list)
    statistics: dict[str, str] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    imports: list[ImportRun] = field(default_factory=list)
    fail_appends: bool = False  # True: every append raises StoreUnavailable (the log cannot be written)

    # --- records -------------------------------------------------------------------------------------
    def add(self, *records: Record) -> None:
        for r in records:
            if isinstance(r, Person):
                self.people_[r.id_number] = r
            elif isinstance(r, ResidenceRegistration):
                self.registrations_.setdefault(r.id_number, []).append(r)
            elif isinstance(r, Permit):
                self.permits_.setdefault(r.id_number, []).append(r)
            elif isinstance(r, Guardianship):
                self.guardianships_.append(r)
            else:
                self.facts_.setdefault(r.id_number, []).append(r)

    def save_rows(self, rows: Sequence[Sequence[Record]]) -> list[bool]:
        for row in rows:
            self.add(*row)
        return [True] * len(rows)

    def person(self, who: IdNumber) -> Person | None:
        return self.people_.get(who)

    def registrations(self, who: IdNumber) -> list[ResidenceRegistration]:
        return list(self.registrations_.get(who, []))

    def permits(self, who: IdNumber) -> list[Permit]:
        latest: dict[str, Permit] = {}
        for p in self.permits_.get(who, []):
            latest[p.permit_number] = p
        return list(latest.values())

    def permit_history(self, who: IdNumber) -> list[Permit]:
        return list(self.permits_.get(who, []))

    def guardianships(self, child: IdNumber) -> list[Guardianship]:
        return [g for g in self.guardianships_ if g.child == child]

    def wards(self, guardian: IdNumber) -> list[IdNumber]:
        return [g.child for g in self.guardianships_ if g.guardian == guardian]

    def latest_district(self, who: IdNumber) -> str | None:
        latest = max(self.registrations_.get(who, []), key=lambda r: r.declared_on, default=None)
        return latest.district.code if latest else None

    def facts(self, who: IdNumber, kind: type | None = None) -> list[Fact]:
        return [f for f in self.facts_.get(who, []) if kind is None or isinstance(f, kind)]

    def people(self) -> list[IdNumber]:
        return sorted(self.people_, key=lambda i: i.value)

    def registrations_declared(self, year: int) -> dict[str, int]:
        counts: dict[str, int] = {}
        for regs in self.registrations_.values():
            for r in regs:
                if r.declared_on.year == year:
                    counts[r.district.code] = counts.get(r.district.code, 0) + 1
        return counts

    def published_statistics(self, month: str) -> str | None:
        return self.statistics.get(month)

    def publish_statistics(self, month: str, body: str) -> str:
        return self.statistics.setdefault(month, body)

    def subject_index(self, who: IdNumber) -> str:
        return hmac.new(self.key, who.value.encode("utf-8"), hashlib.sha256).hexdigest()

    # --- the access log ------------------------------------------------------------------------------
    def append_access(self, entry: AccessEntry) -> int:
        return self.append_accesses([entry])[0]

    def append_accesses(self, entries: Sequence[AccessEntry], sign: HeadSigner | None = None,
                        leaves: Sequence[bytes] | None = None) -> list[int]:
        """All or nothing, as one transaction: a failing signer (or `fail_appends`) leaves the log unchanged."""
        if self.fail_appends:
            raise StoreUnavailable("the fake store is set to fail appends")
        if leaves is not None:  # the caller's hashes must be those of the entries, as a real store would store them
            assert list(leaves) == [leaf_hash(e.canonical_bytes()) for e in entries]
        before = len(self.entries)
        tree = MemoryTree(self.tree.subtree(0, i) for i in range(before))
        for e in entries:
            tree.append(leaf_hash(e.canonical_bytes()))
        rows = list(self.checkpoint_rows)
        if sign is not None and entries:
            root, note, drop = sign(before, tree.size, tree, rows[-1][2] if rows else None)
            rows = [r for r in rows if r[0] != drop] + [(tree.size, root, note)]
        seqs = list(range(before + 1, before + len(entries) + 1))
        self.entries.extend(_with_seq(e, s) for e, s in zip(entries, seqs, strict=True))
        self.tree, self.checkpoint_rows = tree, rows
        return seqs

    def log_size(self) -> int:
        return len(self.entries)

    def subtree(self, level: int, index: int) -> bytes:
        return self.tree.subtree(level, index)

    def leaf_hashes(self) -> Iterator[tuple[int, bytes, AccessEntry]]:
        for i, e in enumerate(self.entries):
            yield i + 1, self.tree.subtree(0, i), e

    def add_checkpoint(self, size: int, root: bytes, note: str) -> None:
        self.checkpoint_rows.append((size, root, note))

    def add_cosignatures(self, size: int, note: str) -> bool:
        for i, (s, root, _) in enumerate(self.checkpoint_rows):
            if s == size:
                self.checkpoint_rows[i] = (s, root, note)
                return True
        return False

    def checkpoints(self) -> list[tuple[int, bytes, str]]:
        return list(self.checkpoint_rows)

    def revocations(self) -> frozenset[str]:
        return frozenset(self.revoked)

    def add_revocation(self, serial: str) -> None:
        self.revoked.add(serial)

    def access_entries(self, query: AccessQuery) -> Iterator[AccessEntry]:
        found = [e for e in self.entries if _matches(e, query)]
        return iter(found[:query.limit] if query.limit else found)

    def access_entries_at(self, seq: int) -> Iterator[AccessEntry]:
        return iter(self.entries[seq - 1:])

    def record_import(self, run: ImportRun) -> None:
        self.imports.append(run)

    def counts(self) -> dict[str, int]:
        return {"persons": len(self.people_), "access_log": len(self.entries)}

    def close(self) -> None:
        pass

    # --- the officers' console (the store's aggregates, computed here over the list) ------------------------
    acks: dict[int, Acknowledgement] = field(default_factory=dict)  # alert seq -> its acknowledgement
    verifications: list[VerificationRecord] = field(default_factory=list)
    checkpoint_time: str | None = None  # when the latest checkpoint row was stored; None: its last entry's time

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        if not self.checkpoint_rows:
            return None
        size, root, note = max(self.checkpoint_rows)
        return StoredCheckpoint(size, root, note, self.checkpoint_time or self.entries[size - 1].time)

    def _counts(self, width: int, key: str, keep: Callable[[AccessEntry], bool]) -> list[CallCount]:
        counted: dict[tuple[str, str, str], int] = {}
        for e in self.entries:
            if e.decision != Decision.ALERT and keep(e):
                k = (e.time[:width], getattr(e, key), e.decision)
                counted[k] = counted.get(k, 0) + 1
        return [CallCount(b, k, d, n) for (b, k, d), n in sorted(counted.items())]

    def calls_by_hour(self, since: str, until: str, scope: EntryScope) -> list[CallCount]:
        return self._counts(13, "role", lambda e: since <= e.time < until and scope.admits(e.district, e.org))

    def org_calls_by_day(self, org: str, since: str, until: str, scope: EntryScope) -> list[CallCount]:
        return self._counts(10, "purpose", lambda e: (e.org == org and since <= e.time < until
                                                      and scope.admits(e.district, e.org)))

    def _alerts(self, scope: EntryScope, open_only: bool) -> list[AccessEntry]:
        return [e for e in reversed(self.entries) if e.decision == Decision.ALERT
                and scope.admits(e.district, e.org) and not (open_only and e.seq in self.acks)]

    def alert_count(self, scope: EntryScope, open_only: bool) -> int:
        return len(self._alerts(scope, open_only))

    def alerts(self, scope: EntryScope, open_only: bool, offset: int,
               limit: int) -> list[tuple[AccessEntry, Acknowledgement | None]]:
        page = self._alerts(scope, open_only)[max(offset, 0):max(offset, 0) + max(limit, 0)]
        return [(e, self.acks.get(e.seq or 0)) for e in page]

    def acknowledgement(self, alert_seq: int) -> Acknowledgement | None:
        return self.acks.get(alert_seq)

    def add_acknowledgement(self, ack: Acknowledgement) -> bool:
        if ack.alert_seq in self.acks:
            return False
        self.acks[ack.alert_seq] = ack
        return True

    def add_verification(self, record: VerificationRecord) -> None:
        self.verifications.append(record)

    def latest_verification(self) -> VerificationRecord | None:
        return self.verifications[-1] if self.verifications else None


def _with_seq(e: AccessEntry, seq: int) -> AccessEntry:
    return dataclasses.replace(e, seq=seq)


def _matches(e: AccessEntry, q: AccessQuery) -> bool:
    wanted = {"principal": q.principal, "org": q.org, "role": q.role, "purpose": q.purpose, "decision": q.decision}
    return ((q.subject is None or q.subject in e.people()) and q.scope.admits(e.district, e.org)
            and all(v is None or getattr(e, k) == v for k, v in wanted.items())
            and (q.seq is None or e.seq == q.seq) and (q.after is None or (e.seq or 0) > q.after)
            and (q.since is None or e.time >= q.since) and (q.until is None or e.time < q.until))


class Aborted(Exception):
    """What FakeContext.abort raises (gRPC raises an exception of its own to end the call)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code, self.details = code, details


@dataclass
class FakeContext:
    """A servicer context with a verified client certificate chain (or none). Given the store, it notes what the
    access log held when the call was aborted (`logged_at_abort`): a refusal must be logged before it leaves."""

    pems: Iterable[bytes] = ()
    store: FakeStore | None = None
    logged_at_abort: list[AccessEntry] | None = None

    def auth_context(self) -> dict[str, list[bytes]]:
        pems = list(self.pems)
        return {"x509_pem_cert": pems} if pems else {}

    def peer(self) -> str:
        return "ipv4:127.0.0.1:50000"

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        if self.store is not None:
            self.logged_at_abort = list(self.store.entries)
        raise Aborted(code, details)

    def abort_with_status(self, status: grpc.Status) -> None:
        self.abort(status.code, status.details)


class FakeQuotaRows:
    """A principal's rows in a FakeQuotaLedger transaction: a working copy, kept only if the transaction ends well."""

    def __init__(self, seen: dict[str, float], warned: dict[str, float]) -> None:
        self.seen, self.warned = seen, warned

    def usage(self, horizons: Sequence[float], subjects: Collection[str]) -> list[tuple[int, int]]:
        return [(sum(at > h for at in self.seen.values()), sum(self.seen.get(s, -1e18) > h for s in subjects))
                for h in horizons]

    def record(self, subjects: Collection[str], now: float) -> None:
        for s in subjects:
            self.seen[s] = max(self.seen.get(s, now), now)

    def warned_at(self, window: str) -> float | None:
        return self.warned.get(window)

    def warn(self, window: str, now: float) -> None:
        self.warned[window] = now


@dataclass
class FakeQuotaLedger:
    """gateway.watch.shared_quotas.QuotaLedger in memory; `unavailable` makes every transaction fail as an
    unreachable database does. `transactions` counts them (requests that need none must not open one)."""

    seen: dict[str, dict[str, float]] = field(default_factory=dict)
    warned: dict[str, dict[str, float]] = field(default_factory=dict)
    unavailable: bool = False
    transactions: int = 0
    sweeps: list[float] = field(default_factory=list)
    forgets: list[float | None] = field(default_factory=list)  # each transaction's forget_before, in order
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def quota_rows(self, principal: str, forget_before: float | None) -> Iterator[FakeQuotaRows]:
        with self._lock:
            if self.unavailable:
                raise StoreUnavailable("the quota ledger is unreachable")
            self.transactions += 1
            self.forgets.append(forget_before)
            kept = self.seen.get(principal, {})
            rows = FakeQuotaRows({s: at for s, at in kept.items() if forget_before is None or at > forget_before},
                                 dict(self.warned.get(principal, {})))
            yield rows
            self.seen[principal], self.warned[principal] = rows.seen, rows.warned

    def forget_quotas(self, before: float) -> int:
        with self._lock:
            if self.unavailable:
                raise StoreUnavailable("the quota ledger is unreachable")
            self.sweeps.append(before)
            dropped = 0
            for seen in self.seen.values():
                old = [s for s, at in seen.items() if at <= before]
                dropped += len(old)
                for s in old:
                    del seen[s]
            for warned in self.warned.values():
                for window in [w for w, at in warned.items() if at <= before]:
                    del warned[window]
            return dropped
