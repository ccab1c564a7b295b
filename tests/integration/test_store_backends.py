"""The storage port's behaviour, run alike on SQLite and on the real PostgreSQL at 127.0.0.1:5432 (no mocks).

Both backends sit behind the same port, so the gateway must not be able to tell them apart: same answers, same log.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import re
import sqlite3
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from gateway.audit.entry import AccessEntry
from gateway.audit.log import AuditLog, log_origin
from gateway.audit.port import AccessQuery
from gateway.audit.rfc9162 import (
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from gateway.audit.verify import verify_log
from gateway.datadir import DataDir, DataDirError
from gateway.domain.districts import District
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import (
    Contribution,
    ContributionKind,
    Guardianship,
    HousingType,
    InsuranceType,
    Permit,
    PermitState,
    Person,
    PropertyTitle,
    Record,
    RentalRegistration,
    ResidenceRegistration,
    Sex,
)
from gateway.store.port import ImportRun, Store
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SqliteStore, StoreError
from gateway.synth import psb
from gateway.synth.people import SynthPerson, residents
from tests.conftest import run_cli
from tests.helpers import make_id

PG_DSN = os.environ.get("PERMITGW_TEST_PG_DSN", "host=127.0.0.1 port=5432 dbname=test user=postgres")
AS_OF = _dt.date(2026, 11, 1)
Opener = Callable[[], Store]


# --- fixtures ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """The PostgreSQL every developer machine and CI has: its absence fails the run, never skips it."""
    try:
        psycopg.connect(PG_DSN, connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_DSN!r}: {exc}\nThe store must be tested on the real "
                    "PostgreSQL (team rule): start it, or point PERMITGW_TEST_PG_DSN at one.", pytrace=False)
    return PG_DSN


@pytest.fixture
def pg_schema(pg_dsn: str) -> Iterator[str]:
    """A schema of this test's own, dropped with everything in it afterwards."""
    name = f"t_{uuid.uuid4().hex}"
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def use_postgres(config_file: Path, dsn: str, schema: str) -> None:
    """Point a data directory's config.toml at PostgreSQL (replacing any [store] section it has)."""
    text = re.sub(r"(?ms)^\[store\].*?(?=^\[|\Z)", "", config_file.read_text("utf-8")).rstrip()
    config_file.write_text(f'{text}\n\n[store]\nbackend = "postgres"\npostgres_dsn = {json.dumps(dsn)}\n'
                           f'postgres_schema = "{schema}"\n', "utf-8")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def opener(backend: str, data: DataDir, request: pytest.FixtureRequest) -> Opener:
    """Opens the data directory's store the gateway's way (DataDir.open_store), on this test's backend."""
    if backend == "postgres":
        use_postgres(data.config_file, request.getfixturevalue("pg_dsn"), request.getfixturevalue("pg_schema"))
    return data.open_store


@pytest.fixture
def store(opener: Opener, backend: str) -> Iterator[Store]:
    opened = opener()
    assert isinstance(opened, PostgresStore if backend == "postgres" else SqliteStore)
    yield opened
    opened.close()


# --- helpers -----------------------------------------------------------------------------------------------------
def records(p: SynthPerson) -> list[Record]:
    who = IdNumber(p.id_number)
    recs: list[Record] = [
        Person(who, p.name, Sex(p.sex), p.birth, p.hukou_region),
        ResidenceRegistration(who, District(p.district), p.address, p.registered_on, HousingType(p.housing_type)),
    ]
    if p.permit_number:
        recs.append(Permit(who, p.permit_number, District(p.district), p.permit_issued, p.permit_valid_until,
                           p.endorsed_on, PermitState(p.permit_state)))
    if p.guardian:
        recs.append(Guardianship(who, IdNumber(p.guardian.id_number), "", "psb"))
    return recs


def population(n: int, seed: int = 11) -> tuple[list[SynthPerson], list[list[Record]]]:
    people = residents(n, seed=seed, as_of=AS_OF)
    return people, [records(p) for p in people]


def entry(i: int, *, subject: str = "", principal: str = "school/330203/a", decision: str = "allow",
          purpose: str = "enrolment", role: str = "school", org: str = "a") -> AccessEntry:
    return AccessEntry(f"2026-11-{10 + i % 20:02d}T08:00:{i % 60:02d}.000000Z", principal, "ab", role, org, "330203",
                       "/permitgw.v1.Residence/GetStatus", purpose, f"case-{i}", "op-1", subject, decision, "S-1", "v1")


