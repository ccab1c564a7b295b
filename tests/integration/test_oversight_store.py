"""The officers' console's store methods and use cases on SQLite and on the real PostgreSQL: same answers on both
(counts made in SQL, alerts newest first, acknowledgements kept once with their note encrypted at rest, recorded
verifications), and a database made before these tables existed is migrated in place (`permitgw migrate`) with
nothing lost."""
from __future__ import annotations

import dataclasses
import sqlite3
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.checkpoint import Checkpoint, sign_checkpoint, verifier_key
from gateway.audit.entry import AccessEntry, Decision
from gateway.audit.oversight_rows import Acknowledgement, CallCount, VerificationRecord
from gateway.audit.port import EVERYWHERE, AccessQuery, EntryScope
from gateway.audit.rfc9162 import root
from gateway.datadir import DataDir, DataDirError
from gateway.service.oversight_alerts import AlreadyAcknowledged, acknowledge, alerts
from gateway.service.oversight_orgs import PurposeCount, org_report
from gateway.service.oversight_overview import overview
from gateway.service.oversight_verify import latest_verification, run_full_verification
from gateway.store import migrations_postgres, migrations_sqlite, postgres, sqlite
from gateway.store.migrations import SchemaBehind
from gateway.store.port import Store
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SqliteStore
from tests.integration.test_store_backends import (  # noqa: F401 - fixtures, found by name
    Opener,
    at_rest,
    backend,
    opener,
    pg_dsn,
    pg_schema,
    use_postgres,
)

ORIGIN = "permitgw.test/oversight"
KEY = Ed25519PrivateKey.generate()
VERIFIER = verifier_key(ORIGIN, KEY.public_key())
NOTE = "called the school's head: 110101199003077777 was enrolled that day"


def call(time: str, *, role: str = "school", org: str = "kg-7", district: str = "330203",
         purpose: str = "enrolment", decision: str = Decision.ALLOW, reason: str = "OK") -> AccessEntry:
    return AccessEntry(time, f"{role}/{district}/{org}", "ab", role, org, district, "/permitgw.v1.Residence/GetStatus",
                       purpose, "case", "op", "cd" * 16, decision, reason, "v1")


ENTRIES = [
    call("2026-02-28T23:00:00.000000Z"),  # 1
    call("2026-02-28T23:59:59.999999Z", decision=Decision.DENY),  # 2
    call("2026-02-28T23:30:00.000000Z", decision=Decision.ALERT, reason="BULK_LOOKUP"),  # 3
    call("2026-03-01T00:00:00.000000Z", role="hospital", org="h-1", purpose="health-check"),  # 4
    call("2026-03-01T00:10:00.000000Z", district="330205", decision=Decision.INVALID),  # 5
    call("2026-03-01T00:20:00.000000Z", district="330205", decision=Decision.ALERT, reason="DENIED_STORM"),  # 6
    call("2026-03-01T01:00:00.000000Z"),  # 7: past the window's end used below
    call("2026-03-01T00:40:00.000000Z", decision=Decision.ALERT, reason="QUOTA_WARNING"),  # 8
]


@pytest.fixture
def db(opener: Opener) -> Iterator[Store]:  # noqa: F811 - the fixture imported above
    """The store of this test's backend (SQLite, or the real PostgreSQL in a schema of the test's own)."""
    opened = opener()
    yield opened
    opened.close()


def sign(db: Store) -> None:
    """Sign the whole log as the gateway does (the store keeps the checkpoint)."""
    size = db.log_size()
    note = sign_checkpoint(Checkpoint(ORIGIN, size, root(size, db)), ORIGIN, KEY).decode("utf-8")
    db.add_checkpoint(size, root(size, db), note)


