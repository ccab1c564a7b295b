"""The decision table built from policies/: deny by default, reasons, validation, atomic reload."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from gateway.datadir import shipped_policies
from gateway.policy.catalogue import PolicyError
from gateway.policy.decisions import PolicyEngine, Reason, build_table

GPS = "permitgw.v1.PermitService/GetPermitStatus"


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    d = tmp_path / "policies"
    d.mkdir()
    for item in shipped_policies().iterdir():
        if item.name.endswith((".conf", ".csv", ".toml")):
            (d / item.name).write_bytes(item.read_bytes())
    return d


# (role, district, purpose, allowed, reason when refused) — written from docs/api.md's purposes, not from policy.csv
CASES = [
    ("school", "330203", "compulsory-education", True, ""),
    ("school", "330282", "compulsory-education", True, ""),
    ("school", "330203", "public-health", False, Reason.PURPOSE_NOT_ALLOWED),
    ("school", "330203", "", False, Reason.PURPOSE_NOT_ALLOWED),
    ("health", "330212", "public-health", True, ""),
    ("health", "330212", "family-planning", True, ""),
    ("health", "330212", "compulsory-education", False, Reason.PURPOSE_NOT_ALLOWED),
    ("employment", "330200", "employment-service", True, ""),
    ("employment", "330200", "vocational-exam", True, ""),
    ("housing", "330206", "housing-security", True, ""),
    ("police", "330203", "permit-administration", True, ""),
    ("auditor", "330200", "access-audit", False, Reason.POLICY_DENIED),  # its purpose, not this method
    ("statistics", "330200", "population-statistics", False, Reason.POLICY_DENIED),
    ("school", "330203", "no-such-purpose", False, Reason.PURPOSE_NOT_ALLOWED),
    ("nobody", "330203", "compulsory-education", False, Reason.PURPOSE_NOT_ALLOWED),
]


@pytest.mark.parametrize(("role", "district", "purpose", "allowed", "reason"), CASES)
def test_shipped_policy(policy_dir: Path, role: str, district: str, purpose: str, allowed: bool, reason: str) -> None:
    d = build_table(policy_dir).decide(role, district, purpose, GPS)
    assert (d.allowed, d.reason) == (allowed, reason)
    assert d.policy_version.startswith("sha256:")


def test_unknown_method_is_denied(policy_dir: Path) -> None:
    d = build_table(policy_dir).decide("school", "330203", "compulsory-education", "permitgw.v1.X/Y")
    assert not d.allowed and d.reason == Reason.POLICY_DENIED


def test_a_deny_line_beats_an_allow_line(policy_dir: Path) -> None:
    with (policy_dir / "policy.csv").open("a") as f:
        f.write(f"p, school, 330205, compulsory-education, {GPS}, *, *, deny\n")
    t = build_table(policy_dir)
    assert not t.decide("school", "330205", "compulsory-education", GPS).allowed
    assert t.decide("school", "330203", "compulsory-education", GPS).allowed


@pytest.mark.parametrize(("line", "problem"), [
    (f"p, teacher, *, compulsory-education, {GPS}, permit-status, *, allow", "unknown role"),
    (f"p, school, 999999, compulsory-education, {GPS}, permit-status, *, allow", "unknown district"),
    (f"p, school, *, shopping, {GPS}, permit-status, *, allow", "unknown purpose"),
    ("p, school, *, compulsory-education, permitgw.v1.Nope/Nope, permit-status, *, allow", "unknown method"),
    (f"p, school, *, compulsory-education, {GPS}, housing-facts, *, allow", "unknown field group"),
    (f"p, school, *, compulsory-education, {GPS}, permit-status, nearby, allow", "scope must be"),
    (f"p, school, *, compulsory-education, {GPS}, permit-status, *, maybe", "effect must be"),
    (f"p, school, *, compulsory-education, {GPS}, allow", "must have 7 fields"),
])
def test_a_bad_policy_line_fails_at_load_naming_it(policy_dir: Path, line: str, problem: str) -> None:
    with (policy_dir / "policy.csv").open("a") as f:
        f.write(line + "\n")
    with pytest.raises(PolicyError, match="policy line") as exc:
        build_table(policy_dir)
    assert problem in str(exc.value)


@pytest.mark.parametrize("garbage", [
    "this is not a policy", "g, school, teacher", "<<<<<<< HEAD", "p school * compulsory-education",
    "\x00\x01binary", "P, school, *, compulsory-education, x, y, *, allow"])
def test_garbage_in_policy_csv_is_refused_naming_file_and_line(policy_dir: Path, garbage: str) -> None:
    """casbin skips lines it does not understand: garbage must not load as a deny-everything policy."""
    original = (policy_dir / "policy.csv").read_text()
    (policy_dir / "policy.csv").write_text(garbage + "\n" + original)
    with pytest.raises(PolicyError, match=r"policy\.csv:1: "):
        build_table(policy_dir)


def test_a_garbled_file_is_a_refused_reload(policy_dir: Path) -> None:
    engine = PolicyEngine(policy_dir)
    (policy_dir / "policy.csv").write_bytes(b"\xff\xfe garbage\n")
    with pytest.raises(PolicyError, match="policy.csv"):
        engine.reload()
    assert engine.decide("school", "330203", "compulsory-education", GPS).allowed


def test_missing_file_fails_clearly(policy_dir: Path) -> None:
    (policy_dir / "model.conf").unlink()
    with pytest.raises(PolicyError, match="model.conf"):
        build_table(policy_dir)


def test_version_changes_with_the_files(policy_dir: Path) -> None:
    v1 = build_table(policy_dir).version
    with (policy_dir / "policy.csv").open("a") as f:
        f.write("# a comment changes the version too: the file is what was in force\n")
    assert build_table(policy_dir).version != v1


def test_reload_swaps_atomically_and_keeps_old_table_on_error(policy_dir: Path, tmp_path: Path) -> None:
    engine = PolicyEngine(policy_dir)
    assert engine.decide("housing", "330206", "housing-security", GPS).allowed
    seen: set[bool] = set()
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            seen.add(engine.decide("school", "330203", "compulsory-education", GPS).allowed)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(5):
        engine.reload()
    stop.set()
    for t in threads:
        t.join()
    assert seen == {True}
    shutil.copy(policy_dir / "policy.csv", tmp_path / "keep.csv")
    (policy_dir / "policy.csv").write_text("p, teacher, *, x, y, allow\n")
    with pytest.raises(PolicyError):
        engine.reload()
    assert engine.decide("school", "330203", "compulsory-education", GPS).allowed
