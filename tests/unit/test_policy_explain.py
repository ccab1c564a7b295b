"""`permitgw policy explain`: the decision, the policy version and the lines behind it, for each kind of outcome.

Runs against the repository's policies/; one test drives the real command on an initialised data directory.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from gateway.cli.policy_explain import explain, report, resolve_method
from gateway.datadir import DataDir
from gateway.policy.decisions import build_table
from tests.conftest import run_cli

POLICIES = Path(__file__).resolve().parents[2] / "policies"
TABLE = build_table(POLICIES)
GPS = "permitgw.v1.PermitService/GetPermitStatus"
HEALTH_GPS = "permitgw.health.v1.HealthPermitService/GetPermitStatus"
GRR = "permitgw.v1.PermitService/GetResidenceRecord"


def run(role: str, district: str, purpose: str, method: str, scope: str = "in-district") -> str:
    out = io.StringIO()
    assert report(TABLE, role, district, purpose, method, scope, out) == 0
    return out.getvalue()


def test_allowed_shows_the_groups_the_version_and_the_granting_lines() -> None:
    text = run("school", "330203", "compulsory-education", GPS)
    assert "ALLOWED: field groups identity-masked, permit-status" in text
    assert f"policy version {TABLE.version}" in text
    assert f"allow  p, school, *, compulsory-education, {GPS}, permit-status, *, allow" in text
    assert "deny by default" not in text


def test_a_deny_line_is_shown_marked_deny() -> None:
    text = run("police", "330200", "permit-administration", GPS)
    assert "ALLOWED: field groups identity-full, permit-status" in text
    assert "deny   p, police, *, permit-administration, *, identity-masked, *, deny" in text


def test_purpose_not_allowed() -> None:
    text = run("school", "330203", "public-health", GPS)
    assert "REFUSED: PURPOSE_NOT_ALLOWED" in text
    assert "no line grants this (deny by default)" in text
    assert "school may state: compulsory-education" in text


def test_out_of_district_for_housing() -> None:
    text = run("housing", "330206", "housing-security", GRR, "out-of-district")
    assert "REFUSED: OUT_OF_DISTRICT" in text
    assert "residence-history, in-district, allow  (not for this request: in-district only)" in text
    assert "ALLOWED: field groups identity-masked, permit-history, residence-history" in run(
        "housing", "330206", "housing-security", GRR)


def test_policy_denied_when_the_purpose_is_allowed_but_not_this_method() -> None:
    text = run("school", "330203", "compulsory-education", GRR)
    assert "REFUSED: POLICY_DENIED" in text
    assert "no line grants this (deny by default)" in text


@pytest.mark.parametrize(("text", "method"), [
    (GPS, GPS),
    ("PermitService.GetPermitStatus", GPS),
    ("PermitService/GetPermitStatus", GPS),
    ("HealthPermitService.GetPermitStatus", HEALTH_GPS),
    ("GetResidenceRecord", GRR),
    ("GetDistrictStatistics", "permitgw.v1.StatisticsService/GetDistrictStatistics"),
])
def test_short_method_names(text: str, method: str) -> None:
    assert resolve_method(text, TABLE.catalogue.methods) == method


def test_a_short_name_works_in_explain() -> None:
    assert f"purpose housing-security, {GRR}, subject in-district" in run(
        "housing", "330203", "housing-security", "GetResidenceRecord")


@pytest.mark.parametrize(("args", "message"), [
    (("teacher", "330203", "compulsory-education", GPS, "in-district"), "--role: unknown role 'teacher'"),
    (("school", "330204", "compulsory-education", GPS, "in-district"), "--district: unknown district '330204'"),
    (("school", "330203", "shopping", GPS, "in-district"), "--purpose: unknown purpose 'shopping'"),
    (("school", "330203", "compulsory-education", "GetPermitStatus", "in-district"),
     "ambiguous: PermitService.GetPermitStatus, HealthPermitService.GetPermitStatus"),
    (("school", "330203", "compulsory-education", "CheckEnrollment", "in-district"), "ambiguous"),
    (("school", "330203", "compulsory-education", "GetNothing", "in-district"), "unknown method 'GetNothing'"),
    (("school", "330203", "compulsory-education", GPS, "nearby"), "--scope"),
])
def test_errors(args: tuple[str, str, str, str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        report(TABLE, *args, io.StringIO())


def test_explain_reads_the_policy_directory() -> None:
    out = io.StringIO()
    assert explain(POLICIES, "health", "330212", "family-planning", "HealthPermitService.GetPermitStatus",
                   "out-of-district", out) == 0
    assert "ALLOWED: field groups identity-masked, permit-status" in out.getvalue()


def test_the_cli(data: DataDir) -> None:
    proc = run_cli("policy", "explain", "--data", str(data.root), "--role", "housing", "--district", "330203",
                   "--purpose", "housing-security", "--method", "PermitService.GetPermitStatus",
                   "--scope", "out-of-district")
    assert "REFUSED: OUT_OF_DISTRICT" in proc.stdout and "policy lines:" in proc.stdout
    bad = run_cli("policy", "explain", "--data", str(data.root), "--role", "housing", "--district", "330203",
                  "--purpose", "housing-security", "--method", "GetPermitStatus", check=False)
    assert bad.returncode == 1
    assert bad.stderr.startswith("permitgw: --method 'GetPermitStatus' is ambiguous") and bad.stdout == ""
