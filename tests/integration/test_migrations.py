"""Versioned schema migrations on the real SQLite and PostgreSQL: the last release's data is migrated with nothing
lost, a fresh database equals a migrated one, only `permitgw migrate` (and init) changes a schema, a database newer
than the code is refused, a failing step leaves the version before it whole, and several migrators at once apply
each step once.

The fixtures in tests/vectors/migrations were made by the release of SQLite schema 5 and PostgreSQL schema 3
(tools/make_migration_fixture.py): a data directory with a synthetic city imported, logged calls, signed
checkpoints and a revoked certificate, and the same story on PostgreSQL as a pg_dump.
"""
from __future__ import annotations

import json
import re
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gateway.datadir import DataDir
from gateway.domain.idnumber import IdNumber
from gateway.store import migrations_postgres, migrations_sqlite, postgres, sqlite
from gateway.store.migrations import MigrationFailed, Plan, SchemaAhead, SchemaChange, Step
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SqliteStore
from tests.conftest import run_cli
from tests.integration.test_store_backends import use_postgres
from tests.pg import OwnLogin, own_login

FIXTURE = Path(__file__).resolve().parent.parent / "vectors" / "migrations"
FACTS: dict[str, Any] = json.loads((FIXTURE / "fixture.json").read_text("utf-8"))
# what migrating the fixtures adds
NEW_TABLES = {"policy_versions", "schema_version", "quota_seen", "quota_warnings", "anomaly_principals",
              "anomaly_subjects", "anomaly_requests", "anomaly_alerts", "fact_order"}


def datadir_copy(tmp: Path) -> DataDir:
    """The fixture's data directory, private as permitgw requires (a checkout gives its files 0644)."""
    root = tmp / "data"
    shutil.copytree(FIXTURE / "datadir", root)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    return DataDir(root)


