"""Anomaly counts kept in the database, so that every gateway process on it counts the combined traffic.

With several replicas (or pre-forked workers) each process sees only its share of a principal's calls; a burst
spread over them would stay below every threshold if each counted alone. Here the windows live in tables, and
observations are counted in transactions serialised per principal (PostgreSQL: an advisory lock on
`permitgw:<schema>:anomaly:<principal>`; SQLite: BEGIN IMMEDIATE): add what the entry counts towards, drop what
left the window, count, and record the alert in `anomaly_alerts` — so a threshold crossing is seen by exactly one
process, which alone raises the alert, however the calls were spread.

What the rules are (thresholds, windows, office hours) is gateway.watch's business; this module only keeps
per-principal, per-kind windows of distinct subjects (blind indexes, hex) or of request times, at the times the
caller gives (the entries' own times, never the database's clock). Every window holds at most its threshold of
items, and principals idle beyond every window and the cooldown are removed (`prune_anomalies`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager

from gateway.store.sql_core import Row, Sql, as_int, as_str

Tally = tuple[str, tuple[str, ...] | None, int, int]
"""What one entry counts towards: (kind, its distinct subjects — or None to count the request itself, threshold,
window in seconds)."""

_TABLES = """
CREATE TABLE IF NOT EXISTS anomaly_principals (principal {text} PRIMARY KEY, latest {real} NOT NULL);
CREATE INDEX IF NOT EXISTS anomaly_principals_latest ON anomaly_principals(latest);
CREATE TABLE IF NOT EXISTS anomaly_subjects (
  principal {text} NOT NULL, kind {text} NOT NULL, subject {text} NOT NULL, t {real} NOT NULL,
  PRIMARY KEY (principal, kind, subject)
){without_rowid};
CREATE INDEX IF NOT EXISTS anomaly_subjects_time ON anomaly_subjects(principal, kind, t);
CREATE TABLE IF NOT EXISTS anomaly_requests (
  id {identity}, principal {text} NOT NULL, kind {text} NOT NULL, t {real} NOT NULL
);
CREATE INDEX IF NOT EXISTS anomaly_requests_time ON anomaly_requests(principal, kind, t);
CREATE TABLE IF NOT EXISTS anomaly_alerts (
  principal {text} NOT NULL, kind {text} NOT NULL, fired {real} NOT NULL, PRIMARY KEY (principal, kind)
){without_rowid};
"""
# anomaly_principals: each principal's latest time counted at (windows never run backwards; idle ones are pruned);
# anomaly_subjects: distinct people asked about, each at its latest time; anomaly_requests: counted requests;
# anomaly_alerts: when each kind last alerted for a principal (the cooldown, and one alert per crossing).
ANOMALY_TABLES_SQLITE = _TABLES.format(text="TEXT", real="REAL", identity="INTEGER PRIMARY KEY",
                                       without_rowid=" WITHOUT ROWID")
ANOMALY_TABLES_POSTGRES = _TABLES.format(text="ctext", real="DOUBLE PRECISION",
                                         identity="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                                         without_rowid="")

_TABLE_OF = {True: ("anomaly_subjects", "subject"), False: ("anomaly_requests", "id")}  # distinct? -> table, key
BATCH_READ_LIMIT = 1000
"""count_anomalies_many reads a batch's windows whole: a threshold above this is counted entry by entry instead."""
ROWS_PER_STATEMENT = 200  # rows a batch's write-back sends in one statement (SQLite allows 32,766 arguments)


