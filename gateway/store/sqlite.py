"""SQLite implementation of the storage port (WAL, synchronous=FULL).

Identity numbers, names, addresses and permit numbers are stored only as AES-GCM ciphertext, and
found by HMAC blind index (store/crypto.py); an operator reading the file sees neither.
"""
from __future__ import annotations

import datetime as _dt
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from gateway.audit.entry import AccessEntry, now_rfc3339
from gateway.audit.rfc9162 import append_leaf, leaf_hash
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
from gateway.store.port import AccessQuery, HeadSigner, ImportRun, StoreError

SCHEMA_VERSION = 4
_UPGRADABLE = (3,)  # versions whose databases SCHEMA brings up to date by itself (it only adds tables)
SCHEMA = """
CREATE TABLE IF NOT EXISTS persons (
  subject BLOB PRIMARY KEY,          -- blind index of the identity number
  id_enc BLOB NOT NULL, name_enc BLOB NOT NULL,
  sex TEXT NOT NULL, birth_date TEXT NOT NULL, hukou_region TEXT, talent TEXT,
  mac BLOB NOT NULL                  -- keyed digest of the content: re-imports change nothing
);
CREATE TABLE IF NOT EXISTS registrations (
  subject BLOB NOT NULL, district TEXT NOT NULL, declared_on TEXT NOT NULL,
  address_enc BLOB NOT NULL, housing_type TEXT NOT NULL, mac BLOB NOT NULL,
  PRIMARY KEY (subject, district, declared_on)
);
-- Every version of a permit seen, once (an endorsement extends valid_until; a revocation changes state):
-- points need the history to see a late endorsement; status reads the latest version of each permit.
CREATE TABLE IF NOT EXISTS permits (
  id INTEGER PRIMARY KEY,
  permit_key BLOB NOT NULL,          -- blind index of the permit number
  subject BLOB NOT NULL, permit_no_enc BLOB NOT NULL, district TEXT NOT NULL,
  issued_on TEXT NOT NULL, valid_until TEXT NOT NULL, endorsed_on TEXT, state TEXT NOT NULL,
  mac BLOB NOT NULL,
  UNIQUE (permit_key, mac)
);
CREATE INDEX IF NOT EXISTS permits_subject ON permits(subject);
CREATE TABLE IF NOT EXISTS guardianships (
  child BLOB NOT NULL, guardian BLOB NOT NULL, source TEXT NOT NULL,
  guardian_enc BLOB NOT NULL, relation TEXT NOT NULL, mac BLOB NOT NULL,
  PRIMARY KEY (child, guardian, source)
);
-- Every version of a fact ever seen, once: a re-import of any file (even one holding two versions of
-- one fact) finds all its versions present and changes nothing. The current version of a fact is the
-- one first seen last (highest id).
CREATE TABLE IF NOT EXISTS facts (
  id INTEGER PRIMARY KEY,
  key BLOB NOT NULL,                 -- keyed digest of the fact's natural key (domain/records.NATURAL_KEYS)
  subject BLOB NOT NULL,             -- blind index of a person the fact is about (one row each)
  kind TEXT NOT NULL,
  body_enc BLOB NOT NULL,            -- the whole fact, encrypted (store/codec.py)
  mac BLOB NOT NULL,                 -- keyed digest of the content: identifies the version
  UNIQUE (key, subject, mac)
);
CREATE INDEX IF NOT EXISTS facts_subject ON facts(subject, kind);
CREATE INDEX IF NOT EXISTS facts_key ON facts(key, subject);
-- The access log is a Merkle log (RFC 9162): entry seq N is leaf N-1; `leaf` is its leaf hash, and
-- merkle holds the hash of every complete aligned subtree (2**level leaves from idx * 2**level), written
-- in the same transaction as the entries that complete it. checkpoints holds the signed tree heads.
CREATE TABLE IF NOT EXISTS access_log (
  seq INTEGER PRIMARY KEY,
  leaf BLOB NOT NULL,
  time TEXT NOT NULL, principal TEXT NOT NULL, serial TEXT NOT NULL, role TEXT NOT NULL,
  org TEXT NOT NULL, district TEXT NOT NULL, method TEXT NOT NULL, purpose TEXT NOT NULL,
  case_id TEXT NOT NULL, operator_id TEXT NOT NULL, subject TEXT NOT NULL, decision TEXT NOT NULL,
  reason TEXT NOT NULL, policy_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS access_subject ON access_log(subject);
-- The other people an entry is about, beyond access_log.subject (the adults named as a child's guardians):
-- one row each, so that a search by subject, a subject access report and quotas find them too.
CREATE TABLE IF NOT EXISTS access_subjects (
  seq INTEGER NOT NULL, subject TEXT NOT NULL, PRIMARY KEY (seq, subject)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS access_subjects_subject ON access_subjects(subject);
CREATE TABLE IF NOT EXISTS merkle (
  level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
  size INTEGER PRIMARY KEY, time TEXT NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS access_principal ON access_log(principal);
-- Statistics tables as first published (I-5): frozen, because a second suppression pattern for the same
-- month, combined with the first, could reveal suppressed cells.
CREATE TABLE IF NOT EXISTS published_statistics (
  month TEXT PRIMARY KEY, time TEXT NOT NULL, body TEXT NOT NULL
);
-- Revoked client certificates (hex serials): kept here so that losing or emptying certs/revoked.txt is
-- noticed (the server then fails closed) instead of lifting revocations. Rows are only ever added.
CREATE TABLE IF NOT EXISTS revocations (serial TEXT PRIMARY KEY, time TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS imports (
  id INTEGER PRIMARY KEY, time TEXT NOT NULL, bureau TEXT NOT NULL, file TEXT NOT NULL,
  sha256 TEXT NOT NULL, read INTEGER NOT NULL, accepted INTEGER NOT NULL, rejected INTEGER NOT NULL,
  duplicates INTEGER NOT NULL, rejects_file TEXT NOT NULL
);
"""
_ACCESS_COLS = ("time", "principal", "serial", "role", "org", "district", "method", "purpose", "case_id",
                "operator_id", "subject", "decision", "reason", "policy_version")
