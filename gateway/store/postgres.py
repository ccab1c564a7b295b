"""PostgreSQL implementation of the storage port: the tables, semantics and encryption of sqlite.py, so that
operators who run PostgreSQL get the same gateway (no plaintext identity number, name or address at rest).

Here: opening at the schema version of migrations_postgres.py (migrating only when asked), the session, five
connections (other writes; the access log, quota checks and anomaly counts, a pipelined "lane" each; reads), each
reopened once lost (StoreUnavailable meanwhile), advisory locks for serialised writers, and the dialect's upsert;
the statements are sql_core's.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager

import psycopg
from psycopg.rows import TupleRow

from gateway.domain import clock
from gateway.policy.bundle import Files, PushedPolicy
from gateway.store import migrations, pg_policy
from gateway.store.anomaly_counts import AnomalyCounts
from gateway.store.crypto import FieldCipher
from gateway.store.migrations_postgres import PLAN, SCHEMA_VERSION_TABLE
from gateway.store.pg_connect import CLOSE_WAIT_SECONDS, Reconnect
from gateway.store.pg_connect import connect_params as _connect_params
from gateway.store.port import StoreError, StoreUnavailable
from gateway.store.quota_sql import QuotaSql
from gateway.store.sql_core import Node, Row, Sql, SqlStore, as_bytes, as_int

__all__ = ["SCHEMA_VERSION", "PostgresStore", "StoreError", "StoreUnavailable"]

log = logging.getLogger("permitgw.store")

Connection = psycopg.Connection[TupleRow]

SCHEMA_VERSION = PLAN.latest  # of the PostgreSQL schema (sqlite.py numbers its own): migrations_postgres.py
# A quota check's transaction: its settings (PostgresStore._quota_write says why) and then the principal's advisory
# lock, in one statement, not three: every statement costs the gateway ~45 us of psycopg, and a quota transaction is
# made for every two or three checks under load. The settings are made in a subquery the lock's row is read from
# (OFFSET 0 keeps the planner from merging the two): the lock is asked for only once the lock_timeout bounding its
# wait holds.
QUOTA_LOCK_TIMEOUT = "5s"
QUOTA_BEGIN = ("SELECT pg_advisory_xact_lock(hashtextextended(?, 0)) FROM (SELECT "
               f"set_config('lock_timeout', '{QUOTA_LOCK_TIMEOUT}', true), "
               "set_config('synchronous_commit', 'off', true) OFFSET 0) AS settings")
# The hot writes with a connection each, in pipeline mode for good (PostgresStore._transaction): the access log's
# batches, quota checks, anomaly counts.
LANES = ("log", "quota", "anomaly")
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _utc_now() -> str:
    """The time as SQLite's datetime('now') writes it (UTC, seconds), for imports and publications."""
    return clock.now().strftime("%Y-%m-%d %H:%M:%S")


def _value(db: Connection, sql: str, args: Sequence[object] = ()) -> object:
    """The first column of the one row a statement answers (SHOW, an aggregate...)."""
    row = db.execute(sql, tuple(args)).fetchone()
    if row is None:
        raise StoreError(f"PostgreSQL answered no row to {sql.split()[0]}")
    return row[0]


@functools.lru_cache(maxsize=256)
def _marks(sql: str) -> str:
    """sql_core's ? marks as psycopg's %s (the core's statements hold no other ? and no %)."""
    return sql.replace("?", "%s")


def _closed_if_lost(db: Connection, exc: psycopg.Error) -> bool:
    """Whether `exc` means the connection itself is gone; if so it is closed, so that its next user opens a new one.

    Gone: closed or broken, or an error with no SQLSTATE (the server said nothing) — psycopg raises "connection socket
    closed" when poll() sees the socket hang up before libpq has marked the connection broken, and a connection left
    open then would be used again."""
    lost = db.closed or db.broken or (isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
                                      and exc.sqlstate is None)
    if lost:
        db.close()
    return lost


