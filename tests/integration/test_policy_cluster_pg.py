"""The cluster's policy on the real PostgreSQL: pushes are stored and announced (NOTIFY at commit), a listener on
its own connection hears them, refuses a bad bundle, and after its connection is terminated reconnects and
still takes the next push. The store and the listener connect as a role of the test's own, in its own database.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from gateway.datadir import DataDir, shipped_policies
from gateway.policy.bundle import BUNDLE_FILES, bundle_version
from gateway.policy.decisions import PolicyEngine
from gateway.server.policy_bundle import LoadedPolicy, load_bundle
from gateway.server.policy_listener import PolicyListener, in_force_at_start
from gateway.store.pg_policy import PgPolicyFeed, channel
from gateway.store.port import StoreError, policy_versions
from gateway.store.postgres import PostgresStore
from tests import pg
from tests.helpers import wait_until
from tests.integration.test_store_backends import PG_DSN
from tests.pg import OwnLogin

pytestmark = pytest.mark.postgres
login, store = pg.login, pg.store  # the fixtures: a database of the test's own, a store on it
SCHOOL_GPS = b"p, school, *, compulsory-education, permitgw.v1.PermitService/GetPermitStatus, permit-status, *, allow"
ASK = ("school", "330203", "compulsory-education", "permitgw.v1.PermitService/GetPermitStatus")



@pytest.fixture(scope="module")
def shipped() -> dict[str, bytes]:
    return {item.name: item.read_bytes() for item in shipped_policies().iterdir() if item.name in BUNDLE_FILES}


def denying(files: dict[str, bytes]) -> dict[str, bytes]:
    return {**files, "policy.csv": files["policy.csv"].replace(SCHOOL_GPS + b"\n", b"")}


def test_pushes_are_kept_and_the_latest_is_in_force(store: PostgresStore, shipped: dict[str, bytes]) -> None:
    assert store.latest_policy() is None
    a, changed = store.push_policy(shipped, "official-a")
    assert changed and a.version == bundle_version(shipped) and a.pushed_by == "official-a"
    again, changed = store.push_policy(shipped, "official-b")
    assert not changed and again == a, "pushing the version in force changes nothing"
    b, changed = store.push_policy(denying(shipped), "official-b")
    assert changed and b.pushed_at > a.pushed_at  # strictly later, though the suite's clock stands still
    latest = store.latest_policy()
    assert latest is not None and latest.version == b.version and latest.files == denying(shipped)
    back, changed = store.push_policy(shipped, "official-c")  # a rollback: the older version in force again
    assert changed and back.version == a.version and back.pushed_at > b.pushed_at
    assert (store.latest_policy() or a).pushed_by == "official-c"
    first, changed = store.push_policy(denying(shipped), "replica", only_if_none=True)
    assert not changed and first.version == a.version, "a first-serve push never replaces a pushed policy"


def test_a_push_is_announced_at_commit_on_the_schema_channel(login: OwnLogin, store: PostgresStore,
                                                             shipped: dict[str, bytes]) -> None:
    with psycopg.connect(login.dsn, autocommit=True) as listener:
        listener.execute(f'LISTEN "{channel("permitgw")}"')
        pushed, _ = store.push_policy(shipped, "official")
        heard = list(listener.notifies(timeout=5, stop_after=1))
    assert [(n.channel, n.payload) for n in heard] == [(channel("permitgw"), pushed.version)]


def test_the_feed_hears_a_push_and_reads_it_on_its_own_connection(store: PostgresStore,
                                                                  shipped: dict[str, bytes]) -> None:
    feed = store.policy_feed()
    try:
        assert feed.wait(0.1) is True, "a feed that has just connected says: look"
        assert feed.latest() is None
        assert feed.wait(0.1) is False
        pushed, _ = store.push_policy(shipped, "official")
        wait_until(lambda: feed.wait(0.2), "the announcement", 5)
        assert feed.latest() == pushed
    finally:
        feed.close()


def test_a_replica_starting_on_an_empty_cluster_pushes_its_own_files_first(store: PostgresStore, data: DataDir,
                                                                         shipped: dict[str, bytes]) -> None:
    pushed, note = in_force_at_start(policy_versions(store), data.policies)
    assert pushed.version == bundle_version(shipped) and "became the first version" in note
    (data.policies / "policy.csv").write_bytes(denying(shipped)["policy.csv"])
    other, note = in_force_at_start(policy_versions(store), data.policies)  # a replica whose files differ
    assert other.version == pushed.version and "pushed" in note


@pytest.fixture
def listening(store: PostgresStore, shipped: dict[str, bytes],
              tmp_path: Path) -> Iterator[tuple[PolicyListener, PgPolicyFeed, list[LoadedPolicy]]]:
    first, _ = store.push_policy(shipped, "official")
    engine = PolicyEngine(tmp_path, load_bundle(first.files, "t").table)
    feed = store.policy_feed()
    applied: list[LoadedPolicy] = []
    listener = PolicyListener(engine, feed, first.files, applied.append).start()
    wait_until(lambda: feed.backend_pid() is not None, "the listener's connection", 10)
    try:
        yield listener, feed, applied
    finally:
        listener.stop()


def test_every_push_reaches_a_listener_and_a_bad_one_is_refused(
        store: PostgresStore, shipped: dict[str, bytes],
        listening: tuple[PolicyListener, PgPolicyFeed, list[LoadedPolicy]]) -> None:
    listener, _, applied = listening
    assert listener.engine.decide(*ASK).allowed
    b, _ = store.push_policy(denying(shipped), "official")
    wait_until(lambda: listener.engine.table.version == b.version, "policy B in force", 5)
    assert not listener.engine.decide(*ASK).allowed
    assert [a.table.version for a in applied] == [b.version]
    # a bundle that passed no check (written past `policy push`): refused here, B stays in force
    bad, _ = store.push_policy({**shipped, "policy.csv": shipped["policy.csv"] + b"p, teacher, *, x, y, z, *, allow\n"},
                               "vandal")
    wait_until(lambda: bad.version in listener.last_error or "teacher" in listener.last_error, "the refusal", 5)
    assert listener.engine.table.version == b.version and not listener.engine.decide(*ASK).allowed


def test_a_listener_whose_connection_is_terminated_reconnects_and_takes_the_next_push(
        login: OwnLogin, store: PostgresStore, shipped: dict[str, bytes],
        listening: tuple[PolicyListener, PgPolicyFeed, list[LoadedPolicy]]) -> None:
    listener, feed, _ = listening
    pid = feed.backend_pid()
    assert pid is not None
    assert login.admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    wait_until(lambda: feed.backend_pid() not in (None, pid), "the listener on a new connection", 10)
    b, _ = store.push_policy(denying(shipped), "official")
    wait_until(lambda: listener.engine.table.version == b.version, "the push after the reconnect", 5)


def test_a_push_made_while_the_listener_was_cut_off_is_taken_once_it_is_back(
        login: OwnLogin, data: DataDir, shipped: dict[str, bytes],
        listening: tuple[PolicyListener, PgPolicyFeed, list[LoadedPolicy]]) -> None:
    """The announcement is lost (nobody listened); the listener reads the latest version when it reconnects."""
    listener, feed, _ = listening
    login.lock_out()  # the gateway's role may not log in: the listener stays disconnected
    wait_until(lambda: feed.backend_pid() is None, "the listener cut off", 10)
    # an official pushes meanwhile, as the administrator (who may still log in): nobody hears the NOTIFY
    admin = conninfo_to_dict(PG_DSN)
    pusher = PostgresStore(make_conninfo(**{**conninfo_to_dict(login.dsn), "user": admin.get("user", "postgres")}),
                           data.cipher(), "permitgw")
    try:
        b, _ = pusher.push_policy(denying(shipped), "official")
    finally:
        pusher.close()
    assert listener.engine.table.version != b.version
    login.let_in()
    wait_until(lambda: listener.engine.table.version == b.version, "the push made during the outage", 10)


def test_sqlite_keeps_no_policy_versions(data: DataDir) -> None:
    store = data.open_store()
    try:
        with pytest.raises(StoreError, match="PostgreSQL backend only"):
            policy_versions(store)
    finally:
        store.close()
