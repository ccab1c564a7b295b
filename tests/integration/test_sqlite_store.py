"""The SQLite store: records round-trip, re-saving changes nothing, and no PII is at rest in plaintext."""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest

from gateway.audit.entry import AccessEntry
from gateway.audit.port import AccessQuery
from gateway.datadir import DataDir
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
    ResidenceRegistration,
    Sex,
)
from gateway.store.sqlite import SqliteStore
from gateway.synth.people import residents


def _rows(n: int) -> tuple[list[list[object]], list[str], list[str]]:
    rows, ids, names = [], [], []
    for p in residents(n, seed=11, as_of=_dt.date(2026, 11, 1)):
        who = IdNumber(p.id_number)
        recs: list[object] = [
            Person(who, p.name, Sex(p.sex), p.birth, p.hukou_region),
            ResidenceRegistration(who, District(p.district), p.address, p.registered_on, HousingType(p.housing_type)),
        ]
        if p.permit_number:
            recs.append(Permit(who, p.permit_number, District(p.district), p.permit_issued, p.permit_valid_until,
                               p.endorsed_on, PermitState(p.permit_state)))
        if p.guardian:
            recs.append(Guardianship(who, IdNumber(p.guardian.id_number), "", "psb"))
        rows.append(recs)
        ids.append(p.id_number)
        names.append(p.name)
    return rows, ids, names


def _db_bytes(data: DataDir) -> bytes:
    return b"".join(p.read_bytes() for p in data.root.glob("gateway.db*"))


def test_thousand_people_leave_no_plaintext_identity_or_name(data: DataDir) -> None:
    rows, ids, names = _rows(1000)
    store = data.open_store()
    store.save_rows(rows)
    for i, pid in enumerate(ids[:50]):  # the access log too
        store.append_access(AccessEntry("2026-11-21T00:00:00Z", "school/330203/x", "ab", "school", "x", "330203",
                                        "m", "p", f"c{i}", "o", store.subject_index(IdNumber(pid)), "allow",
                                        "S-1", "v"))
    assert Path(f"{data.database}-wal").exists(), "the test must see the WAL file while it holds the data"
    for blob in (_db_bytes(data),):
        for pid in ids:
            assert pid.encode() not in blob
            assert pid[:17].encode() not in blob  # not even without the check character
        for name in set(names):
            assert name.encode("utf-8") not in blob
            # a 2-character name is only 4 bytes in GB18030: ~2 MB of random ciphertext holds some 4-byte
            # pattern by chance, so only check encodings of at least 6 bytes (chance ~1e-8 per name)
            if len(name.encode("gb18030")) >= 6:
                assert name.encode("gb18030") not in blob
    store.close()
    blob = _db_bytes(data)
    assert not any(pid.encode() in blob for pid in ids)
    assert not any(n.encode("utf-8") in blob for n in names)
    # ...and yet the data is all there for those who hold the keys
    store = data.open_store()
    assert store.counts()["persons"] == 1000
    assert store.person(IdNumber(ids[123])).name == names[123]
    store.close()


def test_records_round_trip_and_resaving_changes_nothing(data: DataDir) -> None:
    rows, ids, _ = _rows(30)
    store = data.open_store()
    assert all(store.save_rows(rows))
    assert not any(store.save_rows(rows)), "saving the same rows again must change nothing"
    for recs in rows:
        person = recs[0]
        assert store.person(person.id_number) == person
        assert store.registrations(person.id_number) == [r for r in recs if isinstance(r, ResidenceRegistration)]
        assert store.permits(person.id_number) == [r for r in recs if isinstance(r, Permit)]
        assert store.guardianships(person.id_number) == [r for r in recs if isinstance(r, Guardianship)]
    store.close()


def test_a_changed_row_is_saved_not_a_duplicate(data: DataDir) -> None:
    rows, _, _ = _rows(3)
    store = data.open_store()
    store.save_rows(rows)
    person = rows[0][0]
    renamed = Person(person.id_number, person.name + "新", person.sex, person.birth_date, person.hukou_region)
    assert store.save_rows([[renamed]]) == [True]
    assert store.person(person.id_number).name == person.name + "新"
    store.close()


def test_a_failed_batch_saves_nothing(data: DataDir) -> None:
    rows, ids, _ = _rows(5)
    store = data.open_store()
    with pytest.raises(TypeError):
        store.save_rows([rows[0], [object()]])  # type: ignore[list-item]
    assert store.person(IdNumber(ids[0])) is None
    store.close()