# The other subjects of an entry, space-separated (blind indexes are hex), read with the entry.
_OTHERS = "(SELECT group_concat(s.subject, ' ') FROM access_subjects s WHERE s.seq = access_log.seq)"


def _entry(seq: int, values: Sequence[object], others: str | None) -> AccessEntry:
    return AccessEntry(*values, seq=seq, subjects=tuple(others.split()) if others else ())  # type: ignore[arg-type]


def _d(value: _dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _date(text: str | None) -> _dt.date | None:
    return _dt.date.fromisoformat(text) if text else None


def _open_read_only(path: Path) -> sqlite3.Connection:
    """Open for reading without creating anything: no database file where there is none, and no -wal or
    -shm beside a cleanly closed one (then the file alone is the whole database, read as immutable)."""
    if not path.is_file():
        raise StoreError(f"{path} does not exist")
    wal = path.with_name(path.name + "-wal").exists()
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("" if wal else "&immutable=1")
    try:
        return sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: {exc}") from exc


class _Subtrees:
    """Merkle subtrees as the current transaction sees them (for signing inside it)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def subtree(self, level: int, index: int) -> bytes:
        row = self._db.execute("SELECT hash FROM merkle WHERE level=? AND idx=?", (level, index)).fetchone()
        if row is None:
            raise KeyError(f"no complete subtree at level {level}, index {index}")
        return bytes(row[0])


class SqliteStore:
    """One connection shared under a lock: SQLite serialises writers anyway, and WAL keeps reads cheap."""

    def __init__(self, path: Path, cipher: FieldCipher, *, read_only: bool = False) -> None:
        self._cipher = cipher
        self._lock = threading.Lock()
        if read_only:
            try:
                self._db = _open_read_only(path)
                found = self._db.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{path} is damaged or not a gateway database ({exc}): restore it from a backup"
                                 ) from exc
            if found != SCHEMA_VERSION:
                self._db.close()
                raise StoreError(f"{path} is not a gateway database of schema version {SCHEMA_VERSION}")
            return
        try:
            if not path.exists():  # SQLite gives -wal and -shm the database file's mode: private from the start
                os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{path}: cannot open the database ({exc})") from exc
        try:
            self._open(path)
        except sqlite3.OperationalError as exc:  # locked, unreadable, disk I/O: not (known to be) damage
            self._db.close()
            raise StoreError(f"{path}: cannot use the database ({exc})") from exc
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(f"{path} is damaged or not a gateway database ({exc}): restore it from a backup") from exc
        except BaseException:
            self._db.close()
            raise

    def _open(self, path: Path) -> None:
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            found = self._db.execute("PRAGMA user_version").fetchone()[0]
            if found not in (0, SCHEMA_VERSION, *_UPGRADABLE):
                raise StoreError(f"{path} has schema version {found}; this gateway needs {SCHEMA_VERSION} "
                                 "(no automatic migration yet: re-import into a fresh data directory)")
            self._db.executescript(SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # --- records -------------------------------------------------------------------------------
    def subject_index(self, who: IdNumber) -> str:
        return self._cipher.blind(who.value).hex()

    def _mac(self, *parts: object) -> bytes:
        return self._cipher.blind("\x1f".join("" if p is None else str(p) for p in parts), "content")

    def _upsert(self, table: str, key: dict[str, object], mac: bytes, values: dict[str, object]) -> bool:
        where = " AND ".join(f"{k}=?" for k in key)
        row = self._db.execute(f"SELECT mac FROM {table} WHERE {where}", tuple(key.values())).fetchone()
        if row is not None and row[0] == mac:
            return False
        cols = {**key, **values, "mac": mac}
        names = ",".join(cols)
        marks = ",".join("?" * len(cols))
        self._db.execute(f"INSERT OR REPLACE INTO {table} ({names}) VALUES ({marks})", tuple(cols.values()))
        return True

    def _save(self, rec: Record) -> bool:
        c = self._cipher
        if isinstance(rec, Person):
            s = c.blind(rec.id_number.value)
            mac = self._mac("p", rec.id_number.value, rec.name, rec.sex, rec.birth_date, rec.hukou_region,
                            rec.talent)
            return self._upsert("persons", {"subject": s}, mac, {
                "id_enc": c.encrypt(rec.id_number.value, "persons.id"),
                "name_enc": c.encrypt(rec.name, "persons.name"), "sex": rec.sex.value,
                "birth_date": _d(rec.birth_date), "hukou_region": rec.hukou_region,
                "talent": rec.talent.value if rec.talent else None})
        if isinstance(rec, ResidenceRegistration):
            s = c.blind(rec.id_number.value)
            mac = self._mac("r", rec.address, rec.housing_type)
            return self._upsert("registrations",
                                {"subject": s, "district": rec.district.code, "declared_on": _d(rec.declared_on)},
                                mac, {"address_enc": c.encrypt(rec.address, "registrations.address"),
                                      "housing_type": rec.housing_type.value})
        if isinstance(rec, Permit):
            mac = self._mac("pm", rec.id_number.value, rec.district, rec.issued_on, rec.valid_until,
                            rec.endorsed_on, rec.state)
            cur = self._db.execute(
                "INSERT OR IGNORE INTO permits (permit_key, subject, permit_no_enc, district, issued_on, valid_until, "
                "endorsed_on, state, mac) VALUES (?,?,?,?,?,?,?,?,?)",
                (c.blind(rec.permit_number, "permit"), c.blind(rec.id_number.value),
                 c.encrypt(rec.permit_number, "permits.number"), rec.district.code, _d(rec.issued_on),
                 _d(rec.valid_until), _d(rec.endorsed_on), rec.state.value, mac))
            return cur.rowcount > 0
        if isinstance(rec, Guardianship):
            return self._upsert("guardianships", {"child": c.blind(rec.child.value),
                                                  "guardian": c.blind(rec.guardian.value), "source": rec.source},
                                self._mac("g", rec.relation),
                                {"guardian_enc": c.encrypt(rec.guardian.value, "guardianships.guardian"),
                                 "relation": rec.relation})
        if type(rec).__name__ in FACT_KINDS:
            return self._save_fact(rec)
        raise TypeError(f"the store does not keep {type(rec).__name__} records")

    def _save_fact(self, fact: Fact) -> bool:
        c = self._cipher
        key = c.blind(codec.key_text(fact, NATURAL_KEYS[type(fact)]), "fact")
        body = codec.encode(fact).decode("utf-8")
        mac = c.blind(body, "content")
        kind = type(fact).__name__
        changed = False
        for subject in {c.blind(s.value) for s in fact_subjects(fact)}:
            cur = self._db.execute("INSERT OR IGNORE INTO facts (key, subject, kind, body_enc, mac) VALUES (?,?,?,?,?)",
                                   (key, subject, kind, c.encrypt(body, f"facts.{kind}"), mac))
            changed = changed or cur.rowcount > 0
        return changed

    def save_rows(self, rows: Sequence[Sequence[Record]]) -> list[bool]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                changed = [any([self._save(r) for r in row]) for row in rows]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return changed

    def _query(self, sql: str, args: tuple[object, ...]) -> list[tuple[object, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def person(self, who: IdNumber) -> Person | None:
        rows = self._query("SELECT id_enc, name_enc, sex, birth_date, hukou_region, talent FROM persons "
                           "WHERE subject=?", (self._cipher.blind(who.value),))
        if not rows:
            return None
        id_enc, name_enc, sex, birth, region, talent = rows[0]
        return Person(IdNumber(self._cipher.decrypt(id_enc, "persons.id")),
                      self._cipher.decrypt(name_enc, "persons.name"), Sex(sex), _date(birth),
                      region, TalentDesignation(talent) if talent else None)

    def registrations(self, who: IdNumber) -> list[ResidenceRegistration]:
        rows = self._query("SELECT district, declared_on, address_enc, housing_type FROM registrations "
                           "WHERE subject=? ORDER BY declared_on", (self._cipher.blind(who.value),))
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
                           f"FROM permits p WHERE p.subject=? {tail}", (self._cipher.blind(who.value),))
        return [Permit(who, self._cipher.decrypt(n, "permits.number"), District(d), _date(i), _date(v),
                       _date(e), PermitState(s)) for n, d, i, v, e, s in rows]

    def guardianships(self, child: IdNumber) -> list[Guardianship]:
        rows = self._query("SELECT guardian_enc, relation, source FROM guardianships WHERE child=? "
                           "ORDER BY source", (self._cipher.blind(child.value),))
        return [Guardianship(child, IdNumber(self._cipher.decrypt(g, "guardianships.guardian")), rel, src)
                for g, rel, src in rows]

    def facts(self, who: IdNumber, kind: type | None = None) -> list[Fact]:
        subject = self._cipher.blind(who.value)
        sql = ("SELECT f.kind, f.body_enc FROM facts f WHERE f.subject=? AND f.id = "
               "(SELECT max(g.id) FROM facts g WHERE g.key=f.key AND g.subject=f.subject)")
        args: list[object] = [subject]
        if kind is not None:
            sql += " AND f.kind=?"
            args.append(kind.__name__)
        rows = self._query(sql + " ORDER BY f.id", tuple(args))
        return [codec.decode(self._cipher.decrypt(b, f"facts.{k}").encode("utf-8")) for k, b in rows]

    def latest_district(self, who: IdNumber) -> str | None:
        """District of the person's latest residence registration (decides a caller's scope)."""
        rows = self._query("SELECT district FROM registrations WHERE subject=? ORDER BY declared_on DESC LIMIT 1",
                           (self._cipher.blind(who.value),))
        return rows[0][0] if rows else None

    def wards(self, guardian: IdNumber) -> list[IdNumber]:
        """Children on record (any source) for whom this person is a guardian, if the PSB knows them."""
        rows = self._query("SELECT DISTINCT p.id_enc FROM guardianships g JOIN persons p ON p.subject = g.child "
                           "WHERE g.guardian=?", (self._cipher.blind(guardian.value),))
        return sorted((IdNumber(self._cipher.decrypt(r[0], "persons.id")) for r in rows), key=lambda i: i.value)

    def people(self) -> list[IdNumber]:
        """Every person the PSB has registered (for aggregate statistics only)."""
        rows = self._query("SELECT id_enc FROM persons", ())
        return [IdNumber(self._cipher.decrypt(r[0], "persons.id")) for r in rows]

    def registrations_declared(self, year: int) -> dict[str, int]:
        """Residence registrations declared in a year, by district (I-4)."""
        rows = self._query("SELECT district, count(*) FROM registrations WHERE declared_on >= ? AND declared_on < ? "
                           "GROUP BY district", (f"{year:04d}-01-01", f"{year + 1:04d}-01-01"))
        return {d: int(n) for d, n in rows}

    def published_statistics(self, month: str) -> str | None:
        rows = self._query("SELECT body FROM published_statistics WHERE month=?", (month,))
        return rows[0][0] if rows else None

    def publish_statistics(self, month: str, body: str) -> str:
        """Store a month's table unless one is already published; return the one in force."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO published_statistics (month, time, body) "
                             "VALUES (?, datetime('now'), ?)", (month, body))
            return self._db.execute("SELECT body FROM published_statistics WHERE month=?", (month,)).fetchone()[0]

    # --- revocations -------------------------------------------------------------------------
    def revocations(self) -> frozenset[str]:
        return frozenset(str(r[0]) for r in self._query("SELECT serial FROM revocations", ()))

    def add_revocation(self, serial: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO revocations (serial, time) VALUES (?, ?)", (serial, now_rfc3339()))

    # --- access log ----------------------------------------------------------------------------
    def append_access(self, entry: AccessEntry) -> int:
        return self.append_accesses([entry])[0]

    def append_accesses(self, entries: Sequence[AccessEntry], sign: HeadSigner | None = None) -> list[int]:
        """Append entries as Merkle leaves in one durable transaction; return their sequence numbers.

        With `sign`, the signed checkpoint of the new tree is stored in the same transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                size = before = self._db.execute("SELECT coalesce(max(seq), 0) FROM access_log").fetchone()[0]
                seqs = []
                for entry in entries:
                    leaf = leaf_hash(entry.canonical_bytes())
                    values = (size + 1, leaf, *(getattr(entry, c) for c in _ACCESS_COLS))
                    self._db.execute(f"INSERT INTO access_log (seq, leaf, {','.join(_ACCESS_COLS)}) "
                                     f"VALUES (?, ?, {','.join('?' * len(_ACCESS_COLS))})", values)
                    self._db.executemany("INSERT INTO access_subjects (seq, subject) VALUES (?, ?)",
                                         [(size + 1, other) for other in entry.subjects])
                    self._add_leaf(size, leaf)
                    size += 1
                    seqs.append(size)
                if sign is not None and entries:
                    head = self._db.execute("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
                    root, note, drop = sign(before, size, _Subtrees(self._db), head[0] if head else None)
                    if drop is not None:
                        self._db.execute("DELETE FROM checkpoints WHERE size=?", (drop,))
                    self._db.execute("INSERT INTO checkpoints (size, time, root, note) VALUES (?, ?, ?, ?)",
                                     (size, now_rfc3339(), root, note))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return seqs

    def _add_leaf(self, index: int, leaf: bytes) -> None:
        """Store the leaf and every aligned subtree it completes (rfc9162.append_leaf)."""
        append_leaf(index, leaf, _Subtrees(self._db).subtree, self._store_node)

    def _store_node(self, level: int, index: int, node: bytes) -> None:
        self._db.execute("INSERT INTO merkle (level, idx, hash) VALUES (?, ?, ?)", (level, index, node))

    def log_size(self) -> int:
        """Entries in the log: the highest seq (a b-tree edge, O(1)); seqs are contiguous by construction."""
        return int(self._query("SELECT coalesce(max(seq), 0) FROM access_log", ())[0][0])

    def subtree(self, level: int, index: int) -> bytes:
        """Hash of the complete aligned subtree of 2**level leaves from leaf index * 2**level (RFC 9162)."""
        rows = self._query("SELECT hash FROM merkle WHERE level=? AND idx=?", (level, index))
        if not rows:
            raise KeyError(f"no complete subtree at level {level}, index {index}")
        return bytes(rows[0][0])

    def leaf_hashes(self) -> Iterator[tuple[int, bytes, AccessEntry]]:
        """Every entry with its stored leaf hash, in order (for audit verify)."""
        for row in self._query(f"SELECT seq, leaf, {','.join(_ACCESS_COLS)}, {_OTHERS} FROM access_log ORDER BY seq",
                               ()):
            yield row[0], bytes(row[1]), _entry(row[0], row[2:-1], row[-1])

    def add_checkpoint(self, size: int, root: bytes, note: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO checkpoints (size, time, root, note) VALUES (?, ?, ?, ?)",
                             (size, now_rfc3339(), root, note))

    def add_cosignatures(self, size: int, note: str) -> bool:
        with self._lock:
            return self._db.execute("UPDATE checkpoints SET note=? WHERE size=?", (note, size)).rowcount == 1

    def checkpoints(self) -> list[tuple[int, bytes, str]]:
        return [(int(s), bytes(r), n) for s, r, n in self._query("SELECT size, root, note FROM checkpoints "
                                                                 "ORDER BY size", ())]

    def access_entries(self, query: AccessQuery) -> Iterator[AccessEntry]:
        conds: list[str] = []
        args: list[object] = []
        if query.subject:  # the entry's main subject or one of its others
            conds.append("(subject = ? OR seq IN (SELECT seq FROM access_subjects WHERE subject = ?))")
            args += [query.subject, query.subject]
        for col, op, val in (("principal", "=", query.principal),
                             ("org", "=", query.org), ("role", "=", query.role), ("purpose", "=", query.purpose),
                             ("decision", "=", query.decision), ("seq", "=", query.seq), ("time", ">=", query.since),
                             ("time", "<", query.until)):
            if val:
                conds.append(f"{col} {op} ?")
                args.append(val)
        sql = f"SELECT seq, {','.join(_ACCESS_COLS)}, {_OTHERS} FROM access_log"
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        sql += " ORDER BY seq"
        if query.limit:
            sql += f" LIMIT {int(query.limit)}"
        for row in self._query(sql, tuple(args)):
            yield _entry(row[0], row[1:-1], row[-1])

    def access_entries_at(self, seq: int) -> Iterator[AccessEntry]:
        return self.access_entries(AccessQuery(seq=seq))

    def record_import(self, run: ImportRun) -> None:
        with self._lock:
            self._db.execute("INSERT INTO imports (time, bureau, file, sha256, read, accepted, rejected, "
                             "duplicates, rejects_file) VALUES (datetime('now'),?,?,?,?,?,?,?,?)",
                             (run.bureau, run.file, run.sha256, run.read, run.accepted, run.rejected,
                              run.duplicates, run.rejects_file))

    def counts(self) -> dict[str, int]:
        return {t: int(self._query(f"SELECT count(*) FROM {t}", ())[0][0])
                for t in ("persons", "registrations", "permits", "guardianships", "facts", "access_log", "imports",
                          "published_statistics")}

    def close(self) -> None:
        with self._lock:
            self._db.close()
