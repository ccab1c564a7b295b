"""PostgreSQL implementation of the storage port: the tables, semantics and encryption of sqlite.py, so that
operators who run PostgreSQL get the same gateway (no plaintext identity number, name or address at rest).
"""
from __future__ import annotations

import datetime as _dt
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg

from gateway.audit.entry import AccessEntry, now_rfc3339
from gateway.audit.rfc9162 import append_leaf, frontier, leaf_hash
from gateway.domain import clock
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
from gateway.store.pg_connect import CLOSE_WAIT_SECONDS, Reconnect
from gateway.store.pg_connect import connect_params as _connect_params
from gateway.store.port import AccessQuery, HeadSigner, ImportRun, StoreError, StoreUnavailable

__all__ = ["SCHEMA_VERSION", "PostgresStore", "StoreError", "StoreUnavailable"]

log = logging.getLogger("permitgw.store")

SCHEMA_VERSION = 2  # of the PostgreSQL schema (sqlite.py numbers its own)
# The other people an access-log entry is about, beyond access_log.subject (sqlite.py says why); version 1
# schemas lack only this, and get it when a gateway opens them.
ACCESS_SUBJECTS = """
CREATE TABLE access_subjects (
  seq BIGINT NOT NULL, subject ctext NOT NULL, PRIMARY KEY (seq, subject)
);
CREATE INDEX access_subjects_subject ON access_subjects(subject);
"""
# Created in one transaction in a fresh schema (PostgreSQL DDL is transactional: all of it or none).
# The comments of sqlite.py's SCHEMA apply table by table.
SCHEMA = """
CREATE DOMAIN ctext AS text COLLATE "C";
CREATE TABLE persons (
  subject BYTEA PRIMARY KEY, id_enc BYTEA NOT NULL, name_enc BYTEA NOT NULL,
  sex ctext NOT NULL, birth_date ctext NOT NULL, hukou_region ctext, talent ctext, mac BYTEA NOT NULL
);
CREATE TABLE registrations (
  subject BYTEA NOT NULL, district ctext NOT NULL, declared_on ctext NOT NULL,
  address_enc BYTEA NOT NULL, housing_type ctext NOT NULL, mac BYTEA NOT NULL,
  PRIMARY KEY (subject, district, declared_on)
);
CREATE TABLE permits (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  permit_key BYTEA NOT NULL, subject BYTEA NOT NULL, permit_no_enc BYTEA NOT NULL, district ctext NOT NULL,
  issued_on ctext NOT NULL, valid_until ctext NOT NULL, endorsed_on ctext, state ctext NOT NULL,
  mac BYTEA NOT NULL,
  UNIQUE (permit_key, mac)
);
CREATE INDEX permits_subject ON permits(subject);
CREATE TABLE guardianships (
  child BYTEA NOT NULL, guardian BYTEA NOT NULL, source ctext NOT NULL,
  guardian_enc BYTEA NOT NULL, relation ctext NOT NULL, mac BYTEA NOT NULL,
  PRIMARY KEY (child, guardian, source)
);
CREATE INDEX guardianships_guardian ON guardianships(guardian);
CREATE TABLE facts (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key BYTEA NOT NULL, subject BYTEA NOT NULL, kind ctext NOT NULL, body_enc BYTEA NOT NULL, mac BYTEA NOT NULL,
  UNIQUE (key, subject, mac)
);
CREATE INDEX facts_subject ON facts(subject, kind);
CREATE INDEX facts_key ON facts(key, subject);
CREATE TABLE access_log (
  seq BIGINT PRIMARY KEY,
  leaf BYTEA NOT NULL,
  time ctext NOT NULL, principal ctext NOT NULL, serial ctext NOT NULL, role ctext NOT NULL,
  org ctext NOT NULL, district ctext NOT NULL, method ctext NOT NULL, purpose ctext NOT NULL,
  case_id ctext NOT NULL, operator_id ctext NOT NULL, subject ctext NOT NULL, decision ctext NOT NULL,
  reason ctext NOT NULL, policy_version ctext NOT NULL
);
CREATE INDEX access_subject ON access_log(subject);
CREATE INDEX access_principal ON access_log(principal);
CREATE INDEX access_time ON access_log(time);
CREATE TABLE merkle (
  level INTEGER NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL, PRIMARY KEY (level, idx)
);
CREATE TABLE checkpoints (
  size BIGINT PRIMARY KEY, time ctext NOT NULL, root BYTEA NOT NULL, note TEXT NOT NULL
);
CREATE TABLE published_statistics (
  month ctext PRIMARY KEY, time ctext NOT NULL, body TEXT NOT NULL
);
CREATE TABLE imports (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, time ctext NOT NULL, bureau ctext NOT NULL,
  file TEXT NOT NULL, sha256 ctext NOT NULL, read BIGINT NOT NULL, accepted BIGINT NOT NULL,
  rejected BIGINT NOT NULL, duplicates BIGINT NOT NULL, rejects_file TEXT NOT NULL
);
CREATE TABLE schema_version (version INTEGER NOT NULL);
""" + ACCESS_SUBJECTS
# Revoked client certificates (hex serials), only ever added; also made in schemas created before it existed.
REVOCATIONS = "CREATE TABLE IF NOT EXISTS revocations (serial ctext PRIMARY KEY, time ctext NOT NULL)"
_ACCESS_COLS = ("time", "principal", "serial", "role", "org", "district", "method", "purpose", "case_id",
                "operator_id", "subject", "decision", "reason", "policy_version")