@contextmanager
def _lane_transaction(sql: _Connection, pipeline: psycopg.Pipeline) -> Iterator[None]:
    """A transaction on a lane's connection (autocommit, always in pipeline mode): BEGIN is queued with the
    statements that follow it, COMMIT waits once; on any error (also one that surfaces at the COMMIT) the
    transaction is rolled back. A quota check waits twice in all (its usage read, the commit), an access-log batch
    twice (the log's size and head, the commit)."""
    sql.send("BEGIN")
    try:
        yield
        sql.send("COMMIT")
        pipeline.sync()
    except BaseException:
        with contextlib.suppress(psycopg.Error):  # after a failed statement the server skips all up to a Sync…
            pipeline.sync()
        with contextlib.suppress(psycopg.Error):  # …so the ROLLBACK goes after one (a lost connection: the
            sql.send("ROLLBACK")                   # caller's error says so)
            pipeline.sync()
        raise


class _Cursors:
    """A connection's cursors, lent by position: the k-th statement of each transaction on it (or of each read)
    takes the k-th cursor, kept for the next. Making a cursor per statement was ~14 of the ~33 us of CPU psycopg
    spends sending a pipelined statement, and the hot transactions run a handful each. A cursor is lent again only
    after everything it was given has been answered: a lane's transaction ends with a COMMIT or ROLLBACK that waits
    for every result (pipeline.sync), a read fetches its rows. Positions beyond KEEP get a cursor of their own. A
    cursor holds its last answer until it is lent again, so one that answered more than BIG rows (an export, a
    verification of the whole log) is closed and replaced rather than kept holding them."""

    KEEP = 64
    BIG = 256

    def __init__(self, db: Connection) -> None:
        self.db = db
        self._kept: list[psycopg.Cursor[TupleRow] | None] = []

    def at(self, position: int) -> psycopg.Cursor[TupleRow]:
        kept = self._kept
        if position < len(kept):
            found = kept[position]
            if found is None:
                found = kept[position] = self.db.cursor()
            return found
        cursor = self.db.cursor()
        if position == len(kept) and position < self.KEEP:
            kept.append(cursor)
        return cursor

    def answered(self, position: int, rows: int) -> None:
        """The cursor at `position` answered `rows` rows: a big answer is let go with its cursor."""
        if rows > self.BIG and position < len(self._kept):
            cursor, self._kept[position] = self._kept[position], None
            if cursor is not None:
                cursor.close()