def append_in_batches(store: Store, entries: list[AccessEntry], sizes: list[int]) -> list[int]:
    seqs, start = [], 0
    for size in sizes:
        seqs += store.append_accesses(entries[start:start + size])
        start += size
    assert start == len(entries)
    return seqs


def pg_at_rest(dsn: str, schema: str) -> bytes:
    """Every value of every table in the schema, as bytes (bytea raw, text UTF-8), and each row's repr."""
    parts: list[bytes] = []
    with psycopg.connect(dsn) as db:
        tables = [r[0] for r in db.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                                           (schema,))]
        assert {"persons", "registrations", "permits", "guardianships", "facts", "access_log"} <= set(tables)
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{schema}"."{table}"'):
                parts.append(repr(row).encode("utf-8"))
                parts.extend(v if isinstance(v, bytes) else str(v).encode("utf-8") for v in row)
    return b"\n".join(parts)


# --- records -----------------------------------------------------------------------------------------------------
def test_records_round_trip_and_resaving_changes_nothing(store: Store) -> None:
    people, rows = population(30)
    assert all(store.save_rows(rows))
    assert not any(store.save_rows(rows)), "saving the same rows again must change nothing"
    for recs in rows:
        who = recs[0].id_number
        assert store.person(who) == recs[0]
        assert store.registrations(who) == [r for r in recs if isinstance(r, ResidenceRegistration)]
        assert store.permits(who) == store.permit_history(who) == [r for r in recs if isinstance(r, Permit)]
        assert store.guardianships(who) == [r for r in recs if isinstance(r, Guardianship)]
        assert store.latest_district(who) == recs[1].district.code
    assert sorted(i.value for i in store.people()) == sorted(p.id_number for p in people)
    year = AS_OF.year - 1
    declared: dict[str, int] = {}
    for p in people:
        if p.registered_on.year == year:
            declared[p.district] = declared.get(p.district, 0) + 1
    assert store.registrations_declared(year) == declared
    assert store.counts()["persons"] == 30 and store.counts()["registrations"] == 30


def test_a_changed_row_is_saved_not_a_duplicate(store: Store) -> None:
    _, rows = population(3)
    store.save_rows(rows)
    person, registration = rows[0][0], rows[0][1]
    assert isinstance(person, Person) and isinstance(registration, ResidenceRegistration)
    renamed = dataclasses.replace(person, name=person.name + "新")
    moved = dataclasses.replace(registration, address=registration.address + "-2")
    assert store.save_rows([[renamed], [moved], [renamed, moved]]) == [True, True, False]
    assert store.person(person.id_number) == renamed
    assert store.registrations(person.id_number) == [moved]
    assert store.counts()["persons"] == 3 and store.counts()["registrations"] == 3


def test_a_failed_batch_saves_nothing_and_the_store_goes_on(store: Store) -> None:
    _, rows = population(5)
    with pytest.raises(TypeError):
        store.save_rows([rows[0], [object()]])  # type: ignore[list-item]
    assert store.person(rows[0][0].id_number) is None
    assert set(store.counts().values()) == {0}
    assert all(store.save_rows(rows))


def test_fact_versions_the_latest_speaks_and_older_ones_change_nothing(store: Store) -> None:
    people, _ = population(3)
    tenant, landlord, partner = (IdNumber(p.id_number) for p in people)
    rental = RentalRegistration("CZ-1", landlord, tenant, "宁波市海曙区中山路1号", District("330203"),
                                _dt.date(2024, 1, 1), None, True)
    withdrawn = dataclasses.replace(rental, end=_dt.date(2025, 6, 30), registered=False)
    assert store.save_rows([[rental], [withdrawn]]) == [True, True]
    assert store.facts(tenant) == [withdrawn]
    assert store.facts(landlord) == [], "a rental is the tenant's fact"
    assert store.save_rows([[rental]]) == [False], "re-importing the older version changes nothing"
    assert store.save_rows([[rental], [withdrawn]]) == [False, False]
    assert store.facts(tenant) == [withdrawn]
    title = PropertyTitle("BDC-1", landlord, (partner,), "宁波市鄞州区天童路2号", District("330212"),
                          _dt.date(2020, 5, 1))
    paid = [Contribution(tenant, "E1", "甬才科技", InsuranceType.EMPLOYEE_PENSION, f"2025-0{m}", f"2025-0{m}",
                         ContributionKind.NORMAL) for m in (1, 2)]
    assert store.save_rows([[title], paid]) == [True, True]
    assert store.facts(partner) == store.facts(landlord) == [title], "a title is every owner's fact"
    assert store.facts(tenant, Contribution) == paid
    assert store.facts(tenant, RentalRegistration) == [withdrawn]
    assert store.facts(tenant, PropertyTitle) == []
    assert store.counts()["facts"] == 6  # 2 rental versions, the title for 2 owners, 2 months