# --- the db methods, alike on both backends ----------------------------------------------------------------------
def test_calls_are_counted_per_utc_hour_role_and_decision_without_alerts(db: Store) -> None:
    db.append_accesses(ENTRIES)
    since, until = "2026-02-28T23:00:00.000000Z", "2026-03-01T01:00:00.000000Z"
    assert db.calls_by_hour(since, until, EVERYWHERE) == [
        CallCount("2026-02-28T23", "school", "allow", 1), CallCount("2026-02-28T23", "school", "deny", 1),
        CallCount("2026-03-01T00", "hospital", "allow", 1), CallCount("2026-03-01T00", "school", "invalid", 1)]
    assert db.calls_by_hour(since, until, EntryScope("330205")) == [CallCount("2026-03-01T00", "school", "invalid", 1)]
    assert db.calls_by_hour("2026-02-28T23:59:59.999999Z", "2026-03-01T00:00:00.000000Z", EVERYWHERE) == [
        CallCount("2026-02-28T23", "school", "deny", 1)]  # since inclusive, until exclusive
    assert db.calls_by_hour(since, until, EntryScope("330281")) == []


def test_an_organisations_calls_are_counted_per_utc_day_purpose_and_decision(db: Store) -> None:
    db.append_accesses(ENTRIES)
    since, until = "2026-02-01T00:00:00.000000Z", "2026-04-01T00:00:00.000000Z"
    assert db.org_calls_by_day("kg-7", since, until, EVERYWHERE) == [
        CallCount("2026-02-28", "enrolment", "allow", 1), CallCount("2026-02-28", "enrolment", "deny", 1),
        CallCount("2026-03-01", "enrolment", "allow", 1), CallCount("2026-03-01", "enrolment", "invalid", 1)]
    assert db.org_calls_by_day("kg-7", since, until, EntryScope("330205")) == [
        CallCount("2026-03-01", "enrolment", "invalid", 1)]
    assert db.org_calls_by_day("h-1", since, until, EVERYWHERE) == [CallCount("2026-03-01", "health-check", "allow", 1)]
    assert db.org_calls_by_day("nobody", since, until, EVERYWHERE) == []


def test_a_bureaus_scope_counts_and_lists_its_organisations_only(db: Store) -> None:
    db.append_accesses(ENTRIES)  # kg-7 (330203 and 330205) and h-1; a bureau of kindergartens "kg-*"
    since, until = "2026-02-28T23:00:00.000000Z", "2026-03-01T01:00:00.000000Z"
    kindergartens, hospitals = EntryScope(None, ("EDU", "kg-*")), EntryScope(None, ("HB", "h-1"))
    assert db.calls_by_hour(since, until, kindergartens) == [
        CallCount("2026-02-28T23", "school", "allow", 1), CallCount("2026-02-28T23", "school", "deny", 1),
        CallCount("2026-03-01T00", "school", "invalid", 1)]
    assert db.calls_by_hour(since, until, hospitals) == [CallCount("2026-03-01T00", "hospital", "allow", 1)]
    assert db.calls_by_hour(since, until, EntryScope("330205", ("h-1",))) == []  # both limits at once
    assert db.org_calls_by_day("h-1", since, until, kindergartens) == []
    assert db.org_calls_by_day("kg-7", since, until, EntryScope("330205", ("kg-*",))) == [
        CallCount("2026-03-01", "enrolment", "invalid", 1)]
    assert [e.seq for e, _ in db.alerts(kindergartens, False, 0, 10)] == [8, 6, 3]
    assert (db.alert_count(hospitals, False), db.alert_count(EntryScope("330205", ("kg-7",)), True)) == (0, 1)
    assert overview(db, "2026-03-01T00:59:00Z", hospitals).calls_total == 1