class _Connection:
    """A psycopg connection as sql_core.Sql.

    In pipeline mode (`pipeline` given: see PostgresStore._transaction) `send` and `send_many` do not wait for the
    server; `rows` waits for everything sent so far and its own answer (one round trip for all of it), and `run` and
    `run_many` wait too, so that the row counts they return are real.
    """

    def __init__(self, db: Connection, pipeline: psycopg.Pipeline | None = None, cursors: _Cursors | None = None
                 ) -> None:
        self._db, self._pipeline, self._cursors, self._position = db, pipeline, cursors, 0

    def _cursor(self) -> psycopg.Cursor[TupleRow]:
        """The next statement's cursor: lent by position from `cursors` (one transaction or read at a time), else
        a new one."""
        if self._cursors is None:
            return self._db.cursor()
        self._position += 1
        return self._cursors.at(self._position - 1)

    def rows(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        found = self._cursor().execute(_marks(sql), tuple(args)).fetchall()
        if self._cursors is not None:
            self._cursors.answered(self._position - 1, len(found))
        return found

    def run(self, sql: str, args: Sequence[object] = ()) -> int:
        cur = self._cursor().execute(_marks(sql), tuple(args))
        if self._pipeline is not None:
            self._pipeline.sync()
        return cur.rowcount

    def run_many(self, sql: str, args: Sequence[Sequence[object]]) -> int:
        with self._db.cursor() as cur:
            cur.executemany(_marks(sql), args)
            if self._pipeline is not None:
                self._pipeline.sync()
            return cur.rowcount

    def send(self, sql: str, args: Sequence[object] = ()) -> None:
        self._cursor().execute(_marks(sql), tuple(args))

    def send_many(self, sql: str, args: Sequence[Sequence[object]]) -> None:
        with self._db.cursor() as cur:
            cur.executemany(_marks(sql), args)


class PostgresStore(SqlStore, QuotaSql, AnomalyCounts):
    """The hot writes — access-log batches, quota checks, anomaly counts — on a connection each (LANES, kept in
    pipeline mode), the other writes (imports, revocations, checkpoints, policy pushes) on one connection shared under
    a lock (as SqliteStore), every write one explicit transaction; reads on a connection of their own (autocommit:
    one statement, one round trip), so that a read never waits behind a write transaction of this store.

    Durability: commits are synchronous — synchronous_commit=on, PostgreSQL's default (turned on for the session
    if the server has it off), makes COMMIT return only after the WAL record is fsync'd, as SQLite's
    synchronous=FULL does. Writers that must not interleave (record batches, access-log appends) take a
    transaction-level advisory lock, so several gateway processes may share one schema. Dates and times are ISO
    text in the "C" collation, so they sort and compare bytewise, as in SQLite, whatever the database's locale.
    """

    # The other subjects of an entry, space-separated in order (blind indexes are hex), read with the entry.
    OTHERS = ("(SELECT string_agg(s.subject, ' ' ORDER BY s.subject) FROM access_subjects s "
              "WHERE s.seq = access_log.seq)")
    INSERT_NEW = "INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING"
    # Anomaly counts are an aid for auditors, not evidence (the access log is): their transactions do not wait for
    # the WAL flush. A server crash may forget the last moments of counts; it never loses or alters a log entry.
    # Set in the statement that takes the principal's advisory lock (_write): a statement costs ~45 us of psycopg.
    ANOMALY_SETTINGS = "set_config('synchronous_commit', 'off', true)"

    schema_change: migrations.SchemaChange  # what opening found and did (`permitgw migrate` prints it)

    def __init__(self, dsn: str, cipher: FieldCipher, schema: str = "permitgw", *, migrate: bool = False) -> None:
        """Connect and use `schema`, creating its tables if it holds none; a schema of an older version is migrated
        if `migrate` (`permitgw migrate`, `init`) and refused otherwise (migrations.SchemaBehind)."""
        if not _SCHEMA_NAME.fullmatch(schema):
            raise StoreError(f"PostgreSQL schema name {schema!r}: use lower-case letters, digits and _")
        self._cipher, self._schema, self._dsn = cipher, schema, dsn
        self._lock = threading.Lock()
        self._reader: Connection | None = None  # reads' own connection (autocommit), opened at the first read
        self._reader_lock = threading.Lock()
        # The access log's batches, quota checks and anomaly counts: a connection each (LANES), so that none waits
        # behind another's COMMIT or an import (they are serialised by advisory locks, not by this process). One
        # shared counters' connection had capped a busy server at one quota check plus one count at a time.
        self._lanes: dict[str, Connection | None] = dict.fromkeys(LANES)
        # Each lane's connection stays in pipeline mode: its pipeline, and the context that holds it.
        self._lane_pipelines: dict[str, tuple[psycopg.Pipeline, AbstractContextManager[psycopg.Pipeline]]] = {}
        self._lane_locks = {name: threading.Lock() for name in LANES}
        self._cursors: dict[str, _Cursors] = {}  # per lane and for reads, of its current connection (_cursors_of)
        self._lane_checked = dict.fromkeys(LANES, 0)
        self._reads_lost = self._writer_checked = 0  # losses reads found; checked by the writers' (and each lane)
        self._closed = False
        try:
            self._reconnect = Reconnect(_connect_params(dsn))
            self._db: Connection = self._reconnect.open()
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}".strip()) from exc
        try:
            self._prepare_session(self._db)
            target = _Migrations(self)
            self.schema_change = (migrations.migrate if migrate else migrations.open_current)(PLAN, target)
            for name in LANES:  # at once, as the writers': an outage later finds them all open alike
                self._lanes[name] = self._open_lane(name)
        except BaseException:
            self._db.close()
            for name in LANES:
                self._drop_lane(name)
            raise

    # --- connection and schema -------------------------------------------------------------------
    def _prepare_session(self, db: Connection) -> None:
        """Session settings, committed (so that no later rollback undoes them)."""
        with db.transaction():
            if _value(db, "SHOW synchronous_commit") == "off":
                log.warning("synchronous_commit is off on this server: permitgw turns it on for its session")
                db.execute("SET synchronous_commit TO on")
            if _value(db, "SHOW fsync") == "off":
                log.warning("PostgreSQL runs with fsync=off: committed gateway data may be lost in a crash")
            db.execute(f'SET search_path TO "{self._schema}"')

    def _live(self) -> Connection:
        """The connection, reopened if it was lost (caller holds the lock); StoreUnavailable if it cannot be."""
        if not (self._db.closed or self._db.broken) and self._still_there(self._db):
            return self._db
        self._db.close()
        self._db = self._reopen()
        log.warning("reconnected to PostgreSQL")
        return self._db

    def _still_there(self, db: Connection, lane: str | None = None) -> bool:
        """Whether a writing connection (the writers', or that lane's) survived what reads' connection did not:
        once reads found theirs lost or the server out of reach (a restart, an administrator's kill), the idle
        connection is tried (one round trip) before a write is begun on it, so that the first write after the store
        healed for reads works too."""
        lost = self._reads_lost
        if lost == (self._lane_checked[lane] if lane else self._writer_checked):
            return True
        if lane:
            self._lane_checked[lane] = lost
        else:
            self._writer_checked = lost
        try:
            db.execute("SELECT 1").fetchall()  # waits, in pipeline mode too
            if not db.autocommit:
                db.rollback()
        except psycopg.Error:
            return False
        return True

    def _reopen(self) -> Connection:
        """A new prepared connection (with the reconnect backoff), or StoreUnavailable."""
        if self._closed:
            raise StoreUnavailable("the store is closed")
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
        return db

    def _live_lane(self, name: str) -> Connection:
        """That lane's connection (caller holds its lock), reopened as `_live` reopens the writers'."""
        db = self._lanes[name]
        if db is not None and not (db.closed or db.broken) and self._still_there(db, lane=name):
            return db
        if db is not None:
            self._drop_lane(name)
            log.warning("the %s connection to PostgreSQL lost: reconnecting", name)
        self._lanes[name] = opened = self._open_lane(name)
        return opened

    def _drop_lane(self, name: str) -> None:
        """Close a lane's connection, then end its pipeline context (which fails at once on the closed connection,
        quietly: left to the garbage collector, it would log the failure)."""
        db, held = self._lanes[name], self._lane_pipelines.pop(name, None)
        self._lanes[name] = None
        if db is not None:
            db.close()
        if held is not None:
            with contextlib.suppress(Exception):
                held[1].__exit__(None, None, None)

    def _open_lane(self, name: str) -> Connection:
        """A lane's connection: autocommit and for good in pipeline mode, its transactions begun and ended by
        statements of their own (`_lane_transaction`), so that one waits only where an answer is read."""
        db = self._reopen()
        try:
            db.autocommit = True
            mode = db.pipeline()  # kept: were it collected, its exit would leave pipeline mode
            self._lane_pipelines[name] = (mode.__enter__(), mode)  # left only by closing the connection
        except psycopg.Error as exc:
            db.close()
            raise StoreUnavailable(f"PostgreSQL is unreachable: {_first_line(exc)}") from exc
        return db

    def _live_reader(self) -> Connection:
        """Reads' connection (caller holds the reader lock), opened or reopened as `_live` does; autocommit, so
        that a read is one round trip and sees every transaction committed before it (each statement its own
        snapshot), whichever connection committed it."""
        if self._reader is not None and not (self._reader.closed or self._reader.broken):
            return self._reader
        if self._reader is not None:
            self._reader.close()
            self._reads_lost += 1
            log.warning("reads' connection to PostgreSQL lost: reconnecting")
        self._reader = None
        try:
            db = self._reopen()
        except StoreUnavailable:
            self._reads_lost += 1  # out of reach: the writers' idle connection may be gone as well
            raise
        db.autocommit = True
        self._reader = db
        return db

    def _serialise(self, sql: Sql, what: str, settings: str = "") -> None:
        """Hold a transaction-level advisory lock on `what` in this schema until COMMIT or ROLLBACK (in pipeline
        mode the statements sent after it wait for it on the server; their answers come after it is held).
        `settings` (set_config calls) are made in the same statement: only ones read after the lock is held, at
        COMMIT, as the order of a target list's expressions is not something to rest on."""
        sql.send(f"SELECT pg_advisory_xact_lock(hashtextextended(?, 0)){', ' + settings if settings else ''}",
                 (self._lock_key(what),))

    def _cursors_of(self, use: str, db: Connection) -> _Cursors:
        """The cursors kept for a lane's connection or reads' (caller holds its lock); new ones for a new connection."""
        kept = self._cursors.get(use)
        if kept is None or kept.db is not db:
            kept = self._cursors[use] = _Cursors(db)
        return kept

    def _lock_key(self, what: str) -> str:
        """The text an advisory lock on `what` in this schema is keyed by (hashed by PostgreSQL)."""
        return f"permitgw:{self._schema}:{what}"

    @contextmanager
    def _transaction(self, lane: str | None = None) -> Iterator[Sql]:
        """The writers' connection (or that of the lane named, one of LANES), locked, in a transaction
        committed on exit, rolled back on error.

        A lane's transaction is pipelined (libpq's pipeline mode): statements whose answer is not needed yet
        (`send`) cost no round trip of their own. Every round trip is two thread switches, and under load those, not
        the server's work, were most of a quota check's, an anomaly count's or a log batch's cost.

        A lost connection (killed backend, server restart, network) raises StoreUnavailable and is reopened by
        the next call. A commit whose acknowledgement was lost may or may not have happened: the caller is
        told the store is unavailable and must not assume either way.
        """
        with self._lane_locks[lane] if lane else self._lock:
            db = self._live_lane(lane) if lane else self._live()
            try:
                if lane:
                    pipeline = self._lane_pipelines[lane][0]
                    sql = _Connection(db, pipeline, self._cursors_of(lane, db))
                    with _lane_transaction(sql, pipeline):
                        yield sql
                else:
                    with db.transaction():
                        yield _Connection(db)
            except psycopg.Error as exc:
                if _closed_if_lost(db, exc):
                    raise StoreUnavailable(f"PostgreSQL connection lost: {_first_line(exc)}") from exc
                if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):  # e.g. cancelled, shutting down
                    raise StoreUnavailable(f"PostgreSQL did not complete the statement: {_first_line(exc)}") from exc
                raise

    # --- how sql_core's statements run here ----------------------------------------------------------------------
    def _query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """A read, on reads' own connection: it never waits behind a write transaction of this store (a quota
        check's round trips, an access-log COMMIT). Tried once more, on a new connection, if the connection turned
        out to be lost (reads are idempotent, so a reader does not notice a connection killed while idle)."""
        try:
            return self._read(sql, args)
        except StoreUnavailable:
            if self._reader is not None and not (self._reader.closed or self._reader.broken):
                raise
        return self._read(sql, args)

    def _read(self, sql: str, args: Sequence[object]) -> list[Row]:
        """One statement on reads' connection; a lost connection or an unfinished statement is StoreUnavailable."""
        with self._reader_lock:
            db = self._live_reader()
            try:
                return _Connection(db, cursors=self._cursors_of("reads", db)).rows(sql, args)
            except psycopg.Error as exc:
                if _closed_if_lost(db, exc):  # the next read, or _query's retry, opens a new one
                    raise StoreUnavailable(f"PostgreSQL connection lost: {_first_line(exc)}") from exc
                if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
                    raise StoreUnavailable(f"PostgreSQL did not complete the statement: {_first_line(exc)}") from exc
                raise

    @contextmanager
    def _write(self, serialise: str | None = None) -> Iterator[Sql]:
        """One transaction (see _transaction); with `serialise`, under that advisory lock (as SQLite's BEGIN
        IMMEDIATE), so that writers in several processes sharing the schema do not interleave."""
        lane = ("log" if serialise == "access_log" else
                "anomaly" if serialise is not None and serialise.startswith("anomaly:") else None)
        with self._transaction(lane) as sql:
            if serialise is not None:
                self._serialise(sql, serialise, self.ANOMALY_SETTINGS if lane == "anomaly" else "")
            yield sql

    @contextmanager
    def _quota_write(self, principal: str) -> Iterator[Sql]:
        """A quota check's transaction, under the principal's advisory lock (gateway.store.quota_sql).

        The wait for the lock is bounded (lock_timeout: then StoreUnavailable, the call fails closed). The commit
        is asynchronous (synchronous_commit off for this transaction only), which saves a WAL flush per check
        without losing a count that matters: PostgreSQL flushes its WAL in order, and the call this check allowed
        is answered only after its access-log entry committed synchronously, later, on the same server, so that
        flush makes this commit durable too. A crash can lose only the rows of calls never answered. Other
        sessions see the commit at once either way (visibility does not wait for the flush), so counting across
        replicas stays exact.
        """
        with self._transaction("quota") as sql:
            sql.send(QUOTA_BEGIN, (self._lock_key(f"quota:{principal}"),))
            yield sql

    def _upsert(self, sql: Sql, table: str, key: Mapping[str, object], mac: bytes,
                values: Mapping[str, object]) -> bool:
        cols = {**key, **values, "mac": mac}
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in key)
        return sql.run(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                       f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} WHERE {table}.mac <> EXCLUDED.mac",
                       tuple(cols.values())) > 0

    def _stamp(self) -> tuple[str, tuple[object, ...]]:
        return "?", (_utc_now(),)

    def _nodes(self, sql: Sql, wanted: list[Node]) -> dict[Node, bytes]:
        """The whole frontier in one query."""
        if not wanted:
            return {}
        levels, indexes = zip(*wanted, strict=True)
        rows = sql.rows("SELECT m.level, m.idx, m.hash FROM merkle m JOIN unnest(?::int[], ?::bigint[]) "
                        "AS w(level, idx) ON m.level = w.level AND m.idx = w.idx", (list(levels), list(indexes)))
        return {(as_int(lv), as_int(ix)): as_bytes(h) for lv, ix, h in rows}

    # --- the cluster's policy (gateway/store/pg_policy.py) -------------------------------------------------------
    def push_policy(self, files: Files, pushed_by: str, *, only_if_none: bool = False) -> tuple[PushedPolicy, bool]:
        with self._write(serialise="policy") as sql:
            return pg_policy.push(sql, self._schema, files, pushed_by, only_if_none)

    def latest_policy(self) -> PushedPolicy | None:
        with self._transaction() as sql:
            return pg_policy.latest(sql)

    def policy_feed(self) -> pg_policy.PgPolicyFeed:
        return pg_policy.PgPolicyFeed(_connect_params(self._dsn), self._schema)

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()

    def close(self) -> None:
        """Close the connection; waits a bounded time for a statement in flight, then closes regardless."""
        self._closed = True  # no reconnecting after this
        connections: list[tuple[threading.Lock, Callable[[], None]]] = [
            (self._lock, self._db.close), (self._reader_lock, self._close_reader),
            *((self._lane_locks[name], functools.partial(self._drop_lane, name)) for name in LANES)]
        for lock, close in connections:
            locked = lock.acquire(timeout=CLOSE_WAIT_SECONDS)
            try:
                close()
            finally:
                if locked:
                    lock.release()



