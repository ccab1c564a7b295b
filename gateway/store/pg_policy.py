"""The cluster's policy in PostgreSQL: the table of pushed bundles, the push that announces itself, and the feed a
replica listens to.

A push inserts the bundle and sends `NOTIFY permitgw_policy_<schema>, '<version>'` in one transaction: PostgreSQL
delivers the notification at commit, so no replica hears of a version it cannot read yet. Pushes are serialised
(advisory lock "policy"); the latest is the one with the greatest pushed_at, which each push makes strictly
greater than the one before it, whatever the clock says. Pushing an older version again (a rollback) makes it
the latest again.

The feed holds its OWN connection (autocommit, LISTEN), opened by its first wait — so in the thread that waits,
after any fork: a connection inherited across fork() is shared with the parent and corrupts both (the known
trouble of watchers that open theirs at import or in the parent, before a pre-forking server forks). It waits
with psycopg's notifies(timeout=, stop_after=), so the waiting thread wakes regularly and can be stopped, and
reconnects with backoff (pg_connect.Reconnect) once the connection is lost.
"""
from __future__ import annotations

import datetime as _dt

import psycopg

from gateway.domain import clock
from gateway.policy.bundle import Files, PushedPolicy, bundle_version, decode, encode
from gateway.store.pg_connect import Reconnect
from gateway.store.port import StoreUnavailable
from gateway.store.sql_core import Sql, as_str

# The bundles pushed, one row per version, in table policy_versions (made by migrations_postgres.py, version 4).
_LATEST = "SELECT version, pushed_at, pushed_by, files FROM policy_versions ORDER BY pushed_at DESC LIMIT 1"


def channel(schema: str) -> str:
    """The NOTIFY channel of a schema's pushes (63 bytes at most, PostgreSQL's identifier length)."""
    return f"permitgw_policy_{schema}"[:63]


def _row(row: tuple[object, ...]) -> PushedPolicy:
    version = as_str(row[0])
    return PushedPolicy(version, as_str(row[1]), as_str(row[2]), decode(as_str(row[3]), f"policy version {version}"))


def latest(sql: Sql) -> PushedPolicy | None:
    rows = sql.rows(_LATEST)
    return _row(tuple(rows[0])) if rows else None


def push(sql: Sql, schema: str, files: Files, pushed_by: str, only_if_none: bool) -> tuple[PushedPolicy, bool]:
    """In the caller's transaction, under the "policy" advisory lock: see PolicyVersions.push_policy."""
    version = bundle_version(files)
    current = latest(sql)
    if current is not None and (only_if_none or current.version == version):
        return current, False
    at = clock.now()
    if current is not None:
        after = _dt.datetime.fromisoformat(current.pushed_at.replace("Z", "+00:00")) + _dt.timedelta(microseconds=1)
        at = max(at, after)
    pushed = PushedPolicy(version, clock.rfc3339(at), pushed_by, dict(files))
    sql.run("INSERT INTO policy_versions (version, pushed_at, pushed_by, files) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (version) DO UPDATE SET pushed_at = EXCLUDED.pushed_at, pushed_by = EXCLUDED.pushed_by",
            (version, pushed.pushed_at, pushed_by, encode(files)))
    sql.rows("SELECT pg_notify(?, ?)", (channel(schema), version))
    return pushed, True


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class PgPolicyFeed:
    """gateway.store.port.PolicyFeed on a connection of its own (see the module's docstring)."""

    def __init__(self, params: dict[str, object], schema: str) -> None:
        self._reconnect = Reconnect(params)
        self._schema = schema
        self._db: psycopg.Connection | None = None

    def _connected(self) -> psycopg.Connection | None:
        db = self._db
        return db if db is not None and not (db.closed or db.broken) else None

    def _connect(self) -> psycopg.Connection:
        if self._db is not None:
            self._db.close()
            self._db = None
        try:
            db = self._reconnect.open()
        except psycopg.Error as exc:
            raise StoreUnavailable(f"PostgreSQL is unreachable: {_one_line(exc)}") from exc
        try:
            db.autocommit = True
            db.execute(f'SET search_path TO "{self._schema}"')
            db.execute(f'LISTEN "{channel(self._schema)}"')
        except psycopg.Error as exc:
            db.close()
            self._reconnect.failed(exc)
            raise StoreUnavailable(f"PostgreSQL did not accept LISTEN: {_one_line(exc)}") from exc
        self._db = db
        return db

    def wait(self, timeout: float) -> bool:
        db = self._connected()
        if db is None:
            self._connect()
            return True  # anything pushed while disconnected was announced to nobody here: look
        try:
            # consumed whole: a generator left suspended would keep holding the connection's lock
            return bool(list(db.notifies(timeout=timeout, stop_after=1)))
        except psycopg.Error as exc:
            db.close()
            raise StoreUnavailable(f"PostgreSQL connection lost: {_one_line(exc)}") from exc

    def latest(self) -> PushedPolicy | None:
        db = self._connected() or self._connect()
        try:
            rows = db.execute(_LATEST).fetchall()
        except psycopg.Error as exc:
            db.close()
            raise StoreUnavailable(f"PostgreSQL connection lost: {_one_line(exc)}") from exc
        return _row(tuple(rows[0])) if rows else None

    def backend_pid(self) -> int | None:
        """The server process of the feed's connection (tests terminate it), None while disconnected."""
        db = self._connected()
        return db.info.backend_pid if db is not None else None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
