"""SQLite implementation of the storage port (WAL, synchronous=FULL): opening (read-only too) at the schema version
of migrations_sqlite.py (migrating only when asked), and how sql_core's statements run here (writes on one
connection under a lock, BEGIN IMMEDIATE for serialised writers and for each migration step; reads on a small
bounded pool of their own connections, so that a read never waits while the writer fsyncs: sqlite_readers.py).

Identity numbers, names, addresses and permit numbers are stored only as AES-GCM ciphertext, and
found by HMAC blind index (store/crypto.py); an operator reading the file sees neither.
"""
from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from gateway.domain import clock
from gateway.store import migrations
from gateway.store.anomaly_counts import AnomalyCounts
from gateway.store.crypto import FieldCipher
from gateway.store.migrations_sqlite import PLAN, SCHEMA_VERSION_TABLE
from gateway.store.port import StoreError, StoreUnavailable
from gateway.store.quota_sql import QuotaSql
from gateway.store.sql_core import Row, Sql, SqlStore, as_int
from gateway.store.sqlite_readers import Readers

SCHEMA_VERSION = PLAN.latest  # the tables themselves, and how older databases reach them: migrations_sqlite.py


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


def _open_reader(path: Path) -> sqlite3.Connection:
    """A connection for reads beside the writer: query_only (a read path can never write), autocommit (each
    statement its own snapshot: the latest commit when it starts)."""
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=BUSY_SECONDS)
    db.execute("PRAGMA query_only=ON")
    return db


BUSY_SECONDS = 5.0  # how long a writer waits for another process's write transaction (Python's default too)
_FIRST_RETRY, _MAX_RETRY = 50e-6, 1e-3  # seconds between attempts to take the write lock, doubling


def begin_immediate(db: sqlite3.Connection, wait: float = BUSY_SECONDS) -> None:
    """BEGIN IMMEDIATE on a connection whose busy timeout is 0, waiting at most `wait` seconds for another
    process's write transaction to end.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25... ms between attempts: with several processes
    writing one file (serve --workers) a writer often slept far longer than the transaction it waited for took.
    Here the attempts come 50 µs apart at first, doubling to 1 ms; past `wait` the "database is locked" error is
    raised as before.
    """
    deadline = time.monotonic() + wait
    delay = _FIRST_RETRY
    while True:
        try:
            db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, _MAX_RETRY)


