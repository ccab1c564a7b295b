"""The benchmarks' PostgreSQL helper (bench/pg_bench.py): which backends --backends chooses, the run's own database
dropped even when the benchmark fails, and the CPU of that database's backends read from /proc.

bench/ is not a package: its directory is put on sys.path, as running a script from it does.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import psycopg
import pytest

from tests.integration.test_store_backends import PG_DSN

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))
    module = importlib.import_module("pg_bench")
    monkeypatch.setattr(module, "ADMIN_DSN", PG_DSN)
    return module


def _databases() -> set[str]:
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        return {name for (name,) in admin.execute("SELECT datname FROM pg_database").fetchall()}


def test_backends_option_and_default(pg_bench: ModuleType, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert pg_bench.backends("sqlite") == ["sqlite"]
    assert pg_bench.backends("postgres, sqlite,postgres") == ["postgres", "sqlite"]
    for bad in ("oracle", "sqlite,mysql", " , "):
        with pytest.raises(SystemExit, match="--backends: choose from sqlite, postgres"):
            pg_bench.backends(bad)
    assert pg_bench.backends(None) == ["sqlite", "postgres"]  # PostgreSQL answers: both
    monkeypatch.setattr(pg_bench, "ADMIN_DSN", "host=127.0.0.1 port=1 dbname=test user=postgres")
    assert pg_bench.backends(None) == ["sqlite"]
    assert "measuring SQLite only" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="not reachable"):
        pg_bench.backends("sqlite,postgres")


def test_own_database_is_dropped_when_the_benchmark_fails(pg_bench: ModuleType) -> None:
    with pytest.raises(RuntimeError, match="benchmark failed"), pg_bench.own_database() as dsn:
        name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
        held = psycopg.connect(dsn)  # a connection still open (a gateway killed mid-run) does not stop the drop
        assert name in _databases()
        raise RuntimeError("benchmark failed")
    held.close()
    assert name not in _databases()


def test_backend_cpu_counts_the_work_of_that_databases_backends(pg_bench: ModuleType) -> None:
    with pg_bench.own_database() as dsn, psycopg.connect(dsn) as db:
        probe = pg_bench.BackendCpu(dsn)
        try:
            assert probe.pids() == [db.info.backend_pid]  # the probe's own connection is left out
            probe.start()
            idle = probe.stop()
            probe.start()
            db.execute("SELECT count(*) FROM generate_series(1, 3000000) a JOIN generate_series(1, 3000000) b "
                       "ON a = b").fetchone()
            busy = probe.stop()
        finally:
            probe.close()
    assert idle == 0.0
    assert busy > 0.05
