"""docs/policy.md is generated from policies/: this keeps the page in step with the files it describes.

A policy change without regenerating the page fails here, with the command that fixes it.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from gateway.policy.decisions import PolicyTable, build_table
from gateway.policy.document import REGENERATE, render, render_table, role_rows, short_name

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
PAGE = ROOT / "docs" / "policy.md"


@pytest.fixture(scope="module")
def table() -> PolicyTable:
    return build_table(POLICIES)


def test_docs_policy_md_is_current() -> None:
    expected = render(POLICIES)
    actual = PAGE.read_text("utf-8") if PAGE.is_file() else ""
    assert actual == expected, ("docs/policy.md is stale or missing: regenerate it from the repository root with\n"
                                f"    {REGENERATE}")


def test_the_page_shows_the_outcome_after_deny_lines(table: PolicyTable) -> None:
    rows = role_rows(table, "police")
    status = [r for r in rows if r[1] == "PermitService.GetPermitStatus"]
    assert status == [("permit-administration", "PermitService.GetPermitStatus", "`identity-full`, `permit-status`",
                       "anywhere")]  # the line grants `*`; the deny line takes identity-masked away


def test_in_district_grants_read_own_district_only(table: PolicyTable) -> None:
    scopes = {method: scope for _, method, _, scope in role_rows(table, "housing")}
    assert scopes["PermitService.GetResidenceRecord"] == "own district only"
    assert scopes["PointsService.GetPointsRules"] == "anywhere"


def test_short_names_stay_unambiguous(table: PolicyTable) -> None:
    methods = table.catalogue.methods
    shorts = [short_name(m, methods) for m in methods]
    assert len(set(shorts)) == len(methods)
    assert "HealthPermitService.GetPermitStatus" in shorts and "PermitService.GetPermitStatus" in shorts


def test_every_role_and_the_version_appear(table: PolicyTable) -> None:
    page = render_table(table)
    assert f"Policy version: `{table.version}`" in page and REGENERATE in page
    for role in table.catalogue.roles:
        assert f"### `{role}`" in page
