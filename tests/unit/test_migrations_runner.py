"""The migration runner over a fake database: step numbering, one transaction per step (a failing step is undone and
the version before it stays), creation all at once, and the refusals of a database too old or too new; and how a
SQLite script is split into statements."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from gateway.store import migrations_postgres, migrations_sqlite
from gateway.store.migrations import (
    MigrationFailed,
    Plan,
    SchemaAhead,
    SchemaBehind,
    SchemaChange,
    SchemaTooOld,
    Step,
    check,
    migrate,
    open_current,
)
from gateway.store.port import StoreError
from gateway.store.sql_core import Row, Sql
from gateway.store.sqlite import statements


class Broken(Exception):
    """What the fake driver raises for a script containing FAIL."""


class FakeSql:
    def rows(self, sql: str, args: object = ()) -> list[Row]:
        return []

    def run(self, sql: str, args: object = ()) -> int:
        return 0

    def run_many(self, sql: str, args: object) -> int:
        return 0

    def send(self, sql: str, args: object = ()) -> None:
        pass

    def send_many(self, sql: str, args: object) -> None:
        pass


class FakeDatabase:
    """Committed state (version, scripts run, versions recorded) and a transaction that is undone on failure."""

    where = "fake db"
    failures: tuple[type[BaseException], ...] = (Broken,)

    def __init__(self, version: int = 0) -> None:
        self.committed: tuple[int, tuple[str, ...], tuple[int, ...]] = (version, (), ())
        self.state = self.committed
        self.transactions = 0

    @contextmanager
    def transaction(self) -> Iterator[Sql]:
        self.transactions += 1
        self.state = self.committed
        try:
            yield FakeSql()
        except BaseException:
            self.state = self.committed  # rolled back
            raise
        self.committed = self.state

    def version(self) -> int:
        return self.state[0]

    def script(self, sql: str) -> None:
        if "FAIL" in sql:
            raise Broken(f"cannot run {sql!r}")
        self.state = (self.state[0], (*self.state[1], sql), self.state[2])

    def record(self, version: int) -> None:
        self.state = (version, self.state[1], (*self.state[2], version))


PLAN = Plan("fake", 2, "BASE", (Step(3, "three", "S3"), Step(4, "four", "S4"), Step(5, "five", "S5")))


def test_steps_must_be_numbered_from_the_base_on() -> None:
    with pytest.raises(ValueError, match=r"numbered \[3, 4\], not \[3, 5\]"):
        Plan("fake", 2, "BASE", (Step(3, "three", "S3"), Step(5, "five", "S5")))
    assert PLAN.latest == 5 and PLAN.step(4).what == "four"


def test_the_shipped_plans_are_sqlite_8_and_postgres_6() -> None:
    assert (migrations_sqlite.PLAN.base_version, migrations_sqlite.PLAN.latest) == (3, 8)
    assert (migrations_postgres.PLAN.base_version, migrations_postgres.PLAN.latest) == (1, 6)
    assert "policy_versions" in migrations_sqlite.PLAN.step(6).sql == migrations_sqlite.POLICY_VERSIONS
    assert "policy_versions" in migrations_postgres.PLAN.step(4).sql == migrations_postgres.POLICY_VERSIONS
    for plan, step in ((migrations_sqlite.PLAN, 7), (migrations_postgres.PLAN, 5)):
        assert {"quota_seen", "quota_warnings", "anomaly_subjects", "anomaly_alerts"} <= {
            word.strip("(") for word in plan.step(step).sql.split()}


def test_a_database_with_nothing_is_created_in_one_transaction() -> None:
    db = FakeDatabase()
    assert migrate(PLAN, db) == SchemaChange(0, 5, "fake db")
    assert db.committed == (5, ("BASE", "S3", "S4", "S5"), (2, 3, 4, 5)) and db.transactions == 1


def test_each_missing_step_is_its_own_transaction_and_a_second_run_does_nothing() -> None:
    db = FakeDatabase(3)
    change = migrate(PLAN, db)
    assert (change.before, change.after, [s.version for s in change.applied]) == (3, 5, [4, 5])
    assert change.describe() == "schema 3 -> 5 (fake db)"
    assert db.committed == (5, ("S4", "S5"), (4, 5)) and db.transactions == 3
    again = migrate(PLAN, db)
    assert (again.describe(), again.applied, db.transactions) == ("schema is up to date (version 5)", (), 4)


def test_a_failing_step_is_undone_and_the_steps_before_it_stay() -> None:
    plan = Plan("fake", 2, "BASE", (Step(3, "three", "S3"), Step(4, "four", "FAIL"), Step(5, "five", "S5")))
    db = FakeDatabase(2)
    with pytest.raises(MigrationFailed, match=r"schema migration 4 \(four\) failed and was undone; fake db keeps "
                                              r"version 3: cannot run 'FAIL'"):
        migrate(plan, db)
    assert db.committed == (3, ("S3",), (3,))


def test_a_failing_creation_leaves_nothing() -> None:
    plan = Plan("fake", 2, "BASE", (Step(3, "three", "S3"), Step(4, "four", "FAIL")))
    db = FakeDatabase()
    with pytest.raises(MigrationFailed, match="creating the schema \\(fake db\\) failed at version 4 and was undone"):
        open_current(plan, db)
    assert db.committed == (0, (), ())


def test_a_callable_step_runs_in_the_steps_transaction() -> None:
    seen: list[Sql] = []
    plan = Plan("fake", 2, "BASE", (Step(3, "three", run=seen.append),))
    db = FakeDatabase(2)
    assert migrate(plan, db).after == 3 and len(seen) == 1 and db.committed == (3, (), (3,))


def test_opening_refuses_an_older_a_newer_and_a_too_old_database_without_changing_it() -> None:
    for version, error, message in (
            (4, SchemaBehind, "fake db has schema version 4; this permitgw needs 5: run `permitgw migrate`"),
            (6, SchemaAhead, "this permitgw is older than its database (schema version 6, knows up to 5): fake db"),
            (1, SchemaTooOld, "fake db has schema version 1, older than any this permitgw migrates (from 2)")):
        db = FakeDatabase(version)
        with pytest.raises(error) as caught:
            open_current(PLAN, db)
        assert str(caught.value).startswith(message) and isinstance(caught.value, StoreError)
        assert db.committed == (version, (), ())
    for version in (6, 1):  # migrate refuses these too
        with pytest.raises((SchemaAhead, SchemaTooOld)):
            migrate(PLAN, FakeDatabase(version))
    check(PLAN, 5, "fake db")
    assert open_current(PLAN, FakeDatabase(5)) == SchemaChange(5, 5, "fake db")


def test_a_sqlite_script_splits_into_its_statements() -> None:
    script = ("-- a comment; with a semicolon and a child's apostrophe\n"
              "CREATE TABLE a (x TEXT DEFAULT ';');\n"
              "CREATE INDEX a_x ON a(x); -- trailing\n"
              "-- the end\n")
    assert [s.strip().splitlines()[-1] for s in statements(script)] == [
        "CREATE TABLE a (x TEXT DEFAULT ';');", "CREATE INDEX a_x ON a(x); -- trailing"]
    base = list(statements(migrations_sqlite.BASE))  # one CREATE each, whatever its comments say
    assert len(base) == migrations_sqlite.BASE.count("\nCREATE ") == 15
    assert all(s.strip().splitlines()[-1].endswith(";") for s in base)
    with pytest.raises(StoreError, match="an incomplete SQL statement"):
        list(statements("CREATE TABLE b (x"))
