"""The SQL both stores run: records (encrypted, blind-indexed), revocations, statistics and the Merkle access log.

SQLite and PostgreSQL hold the same tables with the same meaning, so every statement that reads or writes them is
written once here, with `?` marks. A backend (sqlite.py, postgres.py) supplies only what truly differs: opening and
keeping the connection, how a read runs (`_query`) and how a write is made atomic and serialised (`_write`), the
dialect's insert-or-keep and upsert, how the frontier of the Merkle tree is fetched, and the time a row is stamped with.
"""
from __future__ import annotations

import datetime as _dt
import operator
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import ClassVar, Protocol

from gateway.audit.entry import AccessEntry, Decision, now_rfc3339
from gateway.audit.oversight_rows import Acknowledgement, CallCount, StoredCheckpoint, VerificationRecord
from gateway.audit.port import AccessQuery, EntryScope, HeadSigner
from gateway.audit.rfc9162 import append_leaf, frontier, leaf_hash
from gateway.domain.districts import District
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import (
    FACT_KINDS,
    NATURAL_KEYS,
    Fact,
    Guardianship,
    HousingType,
    Permit,
    PermitState,
    Person,
    Record,
    ResidenceRegistration,
    Sex,
    TalentDesignation,
    fact_subjects,
)
from gateway.store import codec
from gateway.store.crypto import FieldCipher
from gateway.store.port import ImportRun

Row = tuple[object, ...]
Node = tuple[int, int]  # (level, index) of a complete aligned Merkle subtree

ACCESS_COLS = ("time", "principal", "serial", "role", "org", "district", "method", "purpose", "case_id",
               "operator_id", "subject", "decision", "reason", "policy_version")
_access_values = operator.attrgetter(*ACCESS_COLS)  # an entry's ACCESS_COLS values, in that order
COUNTED = ("persons", "registrations", "permits", "guardianships", "facts", "access_log", "imports",
           "published_statistics")


class Sql(Protocol):
    """A connection as a write (or a read inside one) sees it: statements with `?` marks."""

    def rows(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """Run a statement; every row it returns."""
        ...

    def run(self, sql: str, args: Sequence[object] = ()) -> int:
        """Run a statement; the number of rows it changed."""
        ...

    def run_many(self, sql: str, args: Sequence[Sequence[object]]) -> int:
        """Run a statement once per argument tuple; the number of rows they changed in all."""
        ...

    def send(self, sql: str, args: Sequence[object] = ()) -> None:
        """Run a statement whose answer is not needed: on PostgreSQL in a pipelined transaction it is sent without
        waiting, and its error, if any, is raised by the next statement that waits (or by the commit), which then
        rolls the whole transaction back."""
        ...

    def send_many(self, sql: str, args: Sequence[Sequence[object]]) -> None:
        """`send` once per argument tuple."""
        ...


# --- values out of rows, checked (the drivers type them as anything) -----------------------------------------------

def as_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"the database returned {type(value).__name__} where an integer belongs")


def as_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"the database returned {type(value).__name__} where bytes belong")


def as_str(value: object) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"the database returned {type(value).__name__} where text belongs")


def as_opt_str(value: object) -> str | None:
    return None if value is None else as_str(value)