class _Migrations:
    """The store's schema as the migration runner's target: transactions under the advisory lock "schema"."""

    failures: tuple[type[BaseException], ...] = (psycopg.Error,)

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self.where = f"postgres schema {store._schema}"

    @contextmanager
    def transaction(self) -> Iterator[Sql]:
        store = self._store
        with store._transaction() as sql:
            store._serialise(sql, "schema")  # one migrator (or creator) at a time, whichever gateway it runs in
            sql.run(f'CREATE SCHEMA IF NOT EXISTS "{store._schema}"')
            yield sql

    def version(self) -> int:
        db = self._store._db
        if _value(db, "SELECT to_regclass('schema_version')") is None:
            return 0
        found = _value(db, "SELECT max(version) FROM schema_version")
        if not isinstance(found, int):
            raise StoreError(f"PostgreSQL schema {self._store._schema}: table schema_version is empty")
        return found

    def script(self, sql: str) -> None:
        try:
            self._store._db.execute(sql)
        except (psycopg.errors.DuplicateObject, psycopg.errors.DuplicateTable) as exc:
            raise StoreError(f"PostgreSQL schema {self._store._schema} holds tables that are not a permit "
                             f"gateway's ({_first_line(exc)}): give [store] postgres_schema another name") from exc

    def record(self, version: int) -> None:
        db = self._store._db
        db.execute(SCHEMA_VERSION_TABLE)
        db.execute("INSERT INTO schema_version (version, applied_at) VALUES (%s, %s)", (version, _utc_now()))


def _first_line(exc: BaseException) -> str:
    """A driver error in one line (libpq's messages span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__