def test_alerts_newest_first_in_pages_with_their_acknowledgements(db: Store) -> None:
    db.append_accesses(ENTRIES)
    assert [(e.seq, e.reason, a) for e, a in db.alerts(EVERYWHERE, False, 0, 10)] == [
        (8, "QUOTA_WARNING", None), (6, "DENIED_STORM", None), (3, "BULK_LOOKUP", None)]
    assert [e.seq for e, _ in db.alerts(EVERYWHERE, False, 1, 1)] == [6]
    assert db.alerts(EVERYWHERE, False, 3, 10) == []
    assert [e.seq for e, _ in db.alerts(EntryScope("330203"), False, 0, 10)] == [8, 3]
    assert (db.alert_count(EVERYWHERE, False), db.alert_count(EntryScope("330205"), False)) == (3, 1)
    assert db.acknowledgement(3) is None
    ack = Acknowledgement(3, "2026-03-01T02:00:00.000000Z", "auditor/330200/city", NOTE, 9)
    assert db.add_acknowledgement(ack) is True
    assert db.add_acknowledgement(dataclasses.replace(ack, note="again", officer="x")) is False
    assert db.acknowledgement(3) == ack
    assert [(e.seq, a) for e, a in db.alerts(EVERYWHERE, False, 0, 10)] == [(8, None), (6, None), (3, ack)]
    assert [e.seq for e, _ in db.alerts(EVERYWHERE, True, 0, 10)] == [8, 6]
    assert (db.alert_count(EVERYWHERE, True), db.alert_count(EntryScope("330203"), True)) == (2, 1)
    entry, _ = db.alerts(EVERYWHERE, False, 2, 1)[0]
    assert entry == next(db.access_entries(AccessQuery(seq=3)))  # the same entry the log search reads


def test_an_acknowledgements_note_is_encrypted_at_rest(db: Store, data: DataDir,
                                                      request: pytest.FixtureRequest) -> None:
    db.append_accesses(ENTRIES)
    db.add_acknowledgement(Acknowledgement(3, "2026-03-01T02:00:00.000000Z", "auditor/330200/city", NOTE, 9))
    blob = at_rest("sqlite" if isinstance(db, SqliteStore) else "postgres", data, request)
    assert b"110101199003077777" not in blob and b"the school's head" not in blob
    assert b"auditor/330200/city" in blob  # the officer is a principal, not personal data


def test_checkpoints_and_verifications_as_stored(db: Store) -> None:
    assert (db.latest_checkpoint(), db.latest_verification()) == (None, None)
    db.append_accesses(ENTRIES[:4])
    db.add_checkpoint(2, b"\x02" * 32, "note 2")
    db.add_checkpoint(4, b"\x04" * 32, "note 4")
    db.add_checkpoint(3, b"\x03" * 32, "note 3")
    latest = db.latest_checkpoint()
    assert latest is not None and (latest.size, latest.root, latest.note) == (4, b"\x04" * 32, "note 4")
    assert latest.stored_at.endswith("Z") and latest.stored_at[10] == "T"
    first = VerificationRecord("2026-03-01T02:00:00.000000Z", True, 4, "OK")
    db.add_verification(first)
    db.add_verification(dataclasses.replace(first, ok=False, message="FAILED: 1 problem(s)"))
    assert db.latest_verification() == dataclasses.replace(first, ok=False, message="FAILED: 1 problem(s)")


# --- the use cases over the real stores -----------------------------------------------------------------------------
def test_the_console_use_cases_on_a_real_store(db: Store) -> None:
    db.append_accesses(ENTRIES)
    sign(db)
    o = overview(db, "2026-03-01T00:59:00Z")
    assert (o.log_size, o.calls_total, o.refused, o.open_alerts) == (8, 4, 2, 3)
    assert o.refusal_rate == 0.5 and o.checkpoint is not None and o.checkpoint.size == 8
    assert overview(db, "2026-03-01T00:59:00Z", EntryScope("330205")).calls_total == 1
    recorded = db.append_access(call("2026-03-01T02:00:00.000000Z", role="auditor", purpose="access-audit"))
    ack = acknowledge(db, 6, NOTE, "auditor/330205/d", recorded, "2026-03-01T02:00:00Z", scope=EntryScope("330205"))
    with pytest.raises(AlreadyAcknowledged):
        acknowledge(db, 6, "again", "auditor/330200/city", recorded, "2026-03-01T02:00:00Z")
    page = alerts(db, page=1, per_page=2)
    assert [(i.entry.seq, i.acknowledgement) for i in page.items] == [(8, None), (6, ack)]
    assert (page.total, page.pages) == (3, 2)
    report = org_report(db, "h-1", "2026-02-28T00:00:00Z", "2026-03-02T00:00:00Z")
    assert (report.by_purpose, report.total) == ((PurposeCount("health-check", "allow", 1),), 1)
    sign(db)
    record = run_full_verification(db, VERIFIER, "2026-03-01T03:00:00Z")
    assert (record.ok, record.size) == (True, 9), record.message
    assert latest_verification(db) == record


