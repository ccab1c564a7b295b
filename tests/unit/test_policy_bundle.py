"""A policy bundle (every file of policies/ as one value): its version, its storage form, its checks, and the
listener that puts a pushed bundle in force in a running server — here over a fake feed; the real PostgreSQL
feed is tested in tests/integration/test_policy_cluster_pg.py."""
from __future__ import annotations

import queue
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.datadir import shipped_policies
from gateway.policy.bundle import (
    BUNDLE_FILES,
    MAX_FILE_BYTES,
    PushedPolicy,
    bundle_version,
    changed_files,
    decode,
    encode,
    materialised,
    read_bundle,
)
from gateway.policy.catalogue import PolicyError
from gateway.policy.decisions import PolicyEngine, build_table, policy_version
from gateway.server.policy_bundle import LoadedPolicy, load_bundle, load_policies
from gateway.server.policy_listener import PolicyListener
from gateway.store.port import StoreUnavailable
from tests.helpers import wait_until

SCHOOL_GPS = b"p, school, *, compulsory-education, permitgw.v1.PermitService/GetPermitStatus, permit-status, *, allow"
ASK = ("school", "330203", "compulsory-education", "permitgw.v1.PermitService/GetPermitStatus")


@pytest.fixture(scope="module")
def shipped() -> dict[str, bytes]:
    return {item.name: item.read_bytes() for item in shipped_policies().iterdir() if item.name in BUNDLE_FILES}


def denying(files: dict[str, bytes]) -> dict[str, bytes]:
    """The bundle with schools' permit-status line taken out (so GetPermitStatus is refused to schools)."""
    assert SCHOOL_GPS in files["policy.csv"]
    return {**files, "policy.csv": files["policy.csv"].replace(SCHOOL_GPS + b"\n", b"")}


# --- the bundle as a value ---------------------------------------------------------------------------------------
def test_the_version_covers_every_file_not_only_the_decision_table(shipped: dict[str, bytes]) -> None:
    v = bundle_version(shipped)
    assert v.startswith("sha256:") and len(v) == len("sha256:") + 16
    assert bundle_version(dict(reversed(list(shipped.items())))) == v  # the order files were read in is no matter
    for name in BUNDLE_FILES:
        assert bundle_version({**shipped, name: shipped[name] + b"\n# edited\n"}) != v, name


def test_a_bundle_survives_its_storage_form(shipped: dict[str, bytes]) -> None:
    assert decode(encode(shipped), "t") == shipped


@pytest.mark.parametrize(("text", "says"), [
    ("not json", "not JSON of base64"),
    ('["policy.csv"]', "not JSON of base64"),
    ('{"policy.csv": "***"}', "not JSON of base64"),
    ('{"policy.csv": ""}', "needs model.conf"),
])
def test_a_damaged_stored_bundle_is_refused_with_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(PolicyError, match=says):
        decode(text, "policy version sha256:x")


def test_a_bundle_has_exactly_its_files_each_bounded(shipped: dict[str, bytes]) -> None:
    with pytest.raises(PolicyError, match="unknown files ../escape"):
        decode(encode({**shipped, "../escape": b"x"}), "t")
    with pytest.raises(PolicyError, match="larger than"):
        decode(encode({**shipped, "quotas.toml": b"#" * (MAX_FILE_BYTES + 1)}), "t")


def test_reading_a_directory_takes_the_bundle_files_and_refuses_a_missing_one(tmp_path: Path,
                                                                            shipped: dict[str, bytes]) -> None:
    for name, data in shipped.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "notes.txt").write_text("not part of the policy")
    assert read_bundle(tmp_path) == shipped
    (tmp_path / "limits.toml").unlink()
    with pytest.raises(PolicyError, match="policy file missing: .*limits.toml"):
        read_bundle(tmp_path)