# The other subjects of an entry, space-separated in order (blind indexes are hex), read with the entry.
_OTHERS = ("(SELECT string_agg(s.subject, ' ' ORDER BY s.subject) FROM access_subjects s "
           "WHERE s.seq = access_log.seq)")
_TABLES = ("persons", "registrations", "permits", "guardianships", "facts", "access_log", "imports",
           "published_statistics")
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _entry(seq: object, values: Sequence[object], others: object) -> AccessEntry:
    return AccessEntry(*values, seq=int(seq), subjects=tuple(str(others).split()) if others else ())  # type: ignore[arg-type]


def _d(value: _dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _date(text: str | None) -> _dt.date | None:
    return _dt.date.fromisoformat(text) if text else None


def _utc_now() -> str:
    """The time as SQLite's datetime('now') writes it (UTC, seconds), for imports and publications."""
    return clock.now().strftime("%Y-%m-%d %H:%M:%S")


class _Subtrees:
    """Merkle subtrees as the current transaction sees them (for signing inside it)."""

    def __init__(self, db: psycopg.Connection) -> None:
        self._db = db

    def subtree(self, level: int, index: int) -> bytes:
        row = self._db.execute("SELECT hash FROM merkle WHERE level = %s AND idx = %s", (level, index)).fetchone()
        if row is None:
            raise KeyError(f"no complete subtree at level {level}, index {index}")
        return bytes(row[0])


class PostgresStore:
    """One connection shared under a lock (as SqliteStore); autocommit off, every call one explicit transaction.

    Durability: commits are synchronous — synchronous_commit=on, PostgreSQL's default (turned on for the session
    if the server has it off), makes COMMIT return only after the WAL record is fsync'd, as SQLite's
    synchronous=FULL does. Writers that must not interleave (record batches, access-log appends) take a
    transaction-level advisory lock, so several gateway processes may share one schema. Dates and times are ISO
    text in the "C" collation, so they sort and compare bytewise, as in SQLite, whatever the database's locale.
    """

    def __init__(self, dsn: str, cipher: FieldCipher, schema: str = "permitgw") -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise StoreError(f"PostgreSQL schema name {schema!r}: use lower-case letters, digits and _")
        self._cipher, self._schema = cipher, schema
        self._lock = threading.Lock()
        self._closed = False
        try:
            self._reconnect = Reconnect(_connect_params(dsn))
            self._db: psycopg.Connection = self._reconnect.open()
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}".strip()) from exc
        try:
            self._prepare_session(self._db)
            self._create_or_check_schema()
        except BaseException:
            self._db.close()
            raise

    # --- connection and schema -------------------------------------------------------------------
    def _prepare_session(self, db: psycopg.Connection) -> None:
        """Session settings, committed (so that no later rollback undoes them)."""
        with db.transaction():
            if db.execute("SHOW synchronous_commit").fetchone()[0] == "off":
                log.warning("synchronous_commit is off on this server: permitgw turns it on for its session")
                db.execute("SET synchronous_commit TO on")
            if db.execute("SHOW fsync").fetchone()[0] == "off":
                log.warning("PostgreSQL runs with fsync=off: committed gateway data may be lost in a crash")
            db.execute(f'SET search_path TO "{self._schema}"')

    def _live(self) -> psycopg.Connection:
        """The connection, reopened if it was lost (caller holds the lock); StoreUnavailable if it cannot be."""
        if not (self._db.closed or self._db.broken):
            return self._db
        if self._closed:
            raise StoreUnavailable("the store is closed")
        self._db.close()
        try:
            db = self._reconnect.open()
        except psycopg.Error as exc:
            raise StoreUnavailable(f"PostgreSQL is unreachable: {_first_line(exc)}") from exc
        try:
            self._prepare_session(db)
        except psycopg.Error as exc:
            db.close()
            self._reconnect.failed(exc)
            raise StoreUnavailable(f"PostgreSQL is unreachable: {_first_line(exc)}") from exc
        log.warning("reconnected to PostgreSQL")
        self._db = db
        return db

    def _create_or_check_schema(self) -> None:
        with self._db.transaction():
            self._serialise("schema")
            self._db.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
            if self._db.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
                self._create_tables()
                self._db.execute(REVOCATIONS)
                return
            row = self._db.execute("SELECT max(version) FROM schema_version").fetchone()
            if row[0] == 1:
                self._db.execute(ACCESS_SUBJECTS)
                self._db.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION,))
                self._db.execute(REVOCATIONS)
                return
            if row[0] == SCHEMA_VERSION:
                self._db.execute(REVOCATIONS)
        if row[0] != SCHEMA_VERSION:
            raise StoreError(f"PostgreSQL schema {self._schema} has schema version {row[0]}; this gateway needs "
                             f"{SCHEMA_VERSION} (no automatic migration yet: import into a fresh schema)")

    def _create_tables(self) -> None:
        try:
            self._db.execute(SCHEMA)
        except (psycopg.errors.DuplicateObject, psycopg.errors.DuplicateTable) as exc:
            raise StoreError(f"PostgreSQL schema {self._schema} holds tables that are not a permit gateway's "
                             f"({exc}): give [store] postgres_schema another name") from exc
        self._db.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION,))

    def _serialise(self, what: str) -> None:
        """Hold a transaction-level advisory lock on `what` in this schema until COMMIT or ROLLBACK."""
        self._db.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                         (f"permitgw:{self._schema}:{what}",))

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection]:
        """The connection, locked, in a transaction committed (synchronously) on exit, rolled back on error.

        A lost connection (killed backend, server restart, network) raises StoreUnavailable and is reopened by
        the next call. A commit whose acknowledgement was lost may or may not have happened: the caller is
        told the store is unavailable and must not assume either way.
        """
        with self._lock:
            db = self._live()
            try:
                with db.transaction():
                    yield db
            except psycopg.Error as exc:
                if db.closed or db.broken:
                    raise StoreUnavailable(f"PostgreSQL connection lost: {_first_line(exc)}") from exc
                if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):  # e.g. cancelled, shutting down
                    raise StoreUnavailable(f"PostgreSQL did not complete the statement: {_first_line(exc)}") from exc
                raise

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """A read: tried once more, on a new connection, if the connection turned out to be lost (reads are
        idempotent, so a reader does not notice a connection killed while idle)."""
        try:
            with self._transaction() as db:
                return db.execute(sql, tuple(args)).fetchall()
        except StoreUnavailable:
            if not (self._db.closed or self._db.broken):
                raise
        with self._transaction() as db:
            return db.execute(sql, tuple(args)).fetchall()

    # --- records -------------------------------------------------------------------------------
    def subject_index(self, who: IdNumber) -> str:
        return self._cipher.blind(who.value).hex()

    def _mac(self, *parts: object) -> bytes:
        return self._cipher.blind("\x1f".join("" if p is None else str(p) for p in parts), "content")

    def _upsert(self, table: str, key: dict[str, object], mac: bytes, values: dict[str, object]) -> bool:
        """Insert, or replace the row with this key if its content differs; True if anything changed."""
        cols = {**key, **values, "mac": mac}
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in key)
        cur = self._db.execute(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} WHERE {table}.mac <> EXCLUDED.mac",
            tuple(cols.values()))
        return cur.rowcount > 0

    def _insert_new(self, table: str, cols: dict[str, object]) -> bool:
        """Insert unless the same version is already there (the table's UNIQUE constraint); True if inserted."""
        cur = self._db.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
                               "ON CONFLICT DO NOTHING", tuple(cols.values()))
        return cur.rowcount > 0

    def _save(self, rec: Record) -> bool:
        if isinstance(rec, Person):
            return self._save_person(rec)
        if isinstance(rec, ResidenceRegistration):
            return self._save_registration(rec)
        if isinstance(rec, Permit):
            return self._save_permit(rec)
        if isinstance(rec, Guardianship):
            return self._save_guardianship(rec)
        if type(rec).__name__ in FACT_KINDS:
            return self._save_fact(rec)
        raise TypeError(f"the store does not keep {type(rec).__name__} records")

    def _save_person(self, rec: Person) -> bool:
        c = self._cipher
        mac = self._mac("p", rec.id_number.value, rec.name, rec.sex, rec.birth_date, rec.hukou_region, rec.talent)
        return self._upsert("persons", {"subject": c.blind(rec.id_number.value)}, mac, {
            "id_enc": c.encrypt(rec.id_number.value, "persons.id"), "name_enc": c.encrypt(rec.name, "persons.name"),
            "sex": rec.sex.value, "birth_date": _d(rec.birth_date), "hukou_region": rec.hukou_region,
            "talent": rec.talent.value if rec.talent else None})

    def _save_registration(self, rec: ResidenceRegistration) -> bool:
        c = self._cipher
        key = {"subject": c.blind(rec.id_number.value), "district": rec.district.code,
               "declared_on": _d(rec.declared_on)}
        return self._upsert("registrations", key, self._mac("r", rec.address, rec.housing_type),
                            {"address_enc": c.encrypt(rec.address, "registrations.address"),
                             "housing_type": rec.housing_type.value})

    def _save_permit(self, rec: Permit) -> bool:
        c = self._cipher
        mac = self._mac("pm", rec.id_number.value, rec.district, rec.issued_on, rec.valid_until, rec.endorsed_on,
                        rec.state)
        return self._insert_new("permits", {
            "permit_key": c.blind(rec.permit_number, "permit"), "subject": c.blind(rec.id_number.value),
            "permit_no_enc": c.encrypt(rec.permit_number, "permits.number"), "district": rec.district.code,
            "issued_on": _d(rec.issued_on), "valid_until": _d(rec.valid_until), "endorsed_on": _d(rec.endorsed_on),
            "state": rec.state.value, "mac": mac})

    def _save_guardianship(self, rec: Guardianship) -> bool:
        c = self._cipher
        key = {"child": c.blind(rec.child.value), "guardian": c.blind(rec.guardian.value), "source": rec.source}
        return self._upsert("guardianships", key, self._mac("g", rec.relation),
                            {"guardian_enc": c.encrypt(rec.guardian.value, "guardianships.guardian"),
                             "relation": rec.relation})

    def _save_fact(self, fact: Fact) -> bool:
        c = self._cipher
        key = c.blind(codec.key_text(fact, NATURAL_KEYS[type(fact)]), "fact")
        body = codec.encode(fact).decode("utf-8")
        mac = c.blind(body, "content")
        kind = type(fact).__name__
        changed = False
        for subject in {c.blind(s.value) for s in fact_subjects(fact)}:
            inserted = self._insert_new("facts", {"key": key, "subject": subject, "kind": kind,
                                                  "body_enc": c.encrypt(body, f"facts.{kind}"), "mac": mac})
            changed = changed or inserted
        return changed

    def save_rows(self, rows: Sequence[Sequence[Record]]) -> list[bool]:
        """One transaction; writers serialised (as SQLite's BEGIN IMMEDIATE), so the latest version has the
        highest id even when several processes import at once."""
        with self._transaction():
            self._serialise("records")
            return [any([self._save(r) for r in row]) for row in rows]

    def person(self, who: IdNumber) -> Person | None:
        rows = self._query("SELECT id_enc, name_enc, sex, birth_date, hukou_region, talent FROM persons "
                           "WHERE subject = %s", (self._cipher.blind(who.value),))
        if not rows:
            return None
        id_enc, name_enc, sex, birth, region, talent = rows[0]
        return Person(IdNumber(self._cipher.decrypt(id_enc, "persons.id")),
                      self._cipher.decrypt(name_enc, "persons.name"), Sex(sex), _date(birth),
                      region, TalentDesignation(talent) if talent else None)

    def registrations(self, who: IdNumber) -> list[ResidenceRegistration]:
        rows = self._query("SELECT district, declared_on, address_enc, housing_type FROM registrations "
                           "WHERE subject = %s ORDER BY declared_on", (self._cipher.blind(who.value),))
        return [ResidenceRegistration(who, District(d), self._cipher.decrypt(a, "registrations.address"),
                                      _date(on), HousingType(h)) for d, on, a, h in rows]

    def permits(self, who: IdNumber) -> list[Permit]:
        """The latest version of each of the person's permits."""
        return self._permits(who, "AND p.id = (SELECT max(q.id) FROM permits q WHERE q.permit_key = p.permit_key) "
                                  "ORDER BY p.issued_on, p.valid_until")

    def permit_history(self, who: IdNumber) -> list[Permit]:
        """Every version of the person's permits, in the order they were first seen."""
        return self._permits(who, "ORDER BY p.id")

    def _permits(self, who: IdNumber, tail: str) -> list[Permit]:
        rows = self._query("SELECT p.permit_no_enc, p.district, p.issued_on, p.valid_until, p.endorsed_on, p.state "
                           f"FROM permits p WHERE p.subject = %s {tail}", (self._cipher.blind(who.value),))
        return [Permit(who, self._cipher.decrypt(n, "permits.number"), District(d), _date(i), _date(v),
                       _date(e), PermitState(s)) for n, d, i, v, e, s in rows]

    def guardianships(self, child: IdNumber) -> list[Guardianship]:
        rows = self._query("SELECT guardian_enc, relation, source FROM guardianships WHERE child = %s "
                           "ORDER BY source", (self._cipher.blind(child.value),))
        return [Guardianship(child, IdNumber(self._cipher.decrypt(g, "guardianships.guardian")), rel, src)
                for g, rel, src in rows]

    def facts(self, who: IdNumber, kind: type | None = None) -> list[Fact]:
        sql = ("SELECT f.kind, f.body_enc FROM facts f WHERE f.subject = %s AND f.id = "
               "(SELECT max(g.id) FROM facts g WHERE g.key = f.key AND g.subject = f.subject)")
        args: list[object] = [self._cipher.blind(who.value)]
        if kind is not None:
            sql += " AND f.kind = %s"
            args.append(kind.__name__)
        rows = self._query(sql + " ORDER BY f.id", args)
        return [codec.decode(self._cipher.decrypt(b, f"facts.{k}").encode("utf-8")) for k, b in rows]

    def latest_district(self, who: IdNumber) -> str | None:
        """District of the person's latest residence registration (decides a caller's scope)."""
        rows = self._query("SELECT district FROM registrations WHERE subject = %s ORDER BY declared_on DESC LIMIT 1",
                           (self._cipher.blind(who.value),))
        return str(rows[0][0]) if rows else None

    def wards(self, guardian: IdNumber) -> list[IdNumber]:
        """Children on record (any source) for whom this person is a guardian, if the PSB knows them."""
        rows = self._query("SELECT DISTINCT p.id_enc FROM guardianships g JOIN persons p ON p.subject = g.child "
                           "WHERE g.guardian = %s", (self._cipher.blind(guardian.value),))
        return sorted((IdNumber(self._cipher.decrypt(r[0], "persons.id")) for r in rows), key=lambda i: i.value)

    def people(self) -> list[IdNumber]:
        """Every person the PSB has registered (for aggregate statistics only)."""
        return [IdNumber(self._cipher.decrypt(r[0], "persons.id")) for r in self._query("SELECT id_enc FROM persons")]

    def registrations_declared(self, year: int) -> dict[str, int]:
        """Residence registrations declared in a year, by district (I-4)."""
        rows = self._query("SELECT district, count(*) FROM registrations WHERE declared_on >= %s AND declared_on < %s "
                           "GROUP BY district", (f"{year:04d}-01-01", f"{year + 1:04d}-01-01"))
        return {str(d): int(n) for d, n in rows}

    def published_statistics(self, month: str) -> str | None:
        rows = self._query("SELECT body FROM published_statistics WHERE month = %s", (month,))
        return str(rows[0][0]) if rows else None

    def publish_statistics(self, month: str, body: str) -> str:
        """Store a month's table unless one is already published; return the one in force (first one wins)."""
        with self._transaction() as db:
            db.execute("INSERT INTO published_statistics (month, time, body) VALUES (%s, %s, %s) "
                       "ON CONFLICT (month) DO NOTHING", (month, _utc_now(), body))
            return db.execute("SELECT body FROM published_statistics WHERE month = %s", (month,)).fetchone()[0]

    # --- revocations -------------------------------------------------------------------------
    def revocations(self) -> frozenset[str]:
        return frozenset(str(r[0]) for r in self._query("SELECT serial FROM revocations"))

    def add_revocation(self, serial: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO revocations (serial, time) VALUES (%s, %s) ON CONFLICT (serial) DO NOTHING",
                       (serial, _utc_now()))

    # --- access log ----------------------------------------------------------------------------
    def append_access(self, entry: AccessEntry) -> int:
        return self.append_accesses([entry])[0]

    def append_accesses(self, entries: Sequence[AccessEntry], sign: HeadSigner | None = None) -> list[int]:
        """Append entries as Merkle leaves in one durable transaction; return their sequence numbers.
        With `sign`, the signed checkpoint of the new tree is stored in the same transaction.

        The advisory lock makes appenders in other processes wait until this transaction ends, so their
        entries never interleave with these and each sees the log size this one leaves.
        """
        with self._transaction() as db:
            self._serialise("access_log")
            size = int(db.execute("SELECT coalesce(max(seq), 0) FROM access_log").fetchone()[0])
            nodes = self._subtrees(frontier(size))  # every left sibling this batch can need, in one query
            rows, merkle, others = [], [], []

            def completed(level: int, index: int, node: bytes) -> None:
                nodes[(level, index)] = node  # a later leaf of the batch may need it as its left sibling
                merkle.append((level, index, node))

            for index, entry in enumerate(entries, start=size):
                leaf = leaf_hash(entry.canonical_bytes())
                rows.append((index + 1, leaf, *(getattr(entry, c) for c in _ACCESS_COLS)))
                others.extend((index + 1, other) for other in entry.subjects)
                append_leaf(index, leaf, lambda level, i: nodes[(level, i)], completed)
            with db.cursor() as cur:
                cur.executemany(f"INSERT INTO access_log (seq, leaf, {', '.join(_ACCESS_COLS)}) "
                                f"VALUES ({', '.join(['%s'] * (2 + len(_ACCESS_COLS)))})", rows)
                cur.executemany("INSERT INTO merkle (level, idx, hash) VALUES (%s, %s, %s)", merkle)
                if others:
                    cur.executemany("INSERT INTO access_subjects (seq, subject) VALUES (%s, %s)", others)
            if sign is not None and rows:
                head = db.execute("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
                root, note, drop = sign(size, size + len(rows), _Subtrees(db), str(head[0]) if head else None)
                if drop is not None:
                    db.execute("DELETE FROM checkpoints WHERE size = %s", (drop,))
                db.execute("INSERT INTO checkpoints (size, time, root, note) VALUES (%s, %s, %s, %s)",
                           (size + len(rows), now_rfc3339(), root, note))
        return [r[0] for r in rows]

    def _subtrees(self, wanted: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        if not wanted:
            return {}
        levels, indexes = zip(*wanted, strict=True)
        rows = self._db.execute("SELECT m.level, m.idx, m.hash FROM merkle m JOIN unnest(%s::int[], %s::bigint[]) "
                                "AS w(level, idx) ON m.level = w.level AND m.idx = w.idx",
                                (list(levels), list(indexes))).fetchall()
        return {(int(lv), int(ix)): bytes(h) for lv, ix, h in rows}

    def log_size(self) -> int:
        """Entries in the log: the highest seq, which append keeps equal to the count (and reads an index)."""
        return int(self._query("SELECT coalesce(max(seq), 0) FROM access_log")[0][0])

    def subtree(self, level: int, index: int) -> bytes:
        """Hash of the complete aligned subtree of 2**level leaves from leaf index * 2**level (RFC 9162)."""
        rows = self._query("SELECT hash FROM merkle WHERE level = %s AND idx = %s", (level, index))
        if not rows:
            raise KeyError(f"no complete subtree at level {level}, index {index}")
        return bytes(rows[0][0])

    def leaf_hashes(self) -> Iterator[tuple[int, bytes, AccessEntry]]:
        """Every entry with its stored leaf hash, in order (for audit verify)."""
        for row in self._query(f"SELECT seq, leaf, {', '.join(_ACCESS_COLS)}, {_OTHERS} FROM access_log ORDER BY seq"):
            yield int(row[0]), bytes(row[1]), _entry(row[0], row[2:-1], row[-1])

    def add_checkpoint(self, size: int, root: bytes, note: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO checkpoints (size, time, root, note) VALUES (%s, %s, %s, %s)",
                       (size, now_rfc3339(), root, note))

    def add_cosignatures(self, size: int, note: str) -> bool:
        with self._transaction() as db:
            return db.execute("UPDATE checkpoints SET note = %s WHERE size = %s", (note, size)).rowcount == 1

    def checkpoints(self) -> list[tuple[int, bytes, str]]:
        return [(int(s), bytes(r), str(n)) for s, r, n in self._query("SELECT size, root, note FROM checkpoints "
                                                                      "ORDER BY size")]

    def access_entries(self, query: AccessQuery) -> Iterator[AccessEntry]:
        conds: list[str] = []
        args: list[object] = []
        if query.subject:  # the entry's main subject or one of its others
            conds.append("(subject = %s OR seq IN (SELECT seq FROM access_subjects WHERE subject = %s))")
            args += [query.subject, query.subject]
        for col, op, val in (("principal", "=", query.principal),
                             ("org", "=", query.org), ("role", "=", query.role), ("purpose", "=", query.purpose),
                             ("decision", "=", query.decision), ("seq", "=", query.seq), ("time", ">=", query.since),
                             ("time", "<", query.until)):
            if val:
                conds.append(f"{col} {op} %s")
                args.append(val)
        sql = f"SELECT seq, {', '.join(_ACCESS_COLS)}, {_OTHERS} FROM access_log"
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        sql += " ORDER BY seq"
        if query.limit:
            sql += f" LIMIT {int(query.limit)}"
        for row in self._query(sql, args):
            yield _entry(row[0], row[1:-1], row[-1])

    def access_entries_at(self, seq: int) -> Iterator[AccessEntry]:
        return self.access_entries(AccessQuery(seq=seq))

    def record_import(self, run: ImportRun) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO imports (time, bureau, file, sha256, read, accepted, rejected, duplicates, "
                       "rejects_file) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                       (_utc_now(), run.bureau, run.file, run.sha256, run.read, run.accepted, run.rejected,
                        run.duplicates, run.rejects_file))

    def counts(self) -> dict[str, int]:
        with self._transaction() as db:
            return {t: int(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in _TABLES}

    def close(self) -> None:
        """Close the connection; waits a bounded time for a statement in flight, then closes regardless."""
        self._closed = True  # no reconnecting after this
        locked = self._lock.acquire(timeout=CLOSE_WAIT_SECONDS)
        try:
            self._db.close()
        finally:
            if locked:
                self._lock.release()


def _first_line(exc: BaseException) -> str:
    """A driver error in one line (libpq's messages span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__