def test_permit_versions_are_kept_and_the_latest_speaks(store: Store) -> None:
    who = IdNumber(population(1)[0][0].id_number)
    base = Permit(who, "NB-P-1", District("330203"), _dt.date(2023, 1, 10), _dt.date(2024, 1, 10),
                  _dt.date(2023, 1, 10), PermitState.VALID)
    late = dataclasses.replace(base, valid_until=_dt.date(2025, 3, 1), endorsed_on=_dt.date(2024, 3, 1))
    revoked = dataclasses.replace(late, state=PermitState.REVOKED)
    other = Permit(who, "NB-P-2", District("330212"), _dt.date(2025, 4, 1), _dt.date(2026, 4, 1), None,
                   PermitState.VALID)
    assert store.save_rows([[base], [late], [revoked], [other]]) == [True, True, True, True]
    assert store.permits(who) == [revoked, other]
    assert store.permit_history(who) == [base, late, revoked, other]
    assert store.save_rows([[base], [late]]) == [False, False], "an older export re-imported changes nothing"
    assert store.permits(who) == [revoked, other]


def test_guardianships_and_wards(store: Store) -> None:
    people, rows = population(4)
    child, sibling, stranger, guardian = (IdNumber(p.id_number) for p in people)
    store.save_rows([rows[0][:1], rows[1][:1], rows[3][:1]])  # the PSB knows child, sibling and guardian
    links = [Guardianship(child, guardian, "父亲", "psb"), Guardianship(child, guardian, "父亲", "education"),
             Guardianship(sibling, guardian, "母亲", "psb"), Guardianship(stranger, guardian, "", "education")]
    assert store.save_rows([[g] for g in links]) == [True] * 4
    assert store.guardianships(child) == [links[1], links[0]]  # by source
    assert store.wards(guardian) == sorted([child, sibling], key=lambda i: i.value), "only children the PSB knows"
    assert store.wards(child) == []
    assert store.save_rows([[dataclasses.replace(links[2], relation="监护人")]]) == [True]
    assert store.guardianships(sibling)[0].relation == "监护人"


# --- the access log ----------------------------------------------------------------------------------------------
def test_access_log_is_contiguous_and_its_merkle_nodes_match_a_memory_tree(store: Store) -> None:
    entries = [entry(i) for i in range(40)]
    assert store.append_accesses([]) == []
    seqs = append_in_batches(store, entries, [1, 2, 3, 1, 5, 8, 4, 16])
    assert seqs == list(range(1, 41)) and store.log_size() == 40
    stored = list(store.leaf_hashes())
    assert [s for s, _, _ in stored] == seqs
    assert [e for _, _, e in stored] == [dataclasses.replace(e, seq=s) for e, s in zip(entries, seqs, strict=True)]
    leaves = [leaf_hash(e.canonical_bytes()) for e in entries]
    assert [leaf for _, leaf, _ in stored] == leaves
    assert [store.subtree(0, i) for i in range(40)] == leaves
    for n in range(41):
        assert root(n, store) == MemoryTree(leaves[:n]).root(), f"root of the first {n} entries"
    with pytest.raises(KeyError):
        store.subtree(3, 5)  # leaves 40..47 are not there yet


def test_inclusion_and_consistency_proofs_from_the_store_verify(store: Store) -> None:
    entries = [entry(i) for i in range(40)]
    append_in_batches(store, entries, [7, 6, 27])
    for size in (1, 7, 8, 13, 40):
        head = root(size, store)
        for index in range(size):
            proof = inclusion_proof(index, size, store)
            assert verify_inclusion(leaf_hash(entries[index].canonical_bytes()), index, size, proof, head)
    for old, new in ((1, 40), (7, 13), (8, 40), (13, 40), (40, 40)):
        assert verify_consistency(old, new, root(old, store), root(new, store), consistency_proof(old, new, store))