class _BusyTimeout:
    """The writer connection's busy timeout, set only when it must change: 0 for serialised writes (which retry
    BEGIN IMMEDIATE themselves), BUSY_SECONDS for anything else. A batch of the access log then runs no PRAGMA: each
    statement releases and retakes the GIL, which on a busy server costs more than the statement."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db, self._patient = db, True  # sqlite3.connect's default timeout is 5 s

    def immediate(self) -> None:
        if self._patient:
            self._db.execute("PRAGMA busy_timeout = 0")
            self._patient = False

    def patient(self) -> None:
        if not self._patient:
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
            self._patient = True


_COUNTS = ("quota", "anomaly:")  # serialised writes of the shared counters (see SqliteStore._write)


class SqliteStore(SqlStore, QuotaSql, AnomalyCounts):
    """Writes on one connection shared under a lock (SQLite serialises writers anyway); reads on their own
    connections (WAL lets them run beside the writer, each on the latest committed snapshot)."""

    # The other subjects of an entry, space-separated (blind indexes are hex), read with the entry.
    OTHERS = "(SELECT group_concat(s.subject, ' ') FROM access_subjects s WHERE s.seq = access_log.seq)"
    INSERT_NEW = "INSERT OR IGNORE INTO {table} ({cols}) VALUES ({marks})"
    schema_change: migrations.SchemaChange  # what opening found and did (`permitgw migrate` prints it)

    def __init__(self, path: Path, cipher: FieldCipher, *, read_only: bool = False, migrate: bool = False) -> None:
        """Open the database at `path`, creating it if it holds nothing yet; one of an older schema version is
        migrated if `migrate` (`permitgw migrate`, `init`) and refused otherwise (migrations.SchemaBehind)."""
        self._cipher = cipher
        self._lock = threading.Lock()
        self._readers: Readers | None = None  # read-only: every read on the one connection, under the lock
        if read_only:
            try:
                self._db = _open_read_only(path)
                self._sql = _Connection(self._db)
                self._busy = _BusyTimeout(self._db)
                found = as_int(self._sql.rows("PRAGMA user_version")[0][0])
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{path} is damaged or not a gateway database ({exc}): restore it from a backup"
                                 ) from exc
            self.schema_change = migrations.SchemaChange(found, found, f"sqlite {path}")
            try:
                if found == 0:
                    raise StoreError(f"{path} is not a gateway database (no schema version)")
                migrations.check(PLAN, found, f"sqlite {path}")
            except StoreError:
                self._db.close()
                raise
            return
        try:
            if not path.exists():  # SQLite gives -wal and -shm the database file's mode: private from the start
                os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None,
                                       timeout=BUSY_SECONDS)
            self._sql = _Connection(self._db)
            self._busy = _BusyTimeout(self._db)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{path}: cannot open the database ({exc})") from exc
        try:
            self._open(path, migrate)
        except sqlite3.OperationalError as exc:  # locked, unreadable, disk I/O: not (known to be) damage
            self._db.close()
            raise StoreError(f"{path}: cannot use the database ({exc})") from exc
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(f"{path} is damaged or not a gateway database ({exc}): restore it from a backup") from exc
        except BaseException:
            self._db.close()
            raise
        self._readers = Readers(lambda: _open_reader(path))

    def _open(self, path: Path, migrate: bool) -> None:
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        target = _Migrations(self._db, self._lock, self._sql, path, self._busy)
        if migrate:
            self.schema_change = migrations.migrate(PLAN, target)
            return
        with self._lock:  # the usual case, without taking the write lock: the current version
            found = target.version()
        if found == SCHEMA_VERSION:
            self.schema_change = migrations.SchemaChange(found, found, target.where)
            return
        self.schema_change = migrations.open_current(PLAN, target)

    # --- how sql_core's statements run here ----------------------------------------------------------------------
    def _query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """A read on a reader connection: it sees every transaction committed before it began (a write of this
        store returns only after its COMMIT), and waits for no writer. A read-only store reads on its one connection.
        """
        if self._readers is None:
            with self._lock:
                return self._sql.rows(sql, args)
        readers = self._readers
        db = readers.take()
        try:
            return db.execute(sql, tuple(args)).fetchall()
        finally:
            readers.give_back(db)

    @contextmanager
    def _write(self, serialise: str | None = None) -> Iterator[Sql]:
        """Under the lock; a serialised write is one BEGIN IMMEDIATE transaction (SQLite has one writer at a time
        anyway), any other a single statement in autocommit.

        Quota and anomaly counts commit with synchronous=NORMAL: in WAL mode that skips the fsync of their own
        commit but not their order in the WAL, and the access-log entry of the call they counted commits later with
        synchronous=FULL, whose fsync makes every earlier frame durable too. So a crash can lose only counts of
        calls that were never answered (as PostgreSQL's asynchronous commit of the same transactions), and a call
        pays one fsync, its log entry's, instead of three."""
        with self._lock:
            if serialise is None:
                self._busy.patient()
                yield self._sql
                return
            counting = serialise.startswith(_COUNTS)
            if counting:
                self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                self._busy.immediate()
                begin_immediate(self._db)
                try:
                    yield self._sql
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            finally:
                if counting:
                    self._db.execute("PRAGMA synchronous=FULL")

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
        if self._readers is not None:
            self._readers.close()
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

    def run_many(self, sql: str, args: Sequence[Sequence[object]]) -> int:
        return self._db.executemany(sql, args).rowcount

    def send(self, sql: str, args: Sequence[object] = ()) -> None:
        self._db.execute(sql, tuple(args))

    def send_many(self, sql: str, args: Sequence[Sequence[object]]) -> None:
        self._db.executemany(sql, args)


class _Migrations:
    """This database as the migration runner's target: BEGIN IMMEDIATE transactions, PRAGMA user_version."""

    failures: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock, sql: _Connection, path: Path,
                 busy: _BusyTimeout) -> None:
        self._db, self._lock, self._sql, self._path, self._busy = db, lock, sql, path, busy
        self.where = f"sqlite {path}"

    @contextmanager
    def transaction(self) -> Iterator[Sql]:
        with self._lock:
            self._busy.patient()  # another process migrating: wait for it (SQLite's busy handler, up to 5 s)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._sql
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def version(self) -> int:
        found = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if found == 0 and self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise StoreError(f"{self._path} holds tables but no schema version: not a gateway database")
        return found

    def script(self, sql: str) -> None:
        for statement in statements(sql):
            self._db.execute(statement)

    def record(self, version: int) -> None:
        self.script(SCHEMA_VERSION_TABLE)
        self._db.execute(f"PRAGMA user_version={int(version)}")
        self._db.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                         (version, clock.now().astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")))


def statements(script: str) -> Iterator[str]:
    """The statements of a script, one by one (executescript would commit the transaction they must run in)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    rest = "".join(line for line in pending.splitlines() if not line.strip().startswith("--"))
    if rest.strip():
        raise StoreError(f"an incomplete SQL statement at the end of a migration: {rest.strip()[:60]!r}")
