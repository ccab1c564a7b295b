"""Revocations shared by replicas: the store is re-read on a bounded interval whatever the host's file does.

Each replica has its own certs/revoked.txt; a revocation made on another replica reaches this one only through
the store. These tests drive RevocationList with an injected clock and a store of their own (a set), so
"due" and "not yet due" are exact, and count the store reads to show the request path never makes one.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from gateway.identity.revocation import CHECK_INTERVAL, RevocationList


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SharedStore:
    """The `revocations` table as every replica sees it; `down` makes every read fail, as a lost database."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.down = False

    def revocations(self) -> frozenset[str]:
        if self.down:
            raise ConnectionError("the database does not answer")
        return frozenset(self.revoked)

    def add_revocation(self, serial: str) -> None:
        if self.down:
            raise ConnectionError("the database does not answer")
        self.revoked.add(serial)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> SharedStore:
    return SharedStore()


def replica(tmp_path: Path, name: str, store: SharedStore, clock: Clock, alarms: list[str] | None = None
            ) -> RevocationList:
    certs = tmp_path / name / "certs"
    certs.mkdir(parents=True)
    return RevocationList(certs / "revoked.txt", store=store, clock=clock,
                          on_damage=alarms.append if alarms is not None else None)


def test_a_revocation_made_elsewhere_is_in_force_after_one_poll_and_copied_to_the_file(
        tmp_path: Path, store: SharedStore, clock: Clock) -> None:
    here = replica(tmp_path, "here", store, clock)
    elsewhere = replica(tmp_path, "elsewhere", store, clock)
    elsewhere.revoke("abc", require_issued=False)  # e.g. `permitgw cert revoke` against the other host
    assert store.revoked == {"abc"}
    assert not here.poll_store(), "not due yet: read at start less than an interval ago"
    assert not here.is_revoked("abc")
    clock.now += CHECK_INTERVAL
    assert here.poll_store()
    assert here.is_revoked("abc") and here.whole() == ""
    assert here.path.read_text().split() == ["abc"], "the host's own file catches up"


def test_the_request_path_never_reads_the_store_and_polling_is_bounded(
        tmp_path: Path, store: SharedStore, clock: Clock) -> None:
    here = replica(tmp_path, "here", store, clock)
    reads = here.store_reads
    for _ in range(50):  # many calls over many intervals; the file never changes
        clock.now += CHECK_INTERVAL
        assert not here.is_revoked("abc") and here.whole() == ""
    assert here.store_reads == reads, "a request read the store"
    polls = [here.poll_store() for _ in range(20)]  # a busy watcher at one instant reads once
    assert polls.count(True) == 1 and here.store_reads == reads + 1
    clock.now += CHECK_INTERVAL / 2
    assert not here.poll_store()
    clock.now += CHECK_INTERVAL / 2
    assert here.poll_store()


def test_a_file_that_loses_a_serial_it_held_is_damage_even_though_the_store_has_it(
        tmp_path: Path, store: SharedStore, clock: Clock) -> None:
    alarms: list[str] = []
    here = replica(tmp_path, "here", store, clock, alarms)
    here.revoke("abc", require_issued=False)
    store.revoked.add("def")  # revoked on another replica
    clock.now += CHECK_INTERVAL
    here.poll_store()
    assert here.whole() == "" and sorted(here.path.read_text().split()) == ["abc", "def"]
    here.path.write_text("def\n")  # someone removed a serial from this host's file
    clock.now += CHECK_INTERVAL
    assert "lacks 1 of 2" in here.whole() and here.is_revoked("abc")
    clock.now += CHECK_INTERVAL
    here.poll_store()
    assert "lacks 1 of 2" in here.whole(), "a store read must not paper over the loss"
    here.revoke("fed", require_issued=False)  # any revoke rewrites the file from everything known: whole again
    assert here.whole() == "" and alarms[-1] == ""


