"""Versioned schema migrations for both stores: numbered steps, one transaction each, and the one runner.

Each backend has a `Plan` (migrations_sqlite.py, migrations_postgres.py): the base schema (the oldest version still
migratable) and an ordered tuple of `Step`s, step N taking version N-1 to N. A fresh database is the base and every
step, in one transaction; an older one gets the steps it lacks, each in a transaction of its own (SQLite BEGIN
IMMEDIATE; PostgreSQL under the schema's advisory lock), so that a crash or a failing step leaves the previous version
whole, and several gateways migrating one shared schema at once apply each step once. Every applied version is
recorded in table `schema_version` with the time it was applied.

Only `permitgw migrate` (and `init`) migrates: every other command refuses a database older than the code
(`SchemaBehind`, naming `permitgw migrate`) or newer than it (`SchemaAhead`), so that gateways of two releases never
change a shared schema under each other.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from gateway.store.port import StoreError
from gateway.store.sql_core import Sql


class SchemaBehind(StoreError):
    """The database's schema is older than this code's: `permitgw migrate` brings it up to date."""

    def __init__(self, where: str, found: int, latest: int) -> None:
        super().__init__(f"{where} has schema version {found}; this permitgw needs {latest}: run `permitgw migrate`")
        self.where, self.found, self.latest = where, found, latest


class SchemaAhead(StoreError):
    """The database was migrated by a newer permitgw than this one."""


class SchemaTooOld(StoreError):
    """The database predates the oldest schema the steps start from."""


class MigrationFailed(StoreError):
    """A step failed; its transaction was rolled back and the database keeps the version before it."""


@dataclass(frozen=True)
class Step:
    """One migration: the version it makes, what it does in a few words, and its SQL (a script of statements
    without parameters) and/or a small callable run after the SQL in the same transaction."""

    version: int
    what: str
    sql: str = ""
    run: Callable[[Sql], None] | None = None


@dataclass(frozen=True)
class Plan:
    """A backend's schema history: `base` is the whole schema at `base_version`, then `steps` in order."""

    backend: str
    base_version: int
    base: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        numbers = [s.version for s in self.steps]
        expected = list(range(self.base_version + 1, self.base_version + 1 + len(self.steps)))
        if numbers != expected:
            raise ValueError(f"{self.backend} migration steps must be numbered {expected}, not {numbers}")

    @property
    def latest(self) -> int:
        return self.base_version + len(self.steps)

    def step(self, version: int) -> Step:
        """The step that makes `version`."""
        return self.steps[version - self.base_version - 1]


@dataclass(frozen=True)
class SchemaChange:
    """What opening or migrating did: version `before` (0: nothing was there) to `after`, at `where`."""

    before: int
    after: int
    where: str
    applied: tuple[Step, ...] = ()  # the steps this run applied to an existing database, in order

    def describe(self) -> str:
        if self.before == self.after:
            return f"schema is up to date (version {self.after})"
        if self.before == 0:
            return f"schema created at version {self.after} ({self.where})"
        return f"schema {self.before} -> {self.after} ({self.where})"


class Target(Protocol):
    """A database as the runner sees it; every method but `transaction` acts inside the open transaction."""

    where: str  # e.g. "sqlite /srv/permitgw/gateway.db", "postgres schema permitgw"
    failures: tuple[type[BaseException], ...]  # the driver's errors, reported as MigrationFailed

    def transaction(self) -> AbstractContextManager[Sql]:
        """A transaction that excludes every other migrator (and writer), committed on exit."""
        ...

    def version(self) -> int:
        """The schema version; 0 when the database holds nothing yet."""
        ...

    def script(self, sql: str) -> None:
        """Run a script of statements without parameters."""
        ...

    def record(self, version: int) -> None:
        """Make `version` the database's version and add it to table schema_version, with the time."""
        ...


def check(plan: Plan, found: int, where: str) -> None:
    """Refuse a version this code may not use as it is (0, nothing yet, and the latest are fine)."""
    if found > plan.latest:
        raise SchemaAhead(f"this permitgw is older than its database (schema version {found}, knows up to "
                          f"{plan.latest}): {where}; run a permitgw of the release that migrated it")
    if 0 < found < plan.base_version:
        raise SchemaTooOld(f"{where} has schema version {found}, older than any this permitgw migrates (from "
                           f"{plan.base_version}): import the bureaus' files into a fresh data directory")
    if 0 < found < plan.latest:
        raise SchemaBehind(where, found, plan.latest)


def open_current(plan: Plan, target: Target) -> SchemaChange:
    """Create a database that holds nothing yet; accept one at the latest version; refuse any other."""
    with target.transaction() as sql:
        found = target.version()
        if found == 0:
            _create(plan, target, sql)
            return SchemaChange(0, plan.latest, target.where)
    check(plan, found, target.where)
    return SchemaChange(found, found, target.where)


def migrate(plan: Plan, target: Target) -> SchemaChange:
    """Create the database or apply the steps it lacks, each in its own transaction; what was done."""
    before: int | None = None
    applied: list[Step] = []
    while True:
        with target.transaction() as sql:
            found = target.version()  # read again under the lock: another gateway may have migrated meanwhile
            before = found if before is None else before
            if found == 0:
                _create(plan, target, sql)
                return SchemaChange(0, plan.latest, target.where)
            if found == plan.latest:
                return SchemaChange(before, found, target.where, tuple(applied))
            if found > plan.latest or found < plan.base_version:
                check(plan, found, target.where)  # raises: newer than this code, or older than any step
            _apply(plan.step(found + 1), target, sql)
        applied.append(plan.step(found + 1))  # committed


def _create(plan: Plan, target: Target, sql: Sql) -> None:
    """The base schema and every step, inside the caller's one transaction."""
    making = plan.base_version
    try:
        target.script(plan.base)
        target.record(plan.base_version)
        for step in plan.steps:
            making = step.version
            _run(step, target, sql)
    except target.failures as exc:
        raise MigrationFailed(f"creating the schema ({target.where}) failed at version {making} and was undone, "
                              f"nothing was created: {_one_line(exc)}") from exc


def _run(step: Step, target: Target, sql: Sql) -> None:
    if step.sql:
        target.script(step.sql)
    if step.run is not None:
        step.run(sql)
    target.record(step.version)


def _apply(step: Step, target: Target, sql: Sql) -> None:
    try:
        _run(step, target, sql)
    except target.failures as exc:
        raise MigrationFailed(f"schema migration {step.version} ({step.what}) failed and was undone; "
                              f"{target.where} keeps version {step.version - 1}: {_one_line(exc)}") from exc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
