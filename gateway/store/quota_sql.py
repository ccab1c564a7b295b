"""The quota tables and their SQL, shared by both stores (the port: gateway.watch.shared_quotas.QuotaLedger).

quota_seen holds, per principal and subject (the hex blind index of the person, never an identity number), the
time of the latest allowed ask; quota_warnings, per principal and window ("hour", "day"), when it last warned.
Times are epoch seconds from the gateway's injected clock, never the database's. A check reads and writes one
principal's rows inside one serialised transaction that the backend opens (`_quota_write`): PostgreSQL takes a
transaction-level advisory lock on that principal, SQLite BEGIN IMMEDIATE; the statements here are the same on
both (`?` marks, ON CONFLICT upserts).
"""
from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

from gateway.store.sql_core import Sql, as_int

# Made by the migration step SQLite 7 / PostgreSQL 5 (migrations_sqlite.py, migrations_postgres.py).
SQLITE_QUOTA_TABLES = """
CREATE TABLE IF NOT EXISTS quota_seen (
  principal TEXT NOT NULL, subject TEXT NOT NULL, seen REAL NOT NULL, PRIMARY KEY (principal, subject)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quota_warnings (
  principal TEXT NOT NULL, span TEXT NOT NULL, warned REAL NOT NULL, PRIMARY KEY (principal, span)
) WITHOUT ROWID;
"""
POSTGRES_QUOTA_TABLES = """
CREATE TABLE IF NOT EXISTS quota_seen (
  principal ctext NOT NULL, subject ctext NOT NULL, seen DOUBLE PRECISION NOT NULL, PRIMARY KEY (principal, subject)
);
CREATE TABLE IF NOT EXISTS quota_warnings (
  principal ctext NOT NULL, span ctext NOT NULL, warned DOUBLE PRECISION NOT NULL, PRIMARY KEY (principal, span)
);
"""


def _as_float(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"the database returned {type(value).__name__} where a time belongs")


class QuotaRows:
    """One principal's quota rows within the open transaction (gateway.watch.shared_quotas.QuotaRows)."""

    def __init__(self, sql: Sql, principal: str) -> None:
        self._sql, self._principal = sql, principal

    def usage(self, horizons: Sequence[float], subjects: Collection[str]) -> list[tuple[int, int]]:
        """Per horizon, in one statement: distinct subjects seen after it, and how many of `subjects` are among
        them (each subject has one row, so counting rows counts distinct subjects)."""
        if not horizons:
            return []
        asked = list(subjects)
        among = f"subject IN ({', '.join('?' * len(asked))})" if asked else "1 = 0"
        cols: list[str] = []
        args: list[object] = []
        for horizon in horizons:
            cols.append("coalesce(sum(CASE WHEN seen > ? THEN 1 ELSE 0 END), 0)")
            cols.append(f"coalesce(sum(CASE WHEN seen > ? AND {among} THEN 1 ELSE 0 END), 0)")
            args += [horizon, horizon, *asked]
        row = self._sql.rows(f"SELECT {', '.join(cols)} FROM quota_seen WHERE principal = ? AND seen > ?",
                             [*args, self._principal, min(horizons)])[0]
        values = [as_int(v) for v in row]
        return list(zip(values[::2], values[1::2], strict=True))

    def record(self, subjects: Collection[str], now: float) -> None:
        for subject in sorted(subjects):  # one statement each: on PostgreSQL all sent at once, no round trip each
            self._sql.send("INSERT INTO quota_seen (principal, subject, seen) VALUES (?, ?, ?) "
                           "ON CONFLICT (principal, subject) DO UPDATE SET seen = excluded.seen "
                           "WHERE quota_seen.seen < excluded.seen", (self._principal, subject, now))

    def warned_at(self, window: str) -> float | None:
        rows = self._sql.rows("SELECT warned FROM quota_warnings WHERE principal = ? AND span = ?",
                              (self._principal, window))
        return _as_float(rows[0][0]) if rows else None

    def warn(self, window: str, now: float) -> None:
        self._sql.send("INSERT INTO quota_warnings (principal, span, warned) VALUES (?, ?, ?) "
                       "ON CONFLICT (principal, span) DO UPDATE SET warned = excluded.warned",
                       (self._principal, window, now))


class QuotaSql:
    """The QuotaLedger half of a store; the backend supplies `_quota_write` (the serialised transaction) and
    `_write` (a plain one)."""

    def _quota_write(self, principal: str) -> AbstractContextManager[Sql]:
        """One transaction, serialised with every other on this principal's quota rows, in any process."""
        raise NotImplementedError

    def _write(self, serialise: str | None = None) -> AbstractContextManager[Sql]:
        raise NotImplementedError

    @contextmanager
    def quota_rows(self, principal: str, forget_before: float | None) -> Iterator[QuotaRows]:
        with self._quota_write(principal) as sql:
            if forget_before is not None:
                sql.send("DELETE FROM quota_seen WHERE principal = ? AND seen <= ?", (principal, forget_before))
            yield QuotaRows(sql, principal)

    def forget_quotas(self, before: float) -> int:
        """Drop every principal's rows (and warnings) from at or before `before`: the idle principals' (an active
        principal's own are dropped in its checks)."""
        with self._write() as sql:
            dropped = sql.run("DELETE FROM quota_seen WHERE seen <= ?", (before,))
            sql.run("DELETE FROM quota_warnings WHERE warned <= ?", (before,))
        return dropped