def test_a_fresh_copy_without_a_file_gets_one_so_that_its_later_loss_is_seen(
        tmp_path: Path, store: SharedStore, clock: Clock) -> None:
    here = replica(tmp_path, "here", store, clock)
    assert here.path.read_text() == "", "nothing revoked yet: an empty file is made"
    store.revoked.add("abc")
    clock.now += CHECK_INTERVAL
    here.poll_store()
    assert here.whole() == "" and here.is_revoked("abc")
    here.path.unlink()
    clock.now += CHECK_INTERVAL
    assert "is missing" in here.whole() and here.is_revoked("abc")
    clock.now += CHECK_INTERVAL
    here.poll_store()
    assert not here.path.exists(), "a file gone missing is reported, never silently re-made"


def test_a_copy_without_a_file_while_revocations_exist_is_damaged(
        tmp_path: Path, store: SharedStore, clock: Clock) -> None:
    store.revoked.add("abc")
    here = replica(tmp_path, "here", store, clock)
    assert "is missing" in here.whole() and here.is_revoked("abc") and not here.path.exists()


def test_a_lost_database_keeps_what_is_known_and_the_next_poll_catches_up(
        tmp_path: Path, store: SharedStore, clock: Clock) -> None:
    here = replica(tmp_path, "here", store, clock)
    store.revoked.add("abc")
    clock.now += CHECK_INTERVAL
    here.poll_store()
    store.down = True
    clock.now += CHECK_INTERVAL
    assert here.poll_store()  # it tried; the failure is logged, nothing is forgotten
    assert here.is_revoked("abc") and here.whole() == ""
    store.down = False
    store.revoked.add("def")
    clock.now += CHECK_INTERVAL
    here.poll_store()
    assert here.is_revoked("def") and here.whole() == ""


def test_at_start_a_file_lacking_stored_serials_is_damage_and_says_how_to_repair(
        tmp_path: Path, store: SharedStore, clock: Clock) -> None:
    """Emptied while stopped, or stopped while another replica revoked: at start the two look alike."""
    store.revoked.update({"abc", "def"})
    certs = tmp_path / "here" / "certs"
    certs.mkdir(parents=True)
    (certs / "revoked.txt").write_text("abc\n")
    here = RevocationList(certs / "revoked.txt", store=store, clock=clock)
    assert here.is_revoked("def")
    assert "lacks 1 of 2" in here.whole() and "permitgw cert revoke --serial def" in here.whole()
    clock.now += CHECK_INTERVAL
    here.poll_store()
    assert "lacks 1 of 2" in here.whole(), "a store read must not paper over it"
    here.revoke("abc", require_issued=False)
    assert here.whole() == "" and sorted(here.path.read_text().split()) == ["abc", "def"]


def test_a_replica_that_was_stopped_while_another_revoked_starts_whole_and_catches_up(
        tmp_path: Path, store: SharedStore, clock: Clock) -> None:
    """Replicas on one PostgreSQL database: the store is the cluster's list, so a serial revoked elsewhere while
    this replica was stopped is in force at start and copied to its file — no repair needed."""
    store.revoked.update({"abc", "def"})
    certs = tmp_path / "here" / "certs"
    certs.mkdir(parents=True)
    (certs / "revoked.txt").write_text("abc\n")
    alarms: list[str] = []
    here = RevocationList(certs / "revoked.txt", store=store, clock=clock, on_damage=alarms.append,
                          shared_store=True)
    assert here.is_revoked("def") and here.whole() == "" and not alarms
    assert sorted(here.path.read_text().split()) == ["abc", "def"]
    (certs / "revoked.txt").write_text("abc\n")  # a serial the file held and lost is damage in this mode too
    clock.now += CHECK_INTERVAL
    assert "lacks 1 of 2" in here.whole() and here.is_revoked("def")


def test_a_shared_store_still_reports_a_missing_file_while_revocations_exist(
        tmp_path: Path, store: SharedStore, clock: Clock) -> None:
    store.revoked.add("abc")
    certs = tmp_path / "here" / "certs"
    certs.mkdir(parents=True)
    here = RevocationList(certs / "revoked.txt", store=store, clock=clock, shared_store=True)
    assert "is missing" in here.whole() and here.is_revoked("abc")