def test_checkpoints_round_trip(store: Store) -> None:
    assert store.checkpoints() == []
    append_in_batches(store, [entry(i) for i in range(10)], [10])
    store.add_checkpoint(10, root(10, store), "permitgw.ningbo/x\n10\nroot\n\n— sig\n")
    store.add_checkpoint(3, root(3, store), "three")
    assert store.checkpoints() == [(3, root(3, store), "three"),
                                   (10, root(10, store), "permitgw.ningbo/x\n10\nroot\n\n— sig\n")]


def test_access_entries_filters(store: Store) -> None:
    subj = store.subject_index(IdNumber(population(1)[0][0].id_number))
    entries = [entry(i, subject=subj if i % 3 == 0 else "", principal=f"school/330203/{i % 2}", org=f"o{i % 2}",
                     decision="deny" if i % 4 == 0 else "allow", purpose="enrolment" if i < 6 else "audit",
                     role="school" if i < 8 else "auditor") for i in range(12)]
    seqs = append_in_batches(store, entries, [12])

    def found(**kw: object) -> list[int]:
        return [e.seq for e in store.access_entries(AccessQuery(**kw))]  # type: ignore[arg-type,misc]

    assert found() == seqs
    assert found(subject=subj) == [1, 4, 7, 10]
    assert found(principal="school/330203/1") == found(org="o1") == [2, 4, 6, 8, 10, 12]
    assert found(role="auditor") == [9, 10, 11, 12]
    assert found(purpose="audit") == list(range(7, 13))
    assert found(decision="deny") == [1, 5, 9]
    assert found(decision="deny", purpose="audit") == [9]
    assert found(seq=5) == [5] and found(seq=99) == []
    assert found(since="2026-11-13", until="2026-11-15") == [4, 5]  # 11-13 and 11-14 (entry i is 11-(10+i))
    assert found(since="2026-11-13T08:00:03.000000Z", until="2026-11-13T08:00:04Z") == [4]
    assert found(limit=3) == [1, 2, 3] and found(subject=subj, limit=2) == [1, 4]
    assert found(subject="00" * 32) == []
    assert list(store.access_entries_at(6)) == [dataclasses.replace(entries[5], seq=6)]
    assert list(store.access_entries_at(13)) == []


# --- statistics, imports -----------------------------------------------------------------------------------------
def test_published_statistics_first_one_wins_and_imports_are_counted(store: Store) -> None:
    assert store.published_statistics("2026-10") is None
    assert store.publish_statistics("2026-10", '{"a": 1}') == '{"a": 1}'
    assert store.publish_statistics("2026-10", '{"a": 2}') == '{"a": 1}', "a month's table is frozen once published"
    assert store.published_statistics("2026-10") == '{"a": 1}'
    assert store.publish_statistics("2026-11", "{}") == "{}"
    store.record_import(ImportRun("psb", "jzdj.csv", "ab" * 32, 10, 7, 2, 1, "rejects/x.csv"))
    counts = store.counts()
    assert (counts["published_statistics"], counts["imports"]) == (2, 1)


# --- personal data at rest ---------------------------------------------------------------------------------------
def at_rest(backend: str, data: DataDir, request: pytest.FixtureRequest) -> bytes:
    if backend == "sqlite":
        return b"".join(p.read_bytes() for p in data.root.glob("gateway.db*"))
    return pg_at_rest(request.getfixturevalue("pg_dsn"), request.getfixturevalue("pg_schema"))


def test_revocations_only_accumulate_and_survive_reopening(store: Store, opener: Opener) -> None:
    assert store.revocations() == frozenset()
    store.add_revocation("abc")
    store.add_revocation("abc")
    store.add_revocation("1f")
    assert store.revocations() == {"abc", "1f"}
    again = opener()
    try:
        assert again.revocations() == {"abc", "1f"}
    finally:
        again.close()


