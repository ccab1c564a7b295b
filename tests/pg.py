"""A PostgreSQL role and database of a test's own, for tests that cut a gateway off from its database.

The role's connections are killed with pg_terminate_backend; while the role may not log in (NOLOGIN) nothing
can reconnect, which gives a deterministic "database unreachable" window. Both are dropped afterwards.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest

from gateway.datadir import DataDir
from gateway.store.postgres import PostgresStore
from tests.integration.test_store_backends import PG_DSN


@dataclass
class OwnLogin:
    """A role and a database of the test's own, and the admin connection that controls them."""

    role: str
    dsn: str
    admin: psycopg.Connection

    def kill(self) -> int:
        """Terminate every backend of the role; the number terminated."""
        return len(self.admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                                      (self.role,)).fetchall())

    def lock_out(self) -> None:
        """The database becomes unreachable for the role: no new login, and its connections are gone."""
        self.admin.execute(f'ALTER ROLE "{self.role}" NOLOGIN')
        self.kill()

    def let_in(self) -> None:
        self.admin.execute(f'ALTER ROLE "{self.role}" LOGIN')


@contextmanager
def own_login(prefix: str) -> Iterator[OwnLogin]:
    """Create a role and a database named prefix_<random>; fail (never skip) when PostgreSQL is missing."""
    tag = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_DSN!r}: {exc}", pytrace=False)
    admin.execute(f'CREATE ROLE "{tag}" LOGIN')
    admin.execute(f'CREATE DATABASE "{tag}" OWNER "{tag}"')
    base = psycopg.conninfo.conninfo_to_dict(PG_DSN)
    dsn = psycopg.conninfo.make_conninfo(**{**base, "dbname": tag, "user": tag, "application_name": tag})
    try:
        yield OwnLogin(tag, dsn, admin)
    finally:
        admin.execute(f'ALTER ROLE "{tag}" LOGIN')
        admin.execute(f'DROP DATABASE IF EXISTS "{tag}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{tag}"')
        admin.close()


@pytest.fixture
def login() -> Iterator[OwnLogin]:
    """A role and database of the test's own (import this fixture into a test module to use it)."""
    with own_login("pgt") as own:
        yield own


@pytest.fixture
def store(login: OwnLogin, data: DataDir) -> Iterator[PostgresStore]:
    """A PostgreSQL store on the test's own database (schema permitgw), closed afterwards."""
    opened = PostgresStore(login.dsn, data.cipher(), "permitgw")
    yield opened
    opened.close()