def test_a_materialised_bundle_is_private_and_removed_afterwards(shipped: dict[str, bytes]) -> None:
    with materialised(shipped) as d:
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
        assert {p.name: p.read_bytes() for p in d.iterdir()} == shipped
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in d.iterdir())
    assert not d.exists()
    with pytest.raises(PolicyError, match="not a policy bundle file"), materialised({"../x": b""}):
        pass


def test_changed_files_names_what_differs(shipped: dict[str, bytes]) -> None:
    after = {**denying(shipped), "points.toml": shipped["points.toml"] + b"\n"}
    assert changed_files(shipped, after) == ["points.toml", "policy.csv"]


# --- loading a bundle is loading a directory at start -------------------------------------------------------------
def test_a_bundle_loads_as_the_server_loads_policies_versioned_by_the_whole_bundle(tmp_path: Path,
                                                                                   shipped: dict[str, bytes]) -> None:
    loaded = load_bundle(shipped, "t")
    assert loaded.table.version == bundle_version(shipped) != ""
    for name, data in shipped.items():
        (tmp_path / name).write_bytes(data)
    at_start = load_policies(tmp_path)
    assert at_start.table.version == policy_version(tmp_path)  # SQLite: the three files, as before
    assert at_start.table.groups == loaded.table.groups
    assert (at_start.quotas, at_start.anomalies, at_start.method_limits) == (
        loaded.quotas, loaded.anomalies, loaded.method_limits)


@pytest.mark.parametrize(("name", "edit", "says"), [
    ("policy.csv", lambda b: b + b"p, teacher, *, x, y, z, *, allow\n", "unknown role 'teacher'"),
    ("quotas.toml", lambda b: b + b"\n[[[garbage", "quotas.toml"),
    ("limits.toml", lambda b: b + b'\n[methods."nope.Service/Nothing"]\nmax_bytes = 10\n', "does not serve"),
    ("organisations.toml", lambda b: b"\xff\xfe not utf-8", "organisations.toml"),
    ("gateway.toml", lambda b: b.replace(b"roles = [", b"rolez = [", 1), "roles must be among"),
])
def test_any_file_that_would_stop_a_server_start_refuses_the_bundle(shipped: dict[str, bytes], name: str,
                                                                    edit: object, says: str) -> None:
    assert callable(edit)
    with pytest.raises(PolicyError, match=says):
        load_bundle({**shipped, name: edit(shipped[name])}, "t")


# --- the listener, over a fake feed ------------------------------------------------------------------------------
class FakeFeed:
    """A feed whose announcements and outages the test decides; latest() is the last bundle "pushed"."""

    def __init__(self, pushed: PushedPolicy) -> None:
        self.pushed: PushedPolicy | None = pushed
        self.events: queue.Queue[str] = queue.Queue()
        self.closed = False

    def push(self, files: dict[str, bytes], version: str | None = None) -> PushedPolicy:
        self.pushed = PushedPolicy(version or bundle_version(files), "2026-06-15T04:00:00.000000Z", "tester", files)
        self.events.put("notify")
        return self.pushed

    def wait(self, timeout: float) -> bool:
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            return False
        if event == "down":
            raise StoreUnavailable("PostgreSQL connection lost: terminated by the test")
        return True

    def latest(self) -> PushedPolicy | None:
        return self.pushed

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def running(shipped: dict[str, bytes], tmp_path: Path,
            capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[PolicyListener, FakeFeed, list[LoadedPolicy]]]:
    first = PushedPolicy(bundle_version(shipped), "2026-06-15T03:00:00.000000Z", "tester", shipped)
    engine = PolicyEngine(tmp_path, load_bundle(shipped, "t").table)
    feed = FakeFeed(first)
    applied: list[LoadedPolicy] = []
    listener = PolicyListener(engine, feed, shipped, applied.append, poll_seconds=3600).start()
    try:
        yield listener, feed, applied
    finally:
        listener.stop()
    assert feed.closed