@pytest.mark.postgres
def test_a_postgres_schema_made_before_revocations_were_kept_gets_the_table(data: DataDir, pg_dsn: str,
                                                                            pg_schema: str) -> None:
    use_postgres(data.config_file, pg_dsn, pg_schema)
    data.open_store().close()
    with psycopg.connect(pg_dsn, autocommit=True) as admin:  # a version 2 schema of the release before revocations
        admin.execute(f'SET search_path TO "{pg_schema}"')
        admin.execute("DROP TABLE revocations; DROP TABLE policy_versions; DROP TABLE alert_acks; "
                      "DROP TABLE quota_seen; DROP TABLE quota_warnings; DROP TABLE anomaly_principals; "
                      "DROP TABLE anomaly_subjects; DROP TABLE anomaly_requests; DROP TABLE anomaly_alerts; "
                      "DROP TABLE verifications; UPDATE schema_version SET version = 2")
    assert data.migrate().describe() == f"schema 2 -> 6 (postgres schema {pg_schema})"
    store = data.open_store()
    try:
        store.add_revocation("abc")
        assert store.revocations() == {"abc"}
    finally:
        store.close()


def test_an_emptied_or_missing_revoked_txt_lifts_nothing(store: Store, data: DataDir) -> None:
    """The file and the store together: a revocation lost from the file is noticed, never lifted."""
    from gateway.identity.revocation import RevocationList

    path = data.certs / "revoked.txt"
    path.write_text("abc\n")  # revoked by hand before the store kept revocations: copied there on first read
    alarms: list[str] = []
    rl = RevocationList(path, store=store, check_interval=0, on_damage=alarms.append)
    assert store.revocations() == {"abc"} and rl.whole() == ""
    rl.revoke("def", require_issued=False)
    path.write_text("")  # emptied
    assert rl.is_revoked("abc") and rl.is_revoked("def")
    assert "lacks 2 of 2" in rl.whole()
    path.unlink()  # moved away
    assert "is missing" in rl.whole() and rl.is_revoked("def")
    fresh = RevocationList(path, store=store)  # a restart after the loss: the store remembers
    assert fresh.is_revoked("abc") and "is missing" in fresh.whole()
    fresh.revoke("abc", require_issued=False)  # any revoke rewrites the file from the store: repaired
    assert sorted(path.read_text().split()) == ["abc", "def"]
    assert rl.whole() == "" and alarms[-1] == "" and any("lacks" in a for a in alarms)


def test_no_identity_number_name_address_or_permit_number_at_rest(store: Store, backend: str, data: DataDir,
                                                                    request: pytest.FixtureRequest) -> None:
    people, rows = population(200, seed=13)
    rentals = [[RentalRegistration(f"CZ-{i}", IdNumber(people[i + 1].id_number), IdNumber(p.id_number), p.address,
                                   District(p.district), p.registered_on, None, True)]
               for i, p in enumerate(people[:50])]
    store.save_rows(rows + rentals)
    store.append_accesses([entry(i, subject=store.subject_index(IdNumber(p.id_number))) for i, p in enumerate(people)])
    blob = at_rest(backend, data, request)
    assert len(blob) > 50_000, "the dump must hold the data"
    for p in people:
        assert p.id_number.encode() not in blob and p.id_number[:17].encode() not in blob, "identity number"
        assert p.name.encode("utf-8") not in blob, "name"
        if len(p.name.encode("gb18030")) >= 6:  # shorter patterns occur in random ciphertext by chance
            assert p.name.encode("gb18030") not in blob, "name (GB18030)"
        assert p.address.encode("utf-8") not in blob, "address"
        if p.permit_number:
            assert p.permit_number.encode() not in blob, "permit number"
    assert store.person(IdNumber(people[123].id_number)).name == people[123].name  # type: ignore[union-attr]
    assert store.facts(IdNumber(people[7].id_number)) == rentals[7]


def test_a_store_of_another_schema_version_is_refused(backend: str, data: DataDir, opener: Opener,
                                                      request: pytest.FixtureRequest) -> None:
    opener().close()
    if backend == "sqlite":
        db = sqlite3.connect(data.database)
        db.execute("PRAGMA user_version=99")
        db.close()
    else:
        with psycopg.connect(request.getfixturevalue("pg_dsn"), autocommit=True) as admin:
            admin.execute(f'UPDATE "{request.getfixturevalue("pg_schema")}".schema_version SET version = 99')
    with pytest.raises(StoreError, match="schema version 99"):
        opener()