def test_access_log_is_append_only_in_order_and_searchable(data: DataDir) -> None:
    store = data.open_store()
    subj = store.subject_index(IdNumber(_rows(1)[1][0]))
    seqs = [store.append_access(AccessEntry(f"2026-11-2{i}T08:00:00Z", f"school/330203/{i % 2}", "ab", "school",
                                            "x", "330203", "m", "p", "", "", subj if i % 3 == 0 else "",
                                            "allow", "S-1", "v")) for i in range(9)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 9
    assert [e.seq for e in store.access_entries(AccessQuery(subject=subj))] == [seqs[0], seqs[3], seqs[6]]
    assert len(list(store.access_entries(AccessQuery(principal="school/330203/1")))) == 4
    assert len(list(store.access_entries(AccessQuery(since="2026-11-23", until="2026-11-25")))) == 2
    store.close()


def test_key_files_are_private(data: DataDir) -> None:
    for name in ("pii-enc.key", "pii-index.key", "ca.key", "server.key", "signing.key"):
        assert (data.keys / name).stat().st_mode & 0o777 == 0o600, name


def test_permit_versions_are_kept_and_the_latest_speaks(data: DataDir) -> None:
    rows, ids, _ = _rows(1)
    who = IdNumber(ids[0])
    base = Permit(who, "NB-P-1", District("330203"), _dt.date(2023, 1, 10), _dt.date(2024, 1, 10),
                  _dt.date(2023, 1, 10), PermitState.VALID)
    late = Permit(who, "NB-P-1", District("330203"), _dt.date(2023, 1, 10), _dt.date(2025, 3, 1),
                  _dt.date(2024, 3, 1), PermitState.VALID)  # endorsed seven weeks after it lapsed
    revoked = Permit(who, "NB-P-1", District("330203"), _dt.date(2023, 1, 10), _dt.date(2025, 3, 1),
                     _dt.date(2024, 3, 1), PermitState.REVOKED)
    store = data.open_store()
    assert store.save_rows([[base], [late], [revoked]]) == [True, True, True]
    assert store.permits(who) == [revoked]
    assert store.permit_history(who) == [base, late, revoked]
    assert store.save_rows([[base], [late]]) == [False, False], "an older export re-imported changes nothing"
    assert store.permits(who) == [revoked]
    store.close()


def test_a_database_of_another_schema_version_is_refused(data: DataDir) -> None:
    import sqlite3

    from gateway.store.sqlite import StoreError

    db = sqlite3.connect(data.database)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(StoreError, match="schema version 99"):
        data.open_store()


def _paid(who: IdNumber, month: str, kind: ContributionKind = ContributionKind.NORMAL) -> Contribution:
    return Contribution(who, "U330203001", "宁波某某有限公司", InsuranceType("110"), month, month, kind)


def test_a_batch_of_facts_tells_new_rows_from_duplicates_and_the_latest_version_wins(data: DataDir) -> None:
    _, ids, _ = _rows(2)
    a, b = IdNumber(ids[0]), IdNumber(ids[1])
    store = data.open_store()
    first = [[_paid(a, "2023-01")], [_paid(a, "2023-02")], [_paid(b, "2023-01")]]
    assert store.save_rows(first) == [True, True, True]  # all new: one statement for the batch
    assert store.save_rows(first) == [False, False, False]  # all there: nothing doubled
    late = _paid(a, "2023-02", ContributionKind.LATE)  # a new version of a's February
    mixed = [[_paid(a, "2023-01")], [late], [_paid(a, "2023-03")], [late], [_paid(b, "2023-01")]]
    assert store.save_rows(mixed) == [False, True, True, False, False]  # told apart row by row
    assert store.facts(a) == [_paid(a, "2023-01"), late, _paid(a, "2023-03")]
    assert store.facts(b, Contribution) == [_paid(b, "2023-01")]
    assert store.counts()["facts"] == 5, "every version once"
    back = _paid(a, "2023-03", ContributionKind.BACK_PAYMENT)
    assert store.save_rows([[back], [_paid(a, "2023-03")]]) == [True, False]  # an old version again: not newer
    assert store.facts(a)[-1] == back
    store.close()


def test_every_read_and_write_of_facts_uses_the_primary_key(data: DataDir) -> None:
    """The facts table has no index but its primary key (subject, key, mac): nothing may scan it."""
    _, ids, _ = _rows(1)
    who = IdNumber(ids[0])
    store = data.open_store()
    assert isinstance(store, SqliteStore)
    store.save_rows([[_paid(who, "2023-01")]])
    store.facts(who)  # opens the reader connection the reads below use again (one thread: the same one)
    assert store._readers is not None
    connections = [store._db, *store._readers._idle]
    statements: list[str] = []
    for db in connections:
        db.set_trace_callback(statements.append)  # the statements exactly as run, values bound
    store.save_rows([[_paid(who, "2023-02")], [_paid(who, "2023-02")]])
    store.facts(who)
    store.facts(who, Contribution)
    assert store._readers.opened == 1, "the reads above were traced on the connection they ran on"
    for db in connections:
        db.set_trace_callback(None)
    on_facts = [s for s in statements if " facts " in f" {s} " or "facts f" in s]
    assert any(s.startswith("SELECT") for s in on_facts) and any(s.startswith("INSERT") for s in on_facts)
    for statement in on_facts:
        plan = [row[3] for row in store._db.execute("EXPLAIN QUERY PLAN " + statement)]
        assert not [step for step in plan if step.startswith("SCAN")], (statement, plan)
        if statement.startswith("SELECT"):
            assert any("USING PRIMARY KEY (subject=? AND key=?)" in step for step in plan), plan
    store.close()