class AnomalyCounts:
    """The anomaly windows of every principal, shared by every process on the database (mixed into the stores)."""

    def _write(self, serialise: str | None = None) -> AbstractContextManager[Sql]:
        raise NotImplementedError

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        raise NotImplementedError

    def count_anomalies(self, principal: str, now: float, tallies: Sequence[Tally],
                        cooldown: float) -> list[tuple[str, int]]:
        """Count one entry of `principal` at time `now` (POSIX seconds) towards each tally (of distinct kinds); the
        kinds whose threshold is reached and that did not alert within `cooldown` seconds, with their count —
        recorded as alerted, so no other process raises them again. A time earlier than the principal's latest is
        counted at the latest (windows never run backwards).

        Three waits for the database whatever the number of tallies (on PostgreSQL, whose counting transaction is
        pipelined): the principal's latest time; every window's count and last alert, read in one statement after
        every window took the entry and dropped what expired; the commit. The rest is sent without waiting."""
        kinds = [kind for kind, *_ in tallies]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"anomaly tallies of one entry repeat a kind: {kinds}")
        fired: list[tuple[str, int]] = []
        with self._write(f"anomaly:{principal}") as sql:
            at = _real(sql.rows(  # the later of `now` and the principal's latest, kept
                "INSERT INTO anomaly_principals (principal, latest) VALUES (?, ?) ON CONFLICT (principal) DO UPDATE "
                "SET latest = CASE WHEN excluded.latest > anomaly_principals.latest THEN excluded.latest "
                "ELSE anomaly_principals.latest END RETURNING latest", (principal, now))[0][0])
            if not tallies:
                return fired
            reads: list[str] = []
            args: list[object] = []
            for kind, subjects, _, window in tallies:
                table = self._add(sql, principal, kind, subjects, at - window, at)
                reads.append(f"(SELECT count(*) FROM {table} WHERE principal = ? AND kind = ?), "
                             "(SELECT fired FROM anomaly_alerts WHERE principal = ? AND kind = ?)")
                args += [principal, kind, principal, kind]
            found = sql.rows(f"SELECT {', '.join(reads)}", args)[0]
            for i, (kind, subjects, threshold, _) in enumerate(tallies):
                count, last = as_int(found[2 * i]), found[2 * i + 1]
                if count > threshold:  # the oldest beyond the threshold are not needed to know it is reached
                    table, key = _TABLE_OF[subjects is not None]
                    sql.send(f"DELETE FROM {table} WHERE principal = ? AND kind = ? AND {key} IN (SELECT {key} "
                             f"FROM {table} WHERE principal = ? AND kind = ? ORDER BY t, {key} LIMIT ?)",
                             (principal, kind, principal, kind, count - threshold))
                    count = threshold
                if count >= threshold and (last is None or at - _real(last) >= cooldown):
                    sql.send("INSERT INTO anomaly_alerts (principal, kind, fired) VALUES (?, ?, ?) ON CONFLICT "
                             "(principal, kind) DO UPDATE SET fired = excluded.fired", (principal, kind, at))
                    fired.append((kind, count))
        return fired

    def count_anomalies_many(self, principal: str, observations: Sequence[tuple[float, Sequence[Tally]]],
                             cooldown: float) -> list[list[tuple[str, int]]]:
        """count_anomalies for several entries of `principal` (each its time and tallies), in their order, in one
        transaction: for each, what count_anomalies called on it in turn would return, and the same rows left.

        Counting entry by entry costs a dozen statements and three waits each, and on PostgreSQL that was half of a
        call's cost. Here the batch reads the principal's latest time, last alerts and window rows (each window
        holds at most its threshold of rows), plays the entries through them in memory (`_Windows`, the rules of
        the statements count_anomalies runs) and writes back what changed: two waits and a few statements for
        the whole batch. A lone entry, or a window above BATCH_READ_LIMIT, is counted entry by entry as before.
        """
        if len(observations) < 2 or any(
                threshold > BATCH_READ_LIMIT for _, tallies in observations for _, _, threshold, _ in tallies):
            return [self.count_anomalies(principal, now, tallies, cooldown) for now, tallies in observations]
        distinct: dict[str, bool] = {}
        for _, tallies in observations:
            kinds = [kind for kind, *_ in tallies]
            if len(set(kinds)) != len(kinds):
                raise ValueError(f"anomaly tallies of one entry repeat a kind: {kinds}")
            for kind, subjects, _, _ in tallies:
                if distinct.setdefault(kind, subjects is not None) != (subjects is not None):
                    raise ValueError(f"anomaly kind {kind!r} counted both as people and as requests")
        with self._write(f"anomaly:{principal}") as sql:
            windows = _Windows.read(sql, principal, distinct)
            results = [windows.count(now, tallies, cooldown) for now, tallies in observations]
            windows.write(sql)
        return results

    @staticmethod
    def _add(sql: Sql, principal: str, kind: str, subjects: tuple[str, ...] | None, expired: float,
             at: float) -> str:
        """Add the entry to one window and drop what is at or before `expired` (sent, not waited for); its table."""
        table, _ = _TABLE_OF[subjects is not None]
        if subjects is None:
            sql.send("INSERT INTO anomaly_requests (principal, kind, t) VALUES (?, ?, ?)", (principal, kind, at))
        else:
            for subject in dict.fromkeys(subjects):
                sql.send("INSERT INTO anomaly_subjects (principal, kind, subject, t) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT (principal, kind, subject) DO UPDATE SET t = excluded.t",
                         (principal, kind, subject, at))
        sql.send(f"DELETE FROM {table} WHERE principal = ? AND kind = ? AND t <= ?", (principal, kind, expired))
        return table

    def prune_anomalies(self, idle_before: float, limit: int) -> int:
        """Forget up to `limit` principals whose latest counted time is at or before `idle_before` (nothing of
        theirs is in any window or cooldown any more); the number forgotten. Each under its principal's lock."""
        idle = [as_str(r[0]) for r in self._query(
            "SELECT principal FROM anomaly_principals WHERE latest <= ? ORDER BY latest LIMIT ?",
            (idle_before, max(int(limit), 0)))]
        forgotten = 0
        for principal in idle:
            with self._write(f"anomaly:{principal}") as sql:
                if sql.run("DELETE FROM anomaly_principals WHERE principal = ? AND latest <= ?",
                           (principal, idle_before)) == 0:
                    continue  # active again meanwhile
                for table in ("anomaly_subjects", "anomaly_requests", "anomaly_alerts"):
                    sql.run(f"DELETE FROM {table} WHERE principal = ?", (principal,))
                forgotten += 1
        return forgotten

    def anomaly_rows(self) -> dict[str, int]:
        """Rows in each anomaly table (to show they stay bounded)."""
        tables = ("anomaly_principals", "anomaly_subjects", "anomaly_requests", "anomaly_alerts")
        row = self._query("SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables))[0]
        return {t: as_int(n) for t, n in zip(tables, row, strict=True)}


def _send_rows(sql: Sql, statement: str, marks: str, rows: Sequence[tuple[object, ...]],
               first: tuple[object, ...] = ()) -> None:
    """Send `statement` once per ROWS_PER_STATEMENT rows, its {} the rows' `marks` joined by commas, its arguments
    `first` then every row's values: on PostgreSQL a batch's rows are one statement each otherwise (executemany in
    pipeline mode), and each statement costs psycopg's Python more than its rows. Nothing for no rows."""
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        part = rows[start:start + ROWS_PER_STATEMENT]
        sql.send(statement.format(", ".join([marks] * len(part))), [*first, *(v for row in part for v in row)])


def _real(value: object) -> float:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"the database returned {type(value).__name__} where a time belongs")


