"""SQLite implementation of the storage port (WAL, synchronous=FULL): the schema, opening (read-only too), and
how sql_core's statements run here (one connection under a lock; BEGIN IMMEDIATE for serialised writers).

Identity numbers, names, addresses and permit numbers are stored only as AES-GCM ciphertext, and
found by HMAC blind index (store/crypto.py); an operator reading the file sees neither.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from gateway.store.anomaly_counts import ANOMALY_TABLES_SQLITE, AnomalyCounts
from gateway.store.crypto import FieldCipher
from gateway.store.port import StoreError, StoreUnavailable
from gateway.store.quota_sql import SQLITE_QUOTA_TABLES, QuotaSql
from gateway.store.sql_core import Row, Sql, SqlStore

SCHEMA_VERSION = 5
_UPGRADABLE = (3, 4)  # versions whose databases SCHEMA brings up to date by itself (it only adds tables and indexes)
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
-- What the officers' console reads and records (schema version 5; made in older databases when opened).
-- The console's week of calls per hour and an organisation's report count a time range; its alert list reads
-- the alert entries newest first (a partial index: alerts are few among the entries).
CREATE INDEX IF NOT EXISTS access_time ON access_log(time);
CREATE INDEX IF NOT EXISTS access_org_time ON access_log(org, time);
CREATE INDEX IF NOT EXISTS access_alerts ON access_log(seq) WHERE decision = 'alert';
-- An officer's acknowledgement of an alert entry (seq), at most one each; log_seq is the access-log entry that
-- records it. The note is free text and may name people: AES-GCM ciphertext, as the records' fields.
CREATE TABLE IF NOT EXISTS alert_acks (
  seq INTEGER PRIMARY KEY, time TEXT NOT NULL, officer TEXT NOT NULL, note_enc BLOB NOT NULL,
  log_seq INTEGER NOT NULL
);
-- Each full verification of the log (what `permitgw audit verify` checks) and its outcome (ok 1 or 0).
CREATE TABLE IF NOT EXISTS verifications (
  id INTEGER PRIMARY KEY, time TEXT NOT NULL, ok INTEGER NOT NULL, size INTEGER NOT NULL, message TEXT NOT NULL
);
"""
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


class SqliteStore(SqlStore, QuotaSql, AnomalyCounts):
    """One connection shared under a lock: SQLite serialises writers anyway, and WAL keeps reads cheap."""

    # The other subjects of an entry, space-separated (blind indexes are hex), read with the entry.
    OTHERS = "(SELECT group_concat(s.subject, ' ') FROM access_subjects s WHERE s.seq = access_log.seq)"
    INSERT_NEW = "INSERT OR IGNORE INTO {table} ({cols}) VALUES ({marks})"

    def __init__(self, path: Path, cipher: FieldCipher, *, read_only: bool = False) -> None:
        self._cipher = cipher
        self._lock = threading.Lock()
        if read_only:
            try:
                self._db = _open_read_only(path)
                self._sql = _Connection(self._db)
                found = self._sql.rows("PRAGMA user_version")[0][0]
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
            self._sql = _Connection(self._db)
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
            found = self._sql.rows("PRAGMA user_version")[0][0]
            if found not in (0, SCHEMA_VERSION, *_UPGRADABLE):
                raise StoreError(f"{path} has schema version {found}; this gateway needs {SCHEMA_VERSION} "
                                 "(no automatic migration yet: re-import into a fresh data directory)")
            self._db.executescript(SCHEMA)
            self._db.executescript(SQLITE_QUOTA_TABLES)
            self._db.executescript(ANOMALY_TABLES_SQLITE)  # shared anomaly counts (store/anomaly_counts.py)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # --- how sql_core's statements run here ----------------------------------------------------------------------
    def _query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        with self._lock:
            return self._sql.rows(sql, args)

    @contextmanager
    def _write(self, serialise: str | None = None) -> Iterator[Sql]:
        """Under the lock; a serialised write is one BEGIN IMMEDIATE transaction (SQLite has one writer at a time
        anyway), any other a single statement in autocommit."""
        with self._lock:
            if serialise is None:
                yield self._sql
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._sql
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _quota_write(self, principal: str) -> Iterator[Sql]:
        """A quota check's transaction: BEGIN IMMEDIATE, as every serialised write here (one writer at a time
        across processes). A database that stays locked past the busy timeout, or cannot be written, is
        StoreUnavailable: the call fails closed."""
        try:
            with self._write("quota") as sql:
                yield sql
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"the quota count cannot be kept right now: {exc}") from exc

    def _upsert(self, sql: Sql, table: str, key: Mapping[str, object], mac: bytes,
                values: Mapping[str, object]) -> bool:
        where = " AND ".join(f"{k} = ?" for k in key)
        found = sql.rows(f"SELECT mac FROM {table} WHERE {where}", tuple(key.values()))
        if found and found[0][0] == mac:
            return False
        cols = {**key, **values, "mac": mac}
        sql.run(f"INSERT OR REPLACE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                tuple(cols.values()))
        return True

    def _stamp(self) -> tuple[str, tuple[object, ...]]:
        return "datetime('now')", ()

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _Connection:
    """The sqlite3 connection as sql_core.Sql (sqlite3 takes the core's ? marks as they are)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def rows(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        return self._db.execute(sql, tuple(args)).fetchall()

    def run(self, sql: str, args: Sequence[object] = ()) -> int:
        return self._db.execute(sql, tuple(args)).rowcount

    def run_many(self, sql: str, args: Sequence[Sequence[object]]) -> None:
        self._db.executemany(sql, args)