def test_a_pushed_bundle_is_put_in_force_with_its_settings(running: tuple[PolicyListener, FakeFeed,
                                                                          list[LoadedPolicy]],
                                                           shipped: dict[str, bytes],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    listener, feed, applied = running
    assert listener.engine.decide(*ASK).allowed
    pushed = feed.push(denying(shipped))
    wait_until(lambda: listener.engine.table.version == pushed.version, "the pushed version in force", 5)
    decision = listener.engine.decide(*ASK)
    assert not decision.allowed and decision.policy_version == pushed.version
    assert [a.table.version for a in applied] == [pushed.version]
    assert f"policy reloaded: {bundle_version(shipped)} -> {pushed.version}" in capsys.readouterr().out


def test_a_push_of_start_only_settings_says_they_wait_for_a_restart(
        running: tuple[PolicyListener, FakeFeed, list[LoadedPolicy]], shipped: dict[str, bytes],
        capsys: pytest.CaptureFixture[str]) -> None:
    listener, feed, _ = running
    pushed = feed.push({**shipped, "points.toml": shipped["points.toml"] + b"\n# edited\n",
                        "quotas.toml": shipped["quotas.toml"] + b"\n# edited\n"})
    wait_until(lambda: listener.engine.table.version == pushed.version, "the pushed version in force", 5)
    out = capsys.readouterr().out
    assert f"policy {pushed.version} changes points.toml: these take effect when this server restarts" in out


def test_a_bad_bundle_is_refused_once_and_the_policy_in_force_stays(shipped: dict[str, bytes], tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """check() by hand, without the thread: each look at the database is the test's own."""
    engine = PolicyEngine(tmp_path, load_bundle(shipped, "t").table)
    before = engine.table.version
    feed = FakeFeed(PushedPolicy(before, "t", "tester", shipped))
    applied: list[LoadedPolicy] = []
    listener = PolicyListener(engine, feed, shipped, applied.append)
    bad = feed.push({**shipped, "policy.csv": shipped["policy.csv"] + b"p, teacher, *, x, y, z, *, allow\n"})
    listener.check()
    listener.check()  # the next poll sees the same bad version: still refused, said once
    assert engine.table.version == before and applied == []
    assert "unknown role 'teacher'" in listener.last_error
    out = capsys.readouterr().out
    assert out.count("policy reload refused") == 1 and f"{before} stays in force" in out
    good = feed.push(denying(shipped))
    listener.check()
    assert engine.table.version == good.version != bad.version and listener.last_error == ""
    assert [a.table.version for a in applied] == [good.version]


def test_the_listener_survives_a_lost_connection_and_takes_the_next_push(
        running: tuple[PolicyListener, FakeFeed, list[LoadedPolicy]], shipped: dict[str, bytes],
        capsys: pytest.CaptureFixture[str]) -> None:
    listener, feed, _ = running
    feed.events.put("down")
    feed.events.put("down")
    pushed = feed.push(denying(shipped))
    wait_until(lambda: listener.engine.table.version == pushed.version, "a push after the outage in force", 5)
    assert "reconnected" in capsys.readouterr().out


def test_sighup_makes_the_listener_look_at_once(running: tuple[PolicyListener, FakeFeed, list[LoadedPolicy]],
                                                shipped: dict[str, bytes]) -> None:
    listener, feed, _ = running
    files = denying(shipped)
    feed.pushed = PushedPolicy(bundle_version(files), "t", "tester", files)  # no announcement (it was lost)
    listener.request_reload()
    wait_until(lambda: listener.engine.table.version == bundle_version(files), "the version read on SIGHUP", 5)


def test_the_table_version_can_be_named(tmp_path: Path, shipped: dict[str, bytes]) -> None:
    for name, data in shipped.items():
        (tmp_path / name).write_bytes(data)
    assert build_table(tmp_path, "sha256:0123456789abcdef").version == "sha256:0123456789abcdef"