# --- a database made before the console's tables: migrated in place, nothing lost ----------------------------------
def _fill(db: Store) -> list[AccessEntry]:
    db.append_accesses(ENTRIES)
    sign(db)
    db.add_revocation("abc")
    return [e for _, _, e in db.leaf_hashes()]


def _check_upgraded(db: Store, entries: list[AccessEntry]) -> None:
    assert [e for _, _, e in db.leaf_hashes()] == entries
    assert db.revocations() == {"abc"} and [c[0] for c in db.checkpoints()] == [8]
    assert db.alert_count(EVERYWHERE, True) == 3 and db.latest_verification() is None
    assert db.add_acknowledgement(Acknowledgement(3, "2026-03-01T02:00:00.000000Z", "a/330200/c", NOTE, 8))
    assert run_full_verification(db, VERIFIER, "2026-03-01T03:00:00Z").ok


def _sqlite_layout(db: sqlite3.Connection) -> list[tuple[object, ...]]:
    return db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()


# The shared quota and anomaly tables came with SQLite 7 / PostgreSQL 5: an older database lacks them.
DROP_ANOMALIES = ("DROP TABLE anomaly_principals; DROP TABLE anomaly_subjects; DROP TABLE anomaly_requests; "
                  "DROP TABLE anomaly_alerts;")
# Facts were a rowid table with two more indexes before SQLite 8 / PostgreSQL 6 (the facts written are dropped).
_BASE_FACTS = migrations_sqlite.BASE[migrations_sqlite.BASE.index("CREATE TABLE IF NOT EXISTS facts ("):
                                     migrations_sqlite.BASE.index("-- The access log")]
UNDO_FACTS_SQLITE = "DROP TABLE fact_order; DROP TABLE facts;" + _BASE_FACTS
UNDO_FACTS_POSTGRES = ("DROP TABLE fact_order; CREATE INDEX facts_key ON facts(key, subject); "
                       "ALTER TABLE facts ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;")


def test_a_sqlite_database_of_schema_4_is_migrated_in_place(data: DataDir) -> None:
    made = sqlite3.connect(":memory:")  # the schema as version 4 had it, exactly
    made.executescript(migrations_sqlite.BASE + migrations_sqlite.ACCESS_SUBJECTS + migrations_sqlite.REVOCATIONS)
    first = SqliteStore(data.database, data.cipher())
    entries = _fill(first)
    first.close()
    db = sqlite3.connect(data.database)  # the database as a gateway of schema 4 left it
    db.executescript("DROP TABLE alert_acks; DROP TABLE verifications; DROP INDEX access_time; "
                     "DROP INDEX access_org_time; DROP INDEX access_alerts; DROP TABLE policy_versions; "
                     "DROP TABLE schema_version; PRAGMA user_version=4;"
                     "DROP TABLE quota_seen; DROP TABLE quota_warnings;" + DROP_ANOMALIES + UNDO_FACTS_SQLITE)
    assert _sqlite_layout(db) == _sqlite_layout(made)
    db.close()
    for read_only in (True, False):  # no opener but migrate changes the schema
        with pytest.raises(SchemaBehind, match="schema version 4; this permitgw needs 8: run `permitgw migrate`"):
            SqliteStore(data.database, data.cipher(), read_only=read_only)
    migrated = SqliteStore(data.database, data.cipher(), migrate=True)
    assert (migrated.schema_change.before, migrated.schema_change.after) == (4, 8)
    assert [s.version for s in migrated.schema_change.applied] == [5, 6, 7, 8]
    try:
        _check_upgraded(migrated, entries)
    finally:
        migrated.close()
    db = sqlite3.connect(data.database)
    assert db.execute("PRAGMA user_version").fetchone() == (sqlite.SCHEMA_VERSION,) == (8,)
    assert [v for v, in db.execute("SELECT version FROM schema_version ORDER BY version")] == [5, 6, 7, 8]
    db.close()
    SqliteStore(data.database, data.cipher(), read_only=True).close()