def test_an_entry_about_several_people_is_found_by_each_and_verifies(store: Store) -> None:
    child, adults = "c1" * 16, ["a1" * 16, "a2" * 16]
    entries = [entry(0, subject="b0" * 16), dataclasses.replace(entry(1, subject=child), subjects=tuple(adults)),
               entry(2, subject=adults[0])]
    store.append_accesses(entries)
    for who, seqs in ((child, [2]), (adults[0], [2, 3]), (adults[1], [2]), ("b0" * 16, [1])):
        assert [e.seq for e in store.access_entries(AccessQuery(subject=who))] == seqs, who
    found = next(store.access_entries_at(2))
    assert (found.subject, found.subjects, found.people()) == (child, tuple(adults), (child, *adults))
    assert [leaf for _, leaf, _ in store.leaf_hashes()] == [leaf_hash(e.canonical_bytes()) for e in entries]
    assert [e.canonical_bytes() for _, _, e in store.leaf_hashes()] == [e.canonical_bytes() for e in entries]


def test_an_entry_about_one_person_hashes_as_before_the_other_subjects_existed() -> None:
    e = entry(3, subject="ab" * 16)
    assert b"subjects" not in e.canonical_bytes()
    assert json.loads(e.canonical_bytes()) == {k: v for k, v in dataclasses.asdict(e).items()
                                               if k not in ("seq", "subjects")}
    assert b'"subjects":["cd' in dataclasses.replace(e, subjects=("cd" * 16,)).canonical_bytes()


def test_a_log_written_before_other_subjects_existed_is_migrated_verifies_and_grows(
        backend: str, data: DataDir, opener: Opener, request: pytest.FixtureRequest) -> None:
    first = opener()
    first.append_accesses([entry(i, subject=f"{i:02x}" * 16) for i in range(5)])
    first.close()
    if backend == "sqlite":  # the schema as it was: no table of other subjects (nor any later one), version 3
        db = sqlite3.connect(data.database)
        db.executescript("DROP TABLE access_subjects; DROP TABLE policy_versions; PRAGMA user_version=3;")
        db.close()
    else:
        with psycopg.connect(request.getfixturevalue("pg_dsn"), autocommit=True) as admin:
            schema = request.getfixturevalue("pg_schema")
            admin.execute(f'DROP TABLE "{schema}".access_subjects')
            admin.execute(f'DROP TABLE "{schema}".policy_versions')
            admin.execute(f'UPDATE "{schema}".schema_version SET version = 1')
    old, new = (3, 8) if backend == "sqlite" else (1, 6)
    with pytest.raises(DataDirError, match=f"schema version {old}; this permitgw needs {new}: run `permitgw migrate"):
        opener()  # no command but migrate (and init) changes the schema
    assert (data.migrate().before, data.migrate().describe()) == (old, f"schema is up to date (version {new})")
    again = opener()
    try:
        again.append_accesses([dataclasses.replace(entry(5, subject="ee" * 16), subjects=("ff" * 16,))])
        assert [e.seq for e in again.access_entries(AccessQuery(subject="ff" * 16))] == [6]
        assert [leaf for _, leaf, _ in again.leaf_hashes()] == [
            leaf_hash(e.canonical_bytes()) for _, _, e in again.leaf_hashes()]
        assert len(list(again.leaf_hashes())) == 6
    finally:
        again.close()
    opener().close()  # and the migrated store opens as a current one


# --- PostgreSQL only: several writers, the selection, a whole gateway ----------------------------------------------
@pytest.mark.postgres
def test_concurrent_appenders_on_two_connections_leave_a_contiguous_verifiable_log(
        data: DataDir, pg_dsn: str, pg_schema: str) -> None:
    stores = [PostgresStore(pg_dsn, data.cipher(), pg_schema) for _ in range(3)]
    origin = log_origin((data.keys / "ca.crt").read_bytes())
    logs = [AuditLog(s, origin, data.signing_key()) for s in stores]  # each batch signed atop its sibling's head
    start = threading.Barrier(len(stores))
    batches: list[list[int]] = []
    errors: list[BaseException] = []

    def appender(n: int, store: Store) -> None:
        start.wait()
        try:
            for b in range(20):
                batches.append(store.append_accesses([entry(100 * n + 5 * b + k, principal=f"w/{n}/x")
                                                      for k in range(1 + b % 5)], sign=logs[n].sign_batch))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=appender, args=(n, s)) for n, s in enumerate(stores)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        size = len(stores) * sum(1 + b % 5 for b in range(20))
        assert all(b == list(range(b[0], b[0] + len(b))) for b in batches), "a batch's entries are contiguous"
        assert sorted(s for b in batches for s in b) == list(range(1, size + 1))
        report = verify_log(stores[0], data.log_verifier())
        assert report.ok and report.size == size, report.problems
        assert root(size, stores[1]) == MemoryTree(leaf for _, leaf, _ in stores[2].leaf_hashes()).root()
    finally:
        for log in logs:
            log.close()
        for s in stores:
            s.close()