def _d(value: _dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _date(value: object) -> _dt.date | None:
    text = as_opt_str(value)
    return _dt.date.fromisoformat(text) if text else None


def _required_date(value: object) -> _dt.date:
    return _dt.date.fromisoformat(as_str(value))


def _scope_where(scope: EntryScope, table: str) -> tuple[list[str], list[object]]:
    """The conditions (ANDed) and arguments that keep the entries of `scope`: `district = ?`, and the organisation
    among the exact codes or starting with a prefix. A prefix is compared as the leading characters
    (`substr(org, 1, n) = ?`), not by LIKE: exact and case-sensitive on both databases (SQLite's LIKE ignores ASCII
    case) and with no wildcard to escape. `table` qualifies the columns (e.g. "access_log.")."""
    conds: list[str] = []
    args: list[object] = []
    if scope.district is not None:
        conds.append(f"{table}district = ?")
        args.append(scope.district)
    if scope.orgs is not None:
        either = []
        if scope.exact:
            either.append(f"{table}org IN ({', '.join('?' * len(scope.exact))})")
            args += scope.exact
        for prefix in scope.prefixes:
            either.append(f"substr({table}org, 1, {len(prefix)}) = ?")
            args.append(prefix)
        conds.append("(" + " OR ".join(either) + ")")
    return conds, args


def _entry(seq: object, values: Sequence[object], others: object) -> AccessEntry:
    """An access-log row (seq, the ACCESS_COLS, the other subjects space-separated or NULL) as an entry."""
    (time, principal, serial, role, org, district, method, purpose, case_id, operator_id, subject, decision, reason,
     policy_version) = (as_str(v) for v in values)
    other = as_opt_str(others)
    return AccessEntry(time, principal, serial, role, org, district, method, purpose, case_id, operator_id, subject,
                       decision, reason, policy_version, seq=as_int(seq),
                       subjects=tuple(other.split()) if other else ())


class Subtrees:
    """Merkle subtrees as the current transaction sees them (for signing inside it): `known` nodes — the frontier
    the batch started from and every node it completed, exactly what it writes — from memory, any other from the
    database (a root needs only known ones; a consistency proof mostly)."""

    def __init__(self, sql: Sql, known: Mapping[Node, bytes] | None = None) -> None:
        self._sql = sql
        self._known = known or {}

    def subtree(self, level: int, index: int) -> bytes:
        node = self._known.get((level, index))
        if node is not None:
            return node
        rows = self._sql.rows("SELECT hash FROM merkle WHERE level = ? AND idx = ?", (level, index))
        if not rows:
            raise KeyError(f"no complete subtree at level {level}, index {index}")
        return as_bytes(rows[0][0])


class SqlStore:
    """Every operation of the storage port, over the backend's `_query` (a read) and `_write` (an atomic write)."""

    OTHERS: ClassVar[str]
    """SQL of an access_log row's other subjects, space-separated in order (blind indexes are hex), or NULL."""
    INSERT_NEW: ClassVar[str]
    """Insert unless a row with the same unique key is there; format fields table, cols, marks."""

    _cipher: FieldCipher
    _kept_frontier: tuple[int, dict[Node, bytes]] | None = None  # (log size, its frontier) this store last committed

    # --- what a backend supplies ----------------------------------------------------------------------------------
    def _query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """A read, as one statement."""
        raise NotImplementedError

    def _write(self, serialise: str | None = None) -> AbstractContextManager[Sql]:
        """The connection for a write: committed on exit, rolled back on error. With `serialise`, writers of that
        name (`records`, `access_log`) in this and other processes wait for each other, in one transaction."""
        raise NotImplementedError

    def _upsert(self, sql: Sql, table: str, key: Mapping[str, object], mac: bytes,
                values: Mapping[str, object]) -> bool:
        """Insert, or replace the row with this key if its content (mac) differs; True if anything changed."""
        raise NotImplementedError

    def _stamp(self) -> tuple[str, tuple[object, ...]]:
        """SQL (and its arguments) of the time an import or a publication is recorded at."""
        raise NotImplementedError

    def _nodes(self, sql: Sql, wanted: list[Node]) -> dict[Node, bytes]:
        """The stored subtrees among `wanted` (the frontier an append batch starts from)."""
        found: dict[Node, bytes] = {}
        for level, index in wanted:
            rows = sql.rows("SELECT hash FROM merkle WHERE level = ? AND idx = ?", (level, index))
            if rows:
                found[(level, index)] = as_bytes(rows[0][0])
        return found

    # --- records --------------------------------------------------------------------------------------------------
    def subject_index(self, who: IdNumber) -> str:
        return self._cipher.blind(who.value).hex()

    def _blind(self, who: IdNumber) -> bytes:
        return self._cipher.blind(who.value)

    def _mac(self, *parts: object) -> bytes:
        return self._cipher.blind("\x1f".join("" if p is None else str(p) for p in parts), "content")

    def _insert_new(self, sql: Sql, table: str, cols: Mapping[str, object]) -> bool:
        """Insert unless the same version is already there (the table's UNIQUE constraint); True if inserted."""
        statement = self.INSERT_NEW.format(table=table, cols=", ".join(cols), marks=", ".join("?" * len(cols)))
        return sql.run(statement, tuple(cols.values())) > 0

    def save_rows(self, rows: Sequence[Sequence[Record]]) -> list[bool]:
        """One transaction; writers serialised, so the latest version has the highest id even when several
        processes import at once. True for each row that changed anything (False: a duplicate)."""
        with self._write("records") as sql:
            changed = [False] * len(rows)
            facts: list[tuple[int, Fact]] = []
            for i, row in enumerate(rows):
                for rec in row:
                    if type(rec).__name__ in FACT_KINDS:
                        facts.append((i, rec))  # type: ignore[arg-type]  # FACT_KINDS holds the Fact types
                    elif self._save(sql, rec):
                        changed[i] = True
            if facts:
                self._save_facts(sql, facts, changed)
            return changed

    def _save(self, sql: Sql, rec: Record) -> bool:
        if isinstance(rec, Person):
            return self._save_person(sql, rec)
        if isinstance(rec, ResidenceRegistration):
            return self._save_registration(sql, rec)
        if isinstance(rec, Permit):
            return self._save_permit(sql, rec)
        if isinstance(rec, Guardianship):
            return self._save_guardianship(sql, rec)
        if type(rec).__name__ in FACT_KINDS:
            changed = [False]
            self._save_facts(sql, [(0, rec)], changed)
            return changed[0]
        raise TypeError(f"the store does not keep {type(rec).__name__} records")

    def _save_person(self, sql: Sql, rec: Person) -> bool:
        c = self._cipher
        mac = self._mac("p", rec.id_number.value, rec.name, rec.sex, rec.birth_date, rec.hukou_region, rec.talent)
        return self._upsert(sql, "persons", {"subject": self._blind(rec.id_number)}, mac, {
            "id_enc": c.encrypt(rec.id_number.value, "persons.id"), "name_enc": c.encrypt(rec.name, "persons.name"),
            "sex": rec.sex.value, "birth_date": _d(rec.birth_date), "hukou_region": rec.hukou_region,
            "talent": rec.talent.value if rec.talent else None})

    def _save_registration(self, sql: Sql, rec: ResidenceRegistration) -> bool:
        key = {"subject": self._blind(rec.id_number), "district": rec.district.code,
               "declared_on": _d(rec.declared_on)}
        return self._upsert(sql, "registrations", key, self._mac("r", rec.address, rec.housing_type),
                            {"address_enc": self._cipher.encrypt(rec.address, "registrations.address"),
                             "housing_type": rec.housing_type.value})

    def _save_permit(self, sql: Sql, rec: Permit) -> bool:
        c = self._cipher
        mac = self._mac("pm", rec.id_number.value, rec.district, rec.issued_on, rec.valid_until, rec.endorsed_on,
                        rec.state)
        return self._insert_new(sql, "permits", {
            "permit_key": c.blind(rec.permit_number, "permit"), "subject": self._blind(rec.id_number),
            "permit_no_enc": c.encrypt(rec.permit_number, "permits.number"), "district": rec.district.code,
            "issued_on": _d(rec.issued_on), "valid_until": _d(rec.valid_until), "endorsed_on": _d(rec.endorsed_on),
            "state": rec.state.value, "mac": mac})

    def _save_guardianship(self, sql: Sql, rec: Guardianship) -> bool:
        key = {"child": self._blind(rec.child), "guardian": self._blind(rec.guardian), "source": rec.source}
        return self._upsert(sql, "guardianships", key, self._mac("g", rec.relation),
                            {"guardian_enc": self._cipher.encrypt(rec.guardian.value, "guardianships.guardian"),
                             "relation": rec.relation})

    def _fact_ids(self, sql: Sql, count: int) -> range:
        """The next `count` facts.id values, taken from fact_order (inside the serialised records transaction)."""
        after = as_int(sql.rows("UPDATE fact_order SET next = next + ? RETURNING next", (count,))[0][0])
        return range(after - count, after)

    def _save_facts(self, sql: Sql, facts: Sequence[tuple[int, Fact]], changed: list[bool]) -> None:
        """Insert every version of the facts not yet stored, one row per subject, in the order given; mark in
        `changed` the rows (the first of each pair) that added any.

        All in one executemany: if it inserts every row or none (a new file, or a file imported again) that says
        which rows changed; a mix (a file partly imported before, a row twice in one batch) is undone to a savepoint
        and inserted one by one, which tells row by row. Ids are taken in order, so a later version of a fact
        gets a higher id than an earlier one of the same batch."""
        c = self._cipher
        rows: list[tuple[int, tuple[bytes, bytes, bytes, str]]] = []
        bodies: dict[str, list[str]] = {}  # by kind, in the order of `rows` (each kind's own column to encrypt for)
        for i, fact in facts:
            key = c.blind(codec.key_text(fact, NATURAL_KEYS[type(fact)]), "fact")
            body = codec.encode_text(fact)
            mac = c.blind(body, "content")
            kind = type(fact).__name__
            same_kind = bodies.setdefault(kind, [])
            for subject in dict.fromkeys(c.blind(s.value) for s in fact_subjects(fact)):
                rows.append((i, (subject, key, mac, kind)))
                same_kind.append(body)
        encrypted = {kind: iter(c.encrypt_many(texts, f"facts.{kind}")) for kind, texts in bodies.items()}
        ids = self._fact_ids(sql, len(rows))
        args = [(subject, key, mac, fact_id, kind, next(encrypted[kind]))
                for fact_id, (_, (subject, key, mac, kind)) in zip(ids, rows, strict=True)]
        statement = self.INSERT_NEW.format(table="facts", cols="subject, key, mac, id, kind, body_enc",
                                           marks="?, ?, ?, ?, ?, ?")
        sql.run("SAVEPOINT facts_batch")
        inserted = sql.run_many(statement, args)
        if inserted == len(args):
            for i, _ in rows:
                changed[i] = True
        elif inserted:
            sql.run("ROLLBACK TO SAVEPOINT facts_batch")
            for (i, _), one in zip(rows, args, strict=True):
                if sql.run(statement, one) > 0:
                    changed[i] = True
        sql.run("RELEASE SAVEPOINT facts_batch")

    def _decrypt(self, blob: object, column: str) -> str:
        return self._cipher.decrypt(as_bytes(blob), column)

    def person(self, who: IdNumber) -> Person | None:
        rows = self._query("SELECT id_enc, name_enc, sex, birth_date, hukou_region, talent FROM persons "
                           "WHERE subject = ?", (self._blind(who),))
        if not rows:
            return None
        id_enc, name_enc, sex, birth, region, talent = rows[0]
        talent_code = as_opt_str(talent)
        return Person(IdNumber(self._decrypt(id_enc, "persons.id")), self._decrypt(name_enc, "persons.name"),
                      Sex(as_str(sex)), _required_date(birth), as_opt_str(region),
                      TalentDesignation(talent_code) if talent_code else None)

    def registrations(self, who: IdNumber) -> list[ResidenceRegistration]:
        rows = self._query("SELECT district, declared_on, address_enc, housing_type FROM registrations "
                           "WHERE subject = ? ORDER BY declared_on", (self._blind(who),))
        return [ResidenceRegistration(who, District(as_str(d)), self._decrypt(a, "registrations.address"),
                                      _required_date(on), HousingType(as_str(h))) for d, on, a, h in rows]

    def permits(self, who: IdNumber) -> list[Permit]:
        """The latest version of each of the person's permits."""
        return self._permits(who, "AND p.id = (SELECT max(q.id) FROM permits q WHERE q.permit_key = p.permit_key) "
                                  "ORDER BY p.issued_on, p.valid_until")

    def permit_history(self, who: IdNumber) -> list[Permit]:
        """Every version of the person's permits, in the order they were first seen."""
        return self._permits(who, "ORDER BY p.id")

    def _permits(self, who: IdNumber, tail: str) -> list[Permit]:
        rows = self._query("SELECT p.permit_no_enc, p.district, p.issued_on, p.valid_until, p.endorsed_on, p.state "
                           f"FROM permits p WHERE p.subject = ? {tail}", (self._blind(who),))
        return [Permit(who, self._decrypt(n, "permits.number"), District(as_str(d)), _required_date(i),
                       _required_date(v), _date(e), PermitState(as_str(s))) for n, d, i, v, e, s in rows]

    def guardianships(self, child: IdNumber) -> list[Guardianship]:
        rows = self._query("SELECT guardian_enc, relation, source FROM guardianships WHERE child = ? "
                           "ORDER BY source", (self._blind(child),))
        return [Guardianship(child, IdNumber(self._decrypt(g, "guardianships.guardian")), as_str(rel), as_str(src))
                for g, rel, src in rows]

    def facts(self, who: IdNumber, kind: type | None = None) -> list[Fact]:
        sql = ("SELECT f.kind, f.body_enc FROM facts f WHERE f.subject = ? AND f.id = "
               "(SELECT max(g.id) FROM facts g WHERE g.key = f.key AND g.subject = f.subject)")
        args: list[object] = [self._blind(who)]
        if kind is not None:
            sql += " AND f.kind = ?"
            args.append(kind.__name__)
        rows = self._query(sql + " ORDER BY f.id", args)
        return [codec.decode(self._decrypt(b, f"facts.{as_str(k)}").encode("utf-8")) for k, b in rows]

    def latest_district(self, who: IdNumber) -> str | None:
        """District of the person's latest residence registration (decides a caller's scope)."""
        rows = self._query("SELECT district FROM registrations WHERE subject = ? ORDER BY declared_on DESC LIMIT 1",
                           (self._blind(who),))
        return as_str(rows[0][0]) if rows else None

    def wards(self, guardian: IdNumber) -> list[IdNumber]:
        """Children on record (any source) for whom this person is a guardian, if the PSB knows them."""
        rows = self._query("SELECT DISTINCT p.id_enc FROM guardianships g JOIN persons p ON p.subject = g.child "
                           "WHERE g.guardian = ?", (self._blind(guardian),))
        return sorted((IdNumber(self._decrypt(r[0], "persons.id")) for r in rows), key=lambda i: i.value)

    def people(self) -> list[IdNumber]:
        """Every person the PSB has registered (for aggregate statistics only)."""
        return [IdNumber(self._decrypt(r[0], "persons.id")) for r in self._query("SELECT id_enc FROM persons")]

    def registrations_declared(self, year: int) -> dict[str, int]:
        """Residence registrations declared in a year, by district (I-4)."""
        rows = self._query("SELECT district, count(*) FROM registrations WHERE declared_on >= ? AND declared_on < ? "
                           "GROUP BY district", (f"{year:04d}-01-01", f"{year + 1:04d}-01-01"))
        return {as_str(d): as_int(n) for d, n in rows}

    def published_statistics(self, month: str) -> str | None:
        rows = self._query("SELECT body FROM published_statistics WHERE month = ?", (month,))
        return as_str(rows[0][0]) if rows else None

    def publish_statistics(self, month: str, body: str) -> str:
        """Store a month's table unless one is already published; return the one in force (first one wins)."""
        stamp, stamp_args = self._stamp()
        with self._write() as sql:
            sql.run(self.INSERT_NEW.format(table="published_statistics", cols="month, time, body",
                                           marks=f"?, {stamp}, ?"), (month, *stamp_args, body))
            return as_str(sql.rows("SELECT body FROM published_statistics WHERE month = ?", (month,))[0][0])

    def record_import(self, run: ImportRun) -> None:
        stamp, stamp_args = self._stamp()
        with self._write() as sql:
            sql.run("INSERT INTO imports (time, bureau, file, sha256, read, accepted, rejected, duplicates, "
                    f"rejects_file) VALUES ({stamp}, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*stamp_args, run.bureau, run.file, run.sha256, run.read, run.accepted, run.rejected,
                     run.duplicates, run.rejects_file))

    def counts(self) -> dict[str, int]:
        """Rows per table, read in one statement (so from one snapshot)."""
        row = self._query("SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in COUNTED))[0]
        return {t: as_int(n) for t, n in zip(COUNTED, row, strict=True)}

    # --- revocations ----------------------------------------------------------------------------------------------
    def revocations(self) -> frozenset[str]:
        return frozenset(as_str(r[0]) for r in self._query("SELECT serial FROM revocations"))

    def add_revocation(self, serial: str) -> None:
        with self._write() as sql:
            self._insert_new(sql, "revocations", {"serial": serial, "time": now_rfc3339()})

    # --- access log -----------------------------------------------------------------------------------------------
    def append_access(self, entry: AccessEntry) -> int:
        return self.append_accesses([entry])[0]

    def append_accesses(self, entries: Sequence[AccessEntry], sign: HeadSigner | None = None,
                        leaves: Sequence[bytes] | None = None) -> list[int]:
        """Append entries as Merkle leaves in one durable transaction; return their sequence numbers.
        With `sign`, the signed checkpoint of the new tree is stored in the same transaction.

        Appenders are serialised (in other processes too), so entries never interleave with another batch's and
        each batch sees the log size the one before leaves. Entry seq N is leaf N-1; merkle gets every subtree a
        leaf completes (rfc9162.append_leaf), from the frontier of the log before the batch: the one this store kept
        from its own last batch if the log still has that size, else fetched.
        """
        with self._write("access_log") as sql:
            # The log's size and, to sign on top of, its latest head: one read (on PostgreSQL, one of the batch's
            # two waits; the other is its commit).
            size_value, head_note = sql.rows("SELECT coalesce(max(seq), 0), (SELECT note FROM checkpoints ORDER BY "
                                             "size DESC LIMIT 1) FROM access_log")[0]
            size = as_int(size_value)
            kept = self._kept_frontier
            nodes = dict(kept[1]) if kept is not None and kept[0] == size else self._nodes(sql, frontier(size))
            rows: list[Row] = []
            merkle: list[Row] = []
            others: list[Row] = []

            def completed(level: int, index: int, node: bytes) -> None:
                nodes[(level, index)] = node  # a later leaf of the batch may need it as its left sibling
                merkle.append((level, index, node))

            if leaves is None:
                leaves = [leaf_hash(entry.canonical_bytes()) for entry in entries]
            elif len(leaves) != len(entries):
                raise ValueError(f"{len(leaves)} leaf hashes for {len(entries)} entries")
            for index, (entry, leaf) in enumerate(zip(entries, leaves, strict=True), start=size):
                rows.append((index + 1, leaf, *_access_values(entry)))
                others.extend((index + 1, other) for other in entry.subjects)
                append_leaf(index, leaf, lambda level, i: nodes[(level, i)], completed)
            sql.send_many(f"INSERT INTO access_log (seq, leaf, {', '.join(ACCESS_COLS)}) "
                          f"VALUES ({', '.join('?' * (2 + len(ACCESS_COLS)))})", rows)
            sql.send_many("INSERT INTO merkle (level, idx, hash) VALUES (?, ?, ?)", merkle)
            if others:
                sql.send_many("INSERT INTO access_subjects (seq, subject) VALUES (?, ?)", others)
            if sign is not None and rows:
                root, note, drop = sign(size, size + len(rows), Subtrees(sql, nodes),
                                      None if head_note is None else as_str(head_note))
                if drop is not None:
                    sql.send("DELETE FROM checkpoints WHERE size = ?", (drop,))
                self._add_checkpoint(sql, size + len(rows), root, note)
        # Committed: keep the new frontier for the next batch. Only a committed one (a failed batch left none), and
        # used only while the log still holds exactly that many entries (another process, a worker or a replica,
        # may have appended since; then it is fetched again). The log is append-only, so its first `size` entries,
        # and the frontier they determine, never change.
        wanted = frontier(size + len(rows))
        self._kept_frontier = ((size + len(rows), {n: nodes[n] for n in wanted}) if all(n in nodes for n in wanted)
                               else None)  # a node missing from the store: fetch (and fail) next time as before
        return list(range(size + 1, size + 1 + len(rows)))

    def log_size(self) -> int:
        """Entries in the log: the highest seq (an index edge); append keeps seqs contiguous, so it is the count."""
        return as_int(self._query("SELECT coalesce(max(seq), 0) FROM access_log")[0][0])

    def subtree(self, level: int, index: int) -> bytes:
        """Hash of the complete aligned subtree of 2**level leaves from leaf index * 2**level (RFC 9162)."""
        rows = self._query("SELECT hash FROM merkle WHERE level = ? AND idx = ?", (level, index))
        if not rows:
            raise KeyError(f"no complete subtree at level {level}, index {index}")
        return as_bytes(rows[0][0])

    def leaf_hashes(self) -> Iterator[tuple[int, bytes, AccessEntry]]:
        """Every entry with its stored leaf hash, in order (for audit verify)."""
        for row in self._query(f"SELECT seq, leaf, {', '.join(ACCESS_COLS)}, {self.OTHERS} FROM access_log "
                               "ORDER BY seq"):
            yield as_int(row[0]), as_bytes(row[1]), _entry(row[0], row[2:-1], row[-1])

    @staticmethod
    def _add_checkpoint(sql: Sql, size: int, root: bytes, note: str) -> None:
        sql.send("INSERT INTO checkpoints (size, time, root, note) VALUES (?, ?, ?, ?)",
                 (size, now_rfc3339(), root, note))

    def add_checkpoint(self, size: int, root: bytes, note: str) -> None:
        with self._write() as sql:
            self._add_checkpoint(sql, size, root, note)

    def add_cosignatures(self, size: int, note: str) -> bool:
        with self._write() as sql:
            return sql.run("UPDATE checkpoints SET note = ? WHERE size = ?", (note, size)) == 1

    def checkpoints(self) -> list[tuple[int, bytes, str]]:
        return [(as_int(s), as_bytes(r), as_str(n))
                for s, r, n in self._query("SELECT size, root, note FROM checkpoints ORDER BY size")]

    def access_entries(self, query: AccessQuery) -> Iterator[AccessEntry]:
        conds: list[str] = []
        args: list[object] = []
        if query.subject:  # the entry's main subject or one of its others
            conds.append("(subject = ? OR seq IN (SELECT seq FROM access_subjects WHERE subject = ?))")
            args += [query.subject, query.subject]
        for col, op, val in (("principal", "=", query.principal),
                             ("org", "=", query.org), ("role", "=", query.role), ("purpose", "=", query.purpose),
                             ("decision", "=", query.decision), ("seq", "=", query.seq), ("time", ">=", query.since),
                             ("time", "<", query.until), ("seq", ">", query.after)):
            if val:
                conds.append(f"{col} {op} ?")
                args.append(val)
        scoped, scope_args = _scope_where(query.scope, "")
        conds += scoped
        args += scope_args
        sql = f"SELECT seq, {', '.join(ACCESS_COLS)}, {self.OTHERS} FROM access_log"
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        sql += " ORDER BY seq"
        if query.limit:
            sql += f" LIMIT {int(query.limit)}"
        for row in self._query(sql, args):
            yield _entry(row[0], row[1:-1], row[-1])

    def access_entries_at(self, seq: int) -> Iterator[AccessEntry]:
        return self.access_entries(AccessQuery(seq=seq))

    # --- the officers' console: aggregates, alerts and their acknowledgements, verifications ---------------------
    # Counts are made here, by GROUP BY over the leading part of the RFC 3339 UTC time (13 characters: the hour,
    # 10: the day), so a week of calls is never loaded. Alerts are matched with a literal, which lets both
    # databases use the partial index on them.
    _ALERT = f"decision = '{Decision.ALERT}'"
    _ACK_COLS = "alert_acks.time, alert_acks.officer, alert_acks.note_enc, alert_acks.log_seq"

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        rows = self._query("SELECT size, root, note, time FROM checkpoints ORDER BY size DESC LIMIT 1")
        if not rows:
            return None
        size, root, note, time = rows[0]
        return StoredCheckpoint(as_int(size), as_bytes(root), as_str(note), as_str(time))

    def _counts(self, width: int, key: str, conds: Sequence[str], args: Sequence[object]) -> list[CallCount]:
        where = " AND ".join([f"decision <> '{Decision.ALERT}'", "time >= ?", "time < ?", *conds])
        rows = self._query(f"SELECT substr(time, 1, {width}), {key}, decision, count(*) FROM access_log "
                           f"WHERE {where} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", args)
        return [CallCount(as_str(b), as_str(k), as_str(d), as_int(n)) for b, k, d, n in rows]

    def calls_by_hour(self, since: str, until: str, scope: EntryScope) -> list[CallCount]:
        conds, args = _scope_where(scope, "")
        return self._counts(13, "role", conds, [since, until, *args])

    def org_calls_by_day(self, org: str, since: str, until: str, scope: EntryScope) -> list[CallCount]:
        conds, args = _scope_where(scope, "")
        return self._counts(10, "purpose", ["org = ?", *conds], [since, until, org, *args])

    def _alerts_where(self, scope: EntryScope, open_only: bool) -> tuple[str, list[object]]:
        conds = [f"access_log.{self._ALERT}"]
        if open_only:
            conds.append("NOT EXISTS (SELECT 1 FROM alert_acks WHERE alert_acks.seq = access_log.seq)")
        scoped, args = _scope_where(scope, "access_log.")
        return " WHERE " + " AND ".join(conds + scoped), args

    def alert_count(self, scope: EntryScope, open_only: bool) -> int:
        where, args = self._alerts_where(scope, open_only)
        return as_int(self._query(f"SELECT count(*) FROM access_log{where}", args)[0][0])

    def alerts(self, scope: EntryScope, open_only: bool, offset: int,
               limit: int) -> list[tuple[AccessEntry, Acknowledgement | None]]:
        where, args = self._alerts_where(scope, open_only)
        cols = ", ".join(f"access_log.{c}" for c in ACCESS_COLS)
        rows = self._query(f"SELECT access_log.seq, {cols}, {self.OTHERS}, {self._ACK_COLS} FROM access_log "
                           f"LEFT JOIN alert_acks ON alert_acks.seq = access_log.seq{where} "
                           f"ORDER BY access_log.seq DESC LIMIT {max(int(limit), 0)} OFFSET {max(int(offset), 0)}",
                           args)
        width = 1 + len(ACCESS_COLS)
        return [(_entry(r[0], r[1:width], r[width]), self._ack(r[0], r[width + 1:])) for r in rows]

    def _ack(self, seq: object, row: Sequence[object]) -> Acknowledgement | None:
        time, officer, note_enc, log_seq = row
        if time is None:
            return None
        return Acknowledgement(as_int(seq), as_str(time), as_str(officer), self._decrypt(note_enc, "alert_acks.note"),
                               as_int(log_seq))

    def acknowledgement(self, alert_seq: int) -> Acknowledgement | None:
        rows = self._query(f"SELECT {self._ACK_COLS} FROM alert_acks WHERE seq = ?", (alert_seq,))
        return self._ack(alert_seq, rows[0]) if rows else None

    def add_acknowledgement(self, ack: Acknowledgement) -> bool:
        with self._write() as sql:
            return self._insert_new(sql, "alert_acks", {
                "seq": ack.alert_seq, "time": ack.time, "officer": ack.officer,
                "note_enc": self._cipher.encrypt(ack.note, "alert_acks.note"), "log_seq": ack.log_seq})

    def add_verification(self, record: VerificationRecord) -> None:
        with self._write() as sql:
            sql.run("INSERT INTO verifications (time, ok, size, message) VALUES (?, ?, ?, ?)",
                    (record.time, int(record.ok), record.size, record.message))

    def latest_verification(self) -> VerificationRecord | None:
        rows = self._query("SELECT time, ok, size, message FROM verifications ORDER BY id DESC LIMIT 1")
        if not rows:
            return None
        time, ok, size, message = rows[0]
        return VerificationRecord(as_str(time), as_int(ok) != 0, as_int(size), as_str(message))