def _pg_layout(admin: psycopg.Connection, schema: str) -> list[tuple[object, ...]]:
    columns = admin.execute("SELECT table_name, column_name, data_type, domain_name, is_nullable FROM "
                            "information_schema.columns WHERE table_schema = %s ORDER BY 1, 2", (schema,)).fetchall()
    indexes = admin.execute("SELECT indexname, replace(indexdef, %s, '') FROM pg_indexes WHERE schemaname = %s "
                            "ORDER BY 1", (f'"{schema}".', schema)).fetchall()
    indexes = [(n, d.replace(f"{schema}.", "")) for n, d in indexes]
    return [*columns, *indexes]


@pytest.mark.postgres
def test_a_postgres_schema_of_version_2_is_migrated_in_place(data: DataDir, request: pytest.FixtureRequest) -> None:
    dsn, schema = request.getfixturevalue("pg_dsn"), request.getfixturevalue("pg_schema")
    old = f"t_{uuid.uuid4().hex}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        try:
            admin.execute(f'CREATE SCHEMA "{old}"')  # the schema as version 2 had it, exactly
            admin.execute(f'SET search_path TO "{old}"')
            admin.execute(migrations_postgres.BASE + migrations_postgres.ACCESS_SUBJECTS)
            admin.execute(migrations_postgres.REVOCATIONS)
            admin.execute("RESET search_path")
            use_postgres(data.config_file, dsn, schema)
            first = data.open_store()
            assert isinstance(first, PostgresStore)
            entries = _fill(first)
            first.close()
            admin.execute(f'SET search_path TO "{schema}"')  # as a gateway of schema 2 left it
            admin.execute("DROP TABLE alert_acks; DROP TABLE verifications; DROP INDEX access_org_time; "
                          "DROP INDEX access_alerts; DROP TABLE policy_versions; DELETE FROM schema_version; "
                          "ALTER TABLE schema_version DROP COLUMN applied_at; "
                          "INSERT INTO schema_version (version) VALUES (2);"
                          "DROP TABLE quota_seen; DROP TABLE quota_warnings;" + DROP_ANOMALIES
                          + UNDO_FACTS_POSTGRES)
            admin.execute("RESET search_path")
            assert _pg_layout(admin, schema) == _pg_layout(admin, old)
            with pytest.raises(DataDirError, match="schema version 2; this permitgw needs 6: run `permitgw migrate"):
                data.open_store()
            assert data.migrate().describe() == f"schema 2 -> 6 (postgres schema {schema})"
            migrated = data.open_store()
            try:
                _check_upgraded(migrated, entries)
            finally:
                migrated.close()
            assert admin.execute(f'SELECT version, applied_at IS NULL FROM "{schema}".schema_version ORDER BY 1'
                                 ).fetchall() == [(2, True), (3, False), (4, False), (5, False), (6, False)]
            assert postgres.SCHEMA_VERSION == 6
        finally:
            admin.execute(f'DROP SCHEMA IF EXISTS "{old}" CASCADE')