def sqlite_counts(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        tables = [t for t, in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


def sqlite_layout(db: Path) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:
        return [*con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"),
                con.execute("PRAGMA user_version").fetchone()]
    finally:
        con.close()


def pg_counts(dsn: str, schema: str = "permitgw") -> dict[str, int]:
    with psycopg.connect(dsn) as con:
        tables = [t for t, in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                                          (schema,))]
        return {t: con.execute(f'SELECT count(*) FROM "{schema}"."{t}"').fetchone()[0] for t in tables}  # type: ignore[index]


def pg_layout(dsn: str, schema: str) -> list[tuple[object, ...]]:
    """Columns (with types and domains), indexes and constraints of a schema, without the schema's name."""
    with psycopg.connect(dsn) as con:
        columns = con.execute(
            "SELECT table_name, column_name, data_type, domain_name, is_nullable, column_default, is_identity, "
            "collation_name FROM information_schema.columns WHERE table_schema = %s ORDER BY 1, 2",
            (schema,)).fetchall()
        indexes = [(n, d.replace(f"{schema}.", "")) for n, d in con.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s ORDER BY 1", (schema,))]
        constraints = con.execute(
            "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k JOIN pg_class c "
            "ON c.oid = k.conrelid WHERE k.connamespace = %s::regnamespace ORDER BY 1, 2", (schema,)).fetchall()
        domains = con.execute("SELECT domain_name, data_type, collation_name FROM information_schema.domains "
                              "WHERE domain_schema = %s", (schema,)).fetchall()
    return [*columns, *indexes, *constraints, *domains]


@pytest.fixture
def pg_fixture() -> Iterator[OwnLogin]:
    """A database of the test's own holding the fixture's PostgreSQL schema 3, as its pg_dump restores it."""
    with own_login("mig") as login:
        with psycopg.connect(login.dsn, autocommit=True) as con:
            con.execute((FIXTURE / "postgres.sql").read_text("utf-8"))
        yield login


def one_line_failure(proc: Any) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("permitgw: ")
    return str(lines[0])


def check_nothing_lost(data: DataDir, before: dict[str, int], after: dict[str, int]) -> None:
    """Every table keeps its rows, the log verifies, the imported people are found by their identity numbers."""
    assert set(after) == set(before) | NEW_TABLES
    assert {t: after[t] for t in before} == before
    assert after["policy_versions"] == 0
    verified = run_cli("audit", "verify", "--data", str(data.root))
    assert f"log: {before['access_log']} entries" in verified.stdout and "OK" in verified.stdout
    store = data.open_store()
    try:
        for p in FACTS["people"]:
            found = store.person(IdNumber(p["id"]))
            assert found is not None and found.name == p["name"]
        assert store.revocations() == {FACTS["revoked"]}
        assert [c[0] for c in store.checkpoints()][-1] == before["access_log"]
    finally:
        store.close()


# --- SQLite: the data directory of the last release ----------------------------------------------------------------
def test_the_sqlite_fixture_is_the_last_releases(tmp_path: Path) -> None:
    data = datadir_copy(tmp_path)
    assert sqlite_layout(data.database)[-1] == (FACTS["sqlite"]["version"],) == (5,)
    assert sqlite_counts(data.database) == FACTS["sqlite"]["counts"]
    assert min(FACTS["sqlite"]["counts"][t] for t in ("persons", "access_log", "checkpoints", "revocations")) > 0


def test_a_sqlite_data_directory_of_the_last_release_is_migrated_with_nothing_lost(tmp_path: Path) -> None:
    data = datadir_copy(tmp_path)
    before, layout = sqlite_counts(data.database), sqlite_layout(data.database)
    d = ["--data", str(data.root)]
    for argv in (["audit", "search", *d], ["serve", *d, "--listen", "127.0.0.1:0"], ["cert", "revoke", *d,
                                                                                      "--serial", "ab"]):
        said = one_line_failure(run_cli(*argv, check=False))  # no command but migrate changes the schema
        assert f"schema version 5; this permitgw needs 8: run `permitgw migrate --data {data.root}`" in said, argv
    assert sqlite_layout(data.database) == layout, "a refused command changed the database"

    migrated = run_cli("migrate", *d)
    assert migrated.stdout.splitlines() == [
        f"schema 5 -> 8 (sqlite {data.database})",
        "  6: policy_versions: the policies pushed to the gateways sharing this database",
        "  7: quota and anomaly counts shared by every process on this database (quota_sql.py, anomaly_counts.py)",
        "  8: facts clustered by (subject, key, mac) without a rowid, their order kept in fact_order"]
    after = sqlite_counts(data.database)
    check_nothing_lost(data, before, after)
    assert after["schema_version"] == 3

    layout = sqlite_layout(data.database)
    assert run_cli("migrate", *d).stdout == "schema is up to date (version 8)\n"
    assert sqlite_layout(data.database) == layout and sqlite_counts(data.database) == after


def test_migrating_sqlite_keeps_every_fact_version_its_order_and_its_reads(tmp_path: Path) -> None:
    """Version 8 rebuilds facts clustered by person: every row, id (the order versions were seen) and ciphertext
    is copied, fact_order continues after the highest id, and a person's facts read as before."""
    data = datadir_copy(tmp_path)
    cols = "subject, key, mac, id, kind, body_enc"
    con = sqlite3.connect(data.database)
    before = sorted(con.execute(f"SELECT {cols} FROM facts"))
    con.close()
    assert len(before) > 0
    subjects = {row[0] for row in before}
    run_cli("migrate", "--data", str(data.root))
    con = sqlite3.connect(data.database)
    assert sorted(con.execute(f"SELECT {cols} FROM facts")) == before
    assert con.execute("SELECT next FROM fact_order").fetchall() == [(max(row[3] for row in before) + 1,)]
    assert con.execute("SELECT count(*) FROM sqlite_master WHERE tbl_name = 'facts' AND type = 'index'"
                       ).fetchone() == (0,), "no index but the primary key (the table itself)"
    con.close()
    store = data.open_store()
    try:
        with_facts = [IdNumber(p["id"]) for p in FACTS["people"] if store._blind(IdNumber(p["id"])) in subjects]
        assert with_facts, "the fixture's people have facts"
        for who in with_facts:
            assert store.facts(who), "the migrated facts are found by person"
    finally:
        store.close()


def test_init_applies_pending_migrations(tmp_path: Path) -> None:
    data = datadir_copy(tmp_path)
    assert run_cli("init", "--data", str(data.root)).stdout == f"schema 5 -> 8 (sqlite {data.database})\n"
    assert run_cli("init", "--data", str(data.root)).stdout == f"{data.root} already initialised; nothing overwritten\n"


def test_a_fresh_sqlite_database_equals_a_migrated_one(tmp_path: Path) -> None:
    old = datadir_copy(tmp_path / "old")
    run_cli("migrate", "--data", str(old.root))
    fresh = tmp_path / "fresh"
    assert run_cli("init", "--data", str(fresh)).stdout.count("created gateway.db") == 1
    assert sqlite_layout(DataDir(fresh).database) == sqlite_layout(old.database)


def test_a_sqlite_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    data = datadir_copy(tmp_path)
    run_cli("migrate", "--data", str(data.root))
    con = sqlite3.connect(data.database)
    con.execute("PRAGMA user_version=9")
    con.close()
    for argv in (["migrate"], ["audit", "search"], ["audit", "verify"], ["init"]):
        said = one_line_failure(run_cli(*argv, "--data", str(data.root), check=False))
        assert "this permitgw is older than its database (schema version 9, knows up to 8)" in said, argv
    assert sqlite_layout(data.database)[-1] == (9,)


def failing_plan(plan: Plan, *extra: Step) -> Plan:
    return Plan(plan.backend, plan.base_version, plan.base, plan.steps + extra)


SEVEN = Step(9, "a table nine", "CREATE TABLE seven (a INTEGER);")
BROKEN = Step(10, "a step that fails half-way", "CREATE TABLE half (a INTEGER);\nINSERT INTO nowhere VALUES (1);")


def test_a_failing_sqlite_step_leaves_the_version_before_it_whole(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    data = datadir_copy(tmp_path)
    run_cli("migrate", "--data", str(data.root))
    monkeypatch.setattr(sqlite, "PLAN", failing_plan(migrations_sqlite.PLAN, SEVEN, BROKEN))
    expected = (f"schema migration 10 (a step that fails half-way) failed and was undone; sqlite {data.database} "
                "keeps version 9: no such table: nowhere")
    with pytest.raises(MigrationFailed, match=re.escape(expected)):
        SqliteStore(data.database, data.cipher(), migrate=True)
    con = sqlite3.connect(data.database)
    assert con.execute("PRAGMA user_version").fetchone() == (9,)
    tables = {t for t, in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "seven" in tables and "half" not in tables, "step 9 committed, nothing of step 10"
    assert [v for v, in con.execute("SELECT version FROM schema_version ORDER BY version")] == [6, 7, 8, 9]
    con.close()

    fresh = tmp_path / "fresh.db"  # a failure while creating: no half-made database
    with pytest.raises(MigrationFailed, match="failed at version 10 and was undone, nothing was created: no such"):
        SqliteStore(fresh, data.cipher())
    con = sqlite3.connect(fresh)
    assert con.execute("PRAGMA user_version").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    con.close()


def migrate_at_once(opener: Callable[[], SqliteStore | PostgresStore], n: int = 4) -> list[SchemaChange]:
    """n migrators opening the database at the same moment, each on its own connection: their schema changes."""
    start = threading.Barrier(n)
    changes: list[SchemaChange] = []
    errors: list[BaseException] = []

    def migrator() -> None:
        start.wait()
        try:
            store = opener()
            changes.append(store.schema_change)
            store.close()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=migrator) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return changes


def test_several_sqlite_migrators_at_once_apply_each_step_once(tmp_path: Path) -> None:
    data = datadir_copy(tmp_path)
    changes = migrate_at_once(lambda: SqliteStore(data.database, data.cipher(), migrate=True))
    latest = migrations_sqlite.PLAN.latest
    steps = latest - 5
    assert {c.after for c in changes} == {latest}
    assert sorted(s.version for c in changes for s in c.applied) == list(range(6, latest + 1)), "each step once"
    assert sqlite_counts(data.database)["schema_version"] == steps


# --- PostgreSQL: the schema of the last release ------------------------------------------------------------------
@pytest.mark.postgres
def test_a_postgres_schema_of_the_last_release_is_migrated_with_nothing_lost(tmp_path: Path,
                                                                             pg_fixture: OwnLogin) -> None:
    data = datadir_copy(tmp_path)
    use_postgres(data.config_file, pg_fixture.dsn, "permitgw")
    before = pg_counts(pg_fixture.dsn)
    assert before == FACTS["postgres"]["counts"] and FACTS["postgres"]["version"] == 3
    layout = pg_layout(pg_fixture.dsn, "permitgw")
    said = one_line_failure(run_cli("audit", "search", "--data", str(data.root), check=False))
    assert "(postgres schema permitgw) has schema version 3; this permitgw needs 6: run `permitgw migrate" in said
    assert pg_layout(pg_fixture.dsn, "permitgw") == layout, "a refused command changed the schema"

    migrated = run_cli("migrate", "--data", str(data.root))
    assert migrated.stdout.splitlines()[0] == "schema 3 -> 6 (postgres schema permitgw)"
    after = pg_counts(pg_fixture.dsn)
    check_nothing_lost(data, {t: n for t, n in before.items() if t != "schema_version"}, after)
    with psycopg.connect(pg_fixture.dsn) as con:
        assert con.execute("SELECT version, applied_at IS NULL FROM permitgw.schema_version ORDER BY 1").fetchall() \
            == [(3, True), (4, False), (5, False), (6, False)]

    layout = pg_layout(pg_fixture.dsn, "permitgw")
    assert run_cli("migrate", "--data", str(data.root)).stdout == "schema is up to date (version 6)\n"
    assert pg_layout(pg_fixture.dsn, "permitgw") == layout and pg_counts(pg_fixture.dsn) == after


@pytest.mark.postgres
def test_a_fresh_postgres_schema_equals_a_migrated_one(tmp_path: Path, pg_fixture: OwnLogin) -> None:
    data = datadir_copy(tmp_path)
    migrated = PostgresStore(pg_fixture.dsn, data.cipher(), "permitgw", migrate=True)
    fresh = PostgresStore(pg_fixture.dsn, data.cipher(), "fresh")
    assert (migrated.schema_change.before, fresh.schema_change.before, fresh.schema_change.after) == (3, 0, 6)
    migrated.close()
    fresh.close()
    assert pg_layout(pg_fixture.dsn, "fresh") == pg_layout(pg_fixture.dsn, "permitgw")
    with psycopg.connect(pg_fixture.dsn) as con:
        versions = con.execute("SELECT version FROM fresh.schema_version ORDER BY 1").fetchall()
        assert versions == [(v,) for v in range(1, 7)]


@pytest.mark.postgres
def test_a_postgres_schema_newer_than_the_code_is_refused(tmp_path: Path, pg_fixture: OwnLogin) -> None:
    data = datadir_copy(tmp_path)
    with psycopg.connect(pg_fixture.dsn, autocommit=True) as con:
        con.execute("INSERT INTO permitgw.schema_version (version) VALUES (7)")
    for migrate in (False, True):
        with pytest.raises(SchemaAhead, match=r"this permitgw is older than its database \(schema version 7, knows "
                                              r"up to 6\): postgres schema permitgw"):
            PostgresStore(pg_fixture.dsn, data.cipher(), "permitgw", migrate=migrate)


@pytest.mark.postgres
def test_a_failing_postgres_step_leaves_the_version_before_it_whole(tmp_path: Path, pg_fixture: OwnLogin,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    data = datadir_copy(tmp_path)
    plan = failing_plan(migrations_postgres.PLAN, Step(7, "a table seven", "CREATE TABLE five (a INTEGER);"),
                        Step(8, "a step that fails half-way", BROKEN.sql))
    monkeypatch.setattr(postgres, "PLAN", plan)
    with pytest.raises(MigrationFailed, match="schema migration 8 .* failed and was undone; postgres schema permitgw "
                                              "keeps version 7: relation \"nowhere\" does not exist"):
        PostgresStore(pg_fixture.dsn, data.cipher(), "permitgw", migrate=True)
    with psycopg.connect(pg_fixture.dsn) as con:
        assert con.execute("SELECT max(version) FROM permitgw.schema_version").fetchone() == (7,)
        assert {t for t, in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                                        "'permitgw'")} >= {"five", "policy_versions"}
        assert con.execute("SELECT to_regclass('permitgw.half')").fetchone() == (None,)
    with pytest.raises(MigrationFailed, match="failed at version 8 and was undone, nothing was created"):
        PostgresStore(pg_fixture.dsn, data.cipher(), "fresh")
    with psycopg.connect(pg_fixture.dsn) as con:
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'fresh'"
                           ).fetchone() == (0,)


@pytest.mark.postgres
def test_several_postgres_migrators_at_once_apply_each_step_once(tmp_path: Path, pg_fixture: OwnLogin) -> None:
    data = datadir_copy(tmp_path)
    changes = migrate_at_once(lambda: PostgresStore(pg_fixture.dsn, data.cipher(), "permitgw", migrate=True))
    latest = migrations_postgres.PLAN.latest
    assert {c.after for c in changes} == {latest}
    assert sorted(s.version for c in changes for s in c.applied) == list(range(4, latest + 1)), "each step once"
    with psycopg.connect(pg_fixture.dsn) as con:
        assert con.execute("SELECT version, count(*) FROM permitgw.schema_version WHERE version > 3 GROUP BY 1 "
                           "ORDER BY 1").fetchall() == [(v, 1) for v in range(4, latest + 1)]