@pytest.mark.postgres
def test_open_store_follows_the_store_section(data: DataDir, pg_dsn: str, pg_schema: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    default = data.open_store()
    assert isinstance(default, SqliteStore)
    default.close()
    use_postgres(data.config_file, pg_dsn, pg_schema)
    opened = data.open_store()
    assert isinstance(opened, PostgresStore)
    opened.close()
    for bad, message in (('backend = "oracle"', "backend must be"), ('postgres_dsn = ""', "needs postgres_dsn")):
        key = bad.split(" ", 1)[0]
        good = data.config_file.read_text("utf-8")
        data.config_file.write_text(re.sub(rf"(?m)^{key} = .*$", bad, good), "utf-8")
        with pytest.raises(DataDirError, match=message):
            data.open_store()
        data.config_file.write_text(good, "utf-8")
    monkeypatch.delitem(sys.modules, "gateway.store.postgres")
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    with pytest.raises(DataDirError, match=re.escape("pip install 'permit-gateway[postgres]'")):
        data.open_store()


@pytest.mark.postgres
def test_a_gateway_runs_on_postgres(tmp_path: Path, pg_dsn: str, pg_schema: str) -> None:
    data = DataDir(tmp_path / "gw")
    run_cli("init", "--data", str(data.root))
    use_postgres(data.config_file, pg_dsn, pg_schema)
    people = residents(40, seed=5, as_of=AS_OF)
    src = tmp_path / "jzdj.csv"
    made = psb.write(src, people, seed=5)
    summary = json.loads(run_cli("import", "--data", str(data.root), "--bureau", "psb", "--json", str(src)).stdout)
    assert summary["accepted"] == made["rows"] > 0
    with sqlite3.connect(data.database) as db:  # what init made before the switch stays empty
        assert db.execute("SELECT count(*) FROM persons").fetchone()[0] == 0
    who = people[0].id_number
    explained = json.loads(run_cli("explain", "--data", str(data.root), "--id", who, "--json").stdout)
    assert isinstance(explained["eligible"], bool)
    found = run_cli("audit", "search", "--data", str(data.root), "--json", "--subject", who).stdout.splitlines()
    assert [json.loads(line)["method"] for line in found] == ["permitgw explain"]
    verified = run_cli("audit", "verify", "--data", str(data.root), check=False)
    assert verified.returncode == 0 and "0 not covered by any signature" in verified.stdout, verified.stdout
    store = data.open_store()
    try:
        assert isinstance(store, PostgresStore)
        assert store.counts()["persons"] == len(people) and store.log_size() == 1
        assert json.loads(found[0])["subject"] == store.subject_index(IdNumber(who))
    finally:
        store.close()
    blob = pg_at_rest(pg_dsn, pg_schema)
    assert not any(p.id_number.encode() in blob or p.name.encode("utf-8") in blob for p in people)


def test_a_mixed_batch_of_facts_is_told_apart_row_by_row_and_the_latest_version_wins(store: Store) -> None:
    """One executemany per batch: all new or all present says it at once; a mix is redone row by row."""
    who = IdNumber(make_id(birth=_dt.date(1985, 3, 4)))

    def paid(month: str, kind: ContributionKind = ContributionKind.NORMAL) -> Contribution:
        return Contribution(who, "U1", "", InsuranceType("110"), month, month, kind)

    assert store.save_rows([[paid("2023-01")], [paid("2023-02")]]) == [True, True]
    assert store.save_rows([[paid("2023-01")], [paid("2023-02")]]) == [False, False]
    late = paid("2023-02", ContributionKind.LATE)
    assert store.save_rows([[paid("2023-01")], [late], [late], [paid("2023-03")]]) == [False, True, False, True]
    assert store.facts(who) == [paid("2023-01"), late, paid("2023-03")]
    assert store.counts()["facts"] == 4
