"""Every role × district × purpose × method × field group × scope against a table of outcomes written by hand.

The expected table comes from docs/api.md (roles, purposes, API) and docs/domain.md "Who may see what" (minimum
necessary, PIPL arts. 5–6 and 34), not from policy.csv: a policy line that grants more or less than a bureau needs
fails here.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from gateway.policy.decisions import PolicyTable, build_table

POLICIES = Path(__file__).resolve().parents[2] / "policies"

# docs/domain.md: Ningbo's ten districts, and 330200 for a city-level (municipal) bureau.
DISTRICTS = ("330203", "330205", "330206", "330211", "330212", "330213", "330225", "330226", "330281", "330282",
             "330200")
SCOPES = ("in-district", "out-of-district")
ROLES = ("school", "health", "employment", "housing", "police", "auditor", "statistics")  # docs/api.md
PURPOSES = ("compulsory-education", "employment-service", "public-health", "vocational-exam", "family-planning",
            "housing-security", "permit-administration", "access-audit", "population-statistics")  # docs/api.md

# docs/api.md's services, with each method's field groups (gateway.toml names them; the split is the API's).
ID = ("identity-full", "identity-masked")
METHODS: dict[str, tuple[str, tuple[str, ...]]] = {
    "PermitService.GetPermitStatus": ("permitgw.v1.PermitService/GetPermitStatus", ("permit-status", *ID)),
    "PermitService.GetResidenceRecord": ("permitgw.v1.PermitService/GetResidenceRecord", (
        "residence-history", "residence-address", "permit-history", "permit-number", "name", *ID)),
    "HealthPermitService.GetPermitStatus": ("permitgw.health.v1.HealthPermitService/GetPermitStatus",
                                            ("permit-status", *ID)),
    "EntitlementService.CheckEnrollment": ("permitgw.v1.EntitlementService/CheckEnrollment",
                                           ("enrollment-decision", "points", *ID)),
    "EnrollmentService.CheckEnrollment": ("permitgw.education.v1.EnrollmentService/CheckEnrollment",
                                          ("enrollment-decision", "points", *ID)),
    "EntitlementService.CheckService": ("permitgw.v1.EntitlementService/CheckService",
                                        ("entitlement", "housing-facts", *ID)),
    "EntitlementService.EvaluatePermitEligibility": ("permitgw.v1.EntitlementService/EvaluatePermitEligibility",
                                                     ("eligibility", *ID)),
    "PointsService.GetPoints": ("permitgw.v1.PointsService/GetPoints", ("points", *ID)),
    "PointsService.GetPointsRules": ("permitgw.v1.PointsService/GetPointsRules", ("points-rules",)),
    "StatisticsService.GetDistrictStatistics": ("permitgw.v1.StatisticsService/GetDistrictStatistics",
                                                ("aggregates",)),
    "AuditService.SearchAccessLog": ("permitgw.v1.AuditService/SearchAccessLog", ("access-log",)),
    "AuditService.GetCheckpoint": ("permitgw.v1.AuditService/GetCheckpoint", ("log-proofs",)),
    "AuditService.GetInclusionProof": ("permitgw.v1.AuditService/GetInclusionProof", ("log-proofs", "access-log")),
    "AuditService.GetConsistencyProof": ("permitgw.v1.AuditService/GetConsistencyProof", ("log-proofs",)),
    "AuditService.GetSubjectAccessReport": ("permitgw.v1.AuditService/GetSubjectAccessReport",
                                            ("subject-report", *ID)),
    # the officers' web console (gateway/console): one method per page, each page one whole group
    **{f"Console.{page}": (f"permitgw.console.v1.Console/{page}", ("console-page",))
       for page in ("Overview", "Search", "Export", "Entry", "Alerts", "AcknowledgeAlert", "PersonReport",
                    "OrgReport")},
}

ANYWHERE, OWN_DISTRICT = "anywhere", "own district only"


class Grant(NamedTuple):
    purposes: tuple[str, ...]
    groups: tuple[str, ...]
    scope: str  # ANYWHERE: subjects anywhere in the city; OWN_DISTRICT: only subjects of the caller's district


S1, S2_C5, S3_C6 = ("compulsory-education",), ("employment-service", "vocational-exam"), ("public-health",
                                                                                              "family-planning")
H1, PSB = ("housing-security",), ("permit-administration",)
STATUS = ("permit-status", "identity-masked")
RULES = ("points-rules",)  # the published points table (P-3, docs/domain.md): no personal data

# role -> method -> what it may see, for which purposes, about whom. Anything not here is refused.
EXPECTED: dict[str, dict[str, Grant]] = {
    # S-1: a decision, the reasons, the district, the points where the district admits by points; a guardian's
    # permit may be anywhere in the city. Not the parents' employer, address or insurance history (docs/domain.md).
    "school": {
        "PermitService.GetPermitStatus": Grant(S1, STATUS, ANYWHERE),
        "EntitlementService.CheckEnrollment": Grant(S1, ("enrollment-decision", "points", "identity-masked"), ANYWHERE),
        "EnrollmentService.CheckEnrollment": Grant(S1, ("enrollment-decision", "points", "identity-masked"), ANYWHERE),
        "EntitlementService.CheckService": Grant(S1, ("entitlement", "identity-masked"), ANYWHERE),
        "PointsService.GetPointsRules": Grant(S1, RULES, ANYWHERE),
    },
    # S-3 / C-6: permit status (also in the health dialect) and the entitlement, valid or not and until when.
    "health": {
        "PermitService.GetPermitStatus": Grant(S3_C6, STATUS, ANYWHERE),
        "HealthPermitService.GetPermitStatus": Grant(S3_C6, STATUS, ANYWHERE),
        "EntitlementService.CheckService": Grant(S3_C6, ("entitlement", "identity-masked"), ANYWHERE),
        "PointsService.GetPointsRules": Grant(S3_C6, RULES, ANYWHERE),
    },
    # S-2 / C-5: permit status and the entitlement.
    "employment": {
        "PermitService.GetPermitStatus": Grant(S2_C5, STATUS, ANYWHERE),
        "EntitlementService.CheckService": Grant(S2_C5, ("entitlement", "identity-masked"), ANYWHERE),
        "PointsService.GetPointsRules": Grant(S2_C5, RULES, ANYWHERE),
    },
    # H-1: the facts, own district's residents only; residence history without address, name or permit number.
    "housing": {
        "PermitService.GetPermitStatus": Grant(H1, STATUS, OWN_DISTRICT),
        "PermitService.GetResidenceRecord": Grant(H1, ("residence-history", "permit-history", "identity-masked"),
                                                  OWN_DISTRICT),
        "EntitlementService.CheckService": Grant(H1, ("entitlement", "housing-facts", "identity-masked"), OWN_DISTRICT),
        "PointsService.GetPointsRules": Grant(H1, RULES, ANYWHERE),
    },
    # The PSB owns registration and permits: the whole record, identity numbers whole (never masked); its
    # population statistics as aggregates. Not a school's enrolment question, not the hospitals' dialect.
    "police": {
        "PermitService.GetPermitStatus": Grant(PSB, ("permit-status", "identity-full"), ANYWHERE),
        "PermitService.GetResidenceRecord": Grant(PSB, ("residence-history", "residence-address", "permit-history",
                                                        "permit-number", "name", "identity-full"), ANYWHERE),
        "EntitlementService.CheckService": Grant(PSB, ("entitlement", "housing-facts", "identity-full"), ANYWHERE),
        "EntitlementService.EvaluatePermitEligibility": Grant(PSB, ("eligibility", "identity-full"), ANYWHERE),
        "PointsService.GetPoints": Grant(PSB, ("points", "identity-full"), ANYWHERE),
        "PointsService.GetPointsRules": Grant(PSB, RULES, ANYWHERE),
        "StatisticsService.GetDistrictStatistics": Grant(("population-statistics",), ("aggregates",), ANYWHERE),
        # on the person's behalf: who looked at their data (PIPL art. 45)
        "AuditService.GetSubjectAccessReport": Grant(PSB, ("subject-report", "identity-full"), ANYWHERE),
    },
    # Security officers: the access log and its proofs — never a resident's record; a subject's report with
    # the number masked; the published points table.
    "auditor": {
        "AuditService.SearchAccessLog": Grant(("access-audit",), ("access-log",), ANYWHERE),
        "AuditService.GetCheckpoint": Grant(("access-audit",), ("log-proofs",), ANYWHERE),
        "AuditService.GetInclusionProof": Grant(("access-audit",), ("log-proofs", "access-log"), ANYWHERE),
        "AuditService.GetConsistencyProof": Grant(("access-audit",), ("log-proofs",), ANYWHERE),
        "AuditService.GetSubjectAccessReport": Grant(("access-audit",), ("subject-report", "identity-masked"),
                                                     ANYWHERE),
        "PointsService.GetPointsRules": Grant(("access-audit",), RULES, ANYWHERE),
        # the console: a district's auditor only its own district's callers (the city's sees all, in-district
        # everywhere)
        **{f"Console.{page}": Grant(("access-audit",), ("console-page",), OWN_DISTRICT)
           for page in ("Overview", "Search", "Export", "Entry", "Alerts", "AcknowledgeAlert", "PersonReport",
                        "OrgReport")},
    },
    # Counts, never a single person.
    "statistics": {
        "StatisticsService.GetDistrictStatistics": Grant(("population-statistics",), ("aggregates",), ANYWHERE),
        "PointsService.GetPointsRules": Grant(("population-statistics",), RULES, ANYWHERE),
    },
}

# (role, purpose, method) where policy.csv and the table above disagree, and the table is believed right.
DISPUTED: dict[tuple[str, str, str], str] = {
    # (empty: the one case found — schools granted GetPoints' breakdown — was fixed in policy.csv)
}


def expected_groups(role: str, purpose: str, method: str, scope: str) -> set[str]:
    grant = EXPECTED[role].get(method)
    if grant is None or purpose not in grant.purposes:
        return set()
    if grant.scope == OWN_DISTRICT and scope == "out-of-district":
        return set()
    return set(grant.groups)


def expected_reason(role: str, purpose: str, method: str, scope: str) -> str:
    if expected_groups(role, purpose, method, scope):
        return ""
    if not any(purpose in grant.purposes for grant in EXPECTED[role].values()):
        return "PURPOSE_NOT_ALLOWED"
    if scope == "out-of-district" and expected_groups(role, purpose, method, "in-district"):
        return "OUT_OF_DISTRICT"
    return "POLICY_DENIED"


@pytest.fixture(scope="module")
def table() -> PolicyTable:
    return build_table(POLICIES)


def test_the_policy_speaks_of_what_the_expected_table_covers(table: PolicyTable) -> None:
    cat = table.catalogue
    assert set(cat.roles) == set(ROLES) == set(EXPECTED)
    assert set(cat.purposes) == set(PURPOSES)
    assert set(cat.methods) == {full for full, _ in METHODS.values()}
    for full, groups in METHODS.values():
        assert set(cat.fields[full]) == set(groups), full


def test_the_expected_table_names_only_real_things() -> None:
    for role, methods in EXPECTED.items():
        for short, grant in methods.items():
            assert set(grant.groups) <= set(METHODS[short][1]), (role, short)
            assert set(grant.purposes) <= set(PURPOSES), (role, short)
            assert not {"identity-full", "identity-masked"} <= set(grant.groups), (role, short)


def _case(role: str, purpose: str, method: str) -> object:
    reason = DISPUTED.get((role, purpose, method))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(role, purpose, method, marks=marks, id=f"{role}-{purpose}-{method}")


CASES = [_case(r, p, m) for r in ROLES for p in PURPOSES for m in METHODS]


@pytest.mark.parametrize(("role", "purpose", "method"), CASES)
def test_every_decision(table: PolicyTable, role: str, purpose: str, method: str) -> None:
    full, groups = METHODS[method]
    for district in DISTRICTS:
        for scope in SCOPES:
            decision = table.decide(role, district, purpose, full, scope)
            want = expected_groups(role, purpose, method, scope)
            where = (role, district, purpose, method, scope)
            for group in groups:
                assert (group in decision.groups) == (group in want), (*where, group)
            assert decision.allowed == bool(want), where
            assert decision.reason == expected_reason(role, purpose, method, scope), where
