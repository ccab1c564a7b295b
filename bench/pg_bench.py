"""PostgreSQL for the benchmarks: which backends to measure, a fresh database of the run's own, and the CPU its
server processes spend.

`--backends sqlite,postgres` is parsed by `backends()`; without the option both are measured when PostgreSQL
answers at the admin DSN (PERMITGW_BENCH_PG_DSN, default the `test` database on 127.0.0.1:5432, as the tests use),
else SQLite alone with a printed note. `own_database()` creates `permitgw_bench_<pid>` from that admin connection
and drops it at the end, even when the benchmark fails. `BackendCpu` reads utime + stime from /proc of the
PostgreSQL backends connected to that database (pg_stat_activity), so that a gateway's CPU per call can include
the database processes that serve it (they are not its children, and not pinned).
Used by bench/server_vs_echo.py and bench/audit_log.py; not a benchmark itself.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from load_client import CLOCK_TICKS, stat_cpu_ticks

ADMIN_DSN = os.environ.get("PERMITGW_BENCH_PG_DSN", "host=127.0.0.1 port=5432 dbname=test user=postgres")
KNOWN = ("sqlite", "postgres")
LABEL = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def reachable() -> str | None:
    """None if PostgreSQL answers at ADMIN_DSN, else why not (one line)."""
    try:
        psycopg.connect(ADMIN_DSN, connect_timeout=3).close()
    except psycopg.Error as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


def backends(option: str | None) -> list[str]:
    """The backends to measure: the --backends option (comma-separated, from KNOWN), or by default both when
    PostgreSQL is reachable and SQLite alone (with a note printed) when it is not."""
    if option is None:
        why = reachable()
        if why is None:
            return list(KNOWN)
        print(f"note: PostgreSQL not reachable at {ADMIN_DSN!r} ({why}): measuring SQLite only")
        return ["sqlite"]
    chosen = [b.strip() for b in option.split(",") if b.strip()]
    unknown = sorted(set(chosen) - set(KNOWN))
    if unknown or not chosen:
        raise SystemExit(f"--backends: choose from {', '.join(KNOWN)} (comma-separated), not {option!r}")
    if "postgres" in chosen and (why := reachable()) is not None:
        raise SystemExit(f"--backends postgres: PostgreSQL is not reachable at {ADMIN_DSN!r}: {why}")
    return list(dict.fromkeys(chosen))


@contextmanager
def own_database() -> Iterator[str]:
    """A new database permitgw_bench_<pid> (owner: the admin DSN's user); its DSN. Dropped on exit, with any
    connection still open to it."""
    name = f"permitgw_bench_{os.getpid()}"
    with psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # a leftover of a killed run of this pid
        admin.execute(f'CREATE DATABASE "{name}"')
    base = psycopg.conninfo.conninfo_to_dict(ADMIN_DSN)
    try:
        yield psycopg.conninfo.make_conninfo(**{**base, "dbname": name})
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def use_postgres(config_file: Path, dsn: str, schema: str = "permitgw") -> None:
    """Point a data directory's config.toml at PostgreSQL (replacing its [store] section)."""
    text = re.sub(r"(?ms)^\[store\].*?(?=^\[|\Z)", "", config_file.read_text("utf-8")).rstrip()
    config_file.write_text(f'{text}\n\n[store]\nbackend = "postgres"\npostgres_dsn = {json.dumps(dsn)}\n'
                           f'postgres_schema = "{schema}"\n', "utf-8")


class BackendCpu:
    """CPU seconds (user + system) of the PostgreSQL backends connected to one database, read from /proc.

    start() at the start of a window, stop() at its end: the CPU of every backend connected at the end, less what
    it had spent at the start (one that connected during the window counts whole; one that exited during it is
    lost, so the figure is a lower bound). The monitoring connection's own backend is left out. Needs the server
    on this machine.
    """

    def __init__(self, database_dsn: str) -> None:
        self._dbname = psycopg.conninfo.conninfo_to_dict(database_dsn)["dbname"]
        self._admin = psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5)
        self._start: dict[int, int] = {}

    def pids(self) -> list[int]:
        rows = self._admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> "
                                   "pg_backend_pid()", (self._dbname,)).fetchall()
        return [int(pid) for (pid,) in rows]

    def start(self) -> None:
        """The start of a window."""
        self._start = self._ticks()

    def stop(self) -> float:
        """CPU seconds the backends spent since start()."""
        end = self._ticks()
        return sum(t - self._start.get(pid, 0) for pid, t in end.items()) / CLOCK_TICKS

    def _ticks(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for pid in self.pids():
            try:
                out[pid] = stat_cpu_ticks(Path(f"/proc/{pid}/stat").read_text())
            except (FileNotFoundError, ProcessLookupError):
                continue
        return out

    def close(self) -> None:
        self._admin.close()