_Key = str | tuple[int, int]
"""A window row: a subject (blind index), or a request: (0, its id) stored, (1, n) the batch's n-th new one — so
that ordering by (t, key) orders requests as their ids do (new ids come after every stored one)."""


class _Windows:
    """One principal's latest time, last alerts and the windows of a batch's kinds, read once and played in memory
    by the rules of count_anomalies' statements; `write` stores what changed."""

    def __init__(self, principal: str, latest: float | None, fired: dict[str, float | None],
                 rows: dict[str, dict[_Key, float]], distinct: Mapping[str, bool]) -> None:
        self.principal, self.latest, self.fired, self.rows, self.distinct = principal, latest, fired, rows, distinct
        self._stored = {kind: dict(window) for kind, window in rows.items()}
        self._stored_fired = dict(fired)
        self._new = 0

    @classmethod
    def read(cls, sql: Sql, principal: str, distinct: Mapping[str, bool]) -> _Windows:
        """Everything the batch's kinds need, in one statement (one wait): the latest time, each kind's last alert
        and its window's rows."""
        kinds = list(distinct)
        among = f"WHERE principal = ? AND kind IN ({', '.join('?' * len(kinds))})"
        windows = (f" UNION ALL SELECT 1, kind, NULL, NULL, fired FROM anomaly_alerts {among}"
                   f" UNION ALL SELECT 2, kind, subject, NULL, t FROM anomaly_subjects {among}"
                   f" UNION ALL SELECT 3, kind, NULL, id, t FROM anomaly_requests {among}") if kinds else ""
        found = sql.rows(
            "SELECT 0, '', CAST(NULL AS TEXT), CAST(NULL AS BIGINT), latest FROM anomaly_principals WHERE principal = ?"
            + windows, [principal, *(v for _ in range(3 if kinds else 0) for v in (principal, *kinds))])
        latest: float | None = None
        fired: dict[str, float | None] = dict.fromkeys(kinds)
        rows: dict[str, dict[_Key, float]] = {kind: {} for kind in kinds}
        for source, kind, subject, row_id, t in found:
            if source == 0:
                latest = _real(t)
            elif source == 1:
                fired[as_str(kind)] = _real(t)
            elif distinct[as_str(kind)] == (source == 2):  # a kind's rows in the other table are not its window
                rows[as_str(kind)][as_str(subject) if source == 2 else (0, as_int(row_id))] = _real(t)
        return cls(principal, latest, fired, rows, distinct)

    def count(self, now: float, tallies: Sequence[Tally], cooldown: float) -> list[tuple[str, int]]:
        """One entry, as count_anomalies counts it: at the later of `now` and the latest, into each window, expired
        rows dropped, the oldest beyond the threshold dropped, an alert unless one fired within the cooldown."""
        at = now if self.latest is None else max(now, self.latest)
        self.latest = at
        fired: list[tuple[str, int]] = []
        for kind, subjects, threshold, span in tallies:
            window = self.rows[kind]
            if subjects is None:
                window[(1, self._new)] = at
                self._new += 1
            else:
                for subject in dict.fromkeys(subjects):
                    window[subject] = at
            for key in [key for key, t in window.items() if t <= at - span]:
                del window[key]
            count = len(window)
            if count > threshold:
                for key in sorted(window, key=lambda k: (window[k], k))[:count - threshold]:
                    del window[key]
                count = threshold
            last = self.fired[kind]
            if count >= threshold and (last is None or at - last >= cooldown):
                self.fired[kind] = at
                fired.append((kind, count))
        return fired

    def write(self, sql: Sql) -> None:
        """Store the changes: the latest time, rows gone and rows new or moved, alerts fired (sent, not waited for:
        the commit waits for them all)."""
        p = self.principal
        if self.latest is not None:
            sql.send("INSERT INTO anomaly_principals (principal, latest) VALUES (?, ?) ON CONFLICT (principal) DO "
                     "UPDATE SET latest = CASE WHEN excluded.latest > anomaly_principals.latest THEN excluded.latest "
                     "ELSE anomaly_principals.latest END", (p, self.latest))
        for kind, window in self.rows.items():
            stored = self._stored[kind]
            gone = [key for key in stored if key not in window]
            if self.distinct[kind]:
                _send_rows(sql, "DELETE FROM anomaly_subjects WHERE principal = ? AND kind = ? AND subject IN ({})",
                           "?", [(key,) for key in gone], (p, kind))
                moved = [(p, kind, key, t) for key, t in window.items() if stored.get(key) != t]
                _send_rows(sql, "INSERT INTO anomaly_subjects (principal, kind, subject, t) VALUES {} ON CONFLICT "
                                "(principal, kind, subject) DO UPDATE SET t = excluded.t", "(?, ?, ?, ?)", moved)
                continue
            _send_rows(sql, "DELETE FROM anomaly_requests WHERE id IN ({})", "?",
                       [(key[1],) for key in gone if isinstance(key, tuple)])
            new = sorted((key, t) for key, t in window.items() if isinstance(key, tuple) and key[0] == 1)
            # in the order they came: a multi-row VALUES inserts its rows, and draws their ids, in order
            _send_rows(sql, "INSERT INTO anomaly_requests (principal, kind, t) VALUES {}", "(?, ?, ?)",
                       [(p, kind, t) for _, t in new])
        for kind, at in self.fired.items():
            if at is not None and at != self._stored_fired[kind]:
                sql.send("INSERT INTO anomaly_alerts (principal, kind, fired) VALUES (?, ?, ?) ON CONFLICT "
                         "(principal, kind) DO UPDATE SET fired = excluded.fired", (p, kind, at))
