"""Whose accesses an officer sees in the console: policies/organisations.toml (the bureaus, validated at load), the
EntryScope computed for the city's, a district's and a bureau's auditor, and the scope applied by the store's fake.

Written from the acceptance point: a district's or bureau's auditor sees only accesses made by its own district or
organisations; the city's auditor sees all.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from gateway.audit.entry import AccessEntry, Decision
from gateway.audit.oversight_rows import CallCount
from gateway.audit.port import EVERYWHERE, MAX_SCOPE_ORGS, AccessQuery, EntryScope, ScopeError
from gateway.console.scoping import entry_scope
from gateway.identity.principal import Principal
from gateway.policy.catalogue import PolicyError
from gateway.policy.decisions import PolicyTable
from gateway.settings.organisations import ORGANISATIONS_FILE, Bureau, Organisations, load_organisations
from tests.fakes import FakeStore

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies"
SEARCH = "permitgw.console.v1.Console/Search"
GOOD = '[bureaus.EDU]\nname = "宁波市教育局"\nmembers = ["ORG-school", "SCH-*"]\n'
BUREAUS = Organisations({"EDU": Bureau("EDU", "宁波市教育局", ("ORG-school", "SCH-*"))})


def load(tmp_path: Path, text: str) -> Organisations:
    (tmp_path / ORGANISATIONS_FILE).write_text(text, encoding="utf-8")
    return load_organisations(tmp_path)


# --- policies/organisations.toml --------------------------------------------------------------------------------

def test_the_shipped_file_loads_and_names_the_example_bureau() -> None:
    orgs = load_organisations(REPO_POLICIES)
    assert orgs.scope_of("ORG-education") == ("ORG-education", "ORG-school", "SCH-*")
    assert orgs.name_of("ORG-education") and orgs.scope_of("ORG-school") is None


def test_a_data_directory_without_the_file_has_no_bureaus(tmp_path: Path) -> None:
    orgs = load_organisations(tmp_path)
    assert orgs.bureaus == {} and orgs.scope_of("ORG-education") is None and orgs.name_of("x") == ""


def test_a_file_loads_with_exact_codes_and_prefixes(tmp_path: Path) -> None:
    orgs = load(tmp_path, GOOD + '[bureaus."HEALTH-1"]\nname = " 卫健委 "\nmembers = ["H-*"]\n')
    assert orgs == Organisations({"EDU": Bureau("EDU", "宁波市教育局", ("ORG-school", "SCH-*")),
                                  "HEALTH-1": Bureau("HEALTH-1", "卫健委", ("H-*",))})
    assert load(tmp_path, "").bureaus == {}  # an empty file: no bureaus


@pytest.mark.parametrize(("text", "says"), [
    ("bureaus = 1\n", "must be tables"),
    ("[other]\n", "unknown keys ['other']"),
    ("[bureaus.EDU]\nmembers = ['A']\n", "missing keys ['name']"),
    ("[bureaus.EDU]\nname = 'x'\n", "missing keys ['members']"),
    ("[bureaus.EDU]\nname = 'x'\nmembers = ['A']\nextra = 1\n", "unknown keys ['extra']"),
    ("[bureaus.EDU]\nname = ''\nmembers = ['A']\n", "name must be"),
    ("[bureaus.EDU]\nname = 3\nmembers = ['A']\n", "name must be"),
    ("[bureaus.EDU]\nname = 'x'\nmembers = []\n", "members must be a list of 1 to"),
    ("[bureaus.EDU]\nname = 'x'\nmembers = 'A'\n", "members must be a list"),
    ("[bureaus.EDU]\nname = 'x'\nmembers = [" + ", ".join(f"'A{i}'" for i in range(MAX_SCOPE_ORGS)) + "]\n",
     "members must be a list of 1 to"),
    ("[bureaus.EDU]\nname = 'x'\nmembers = ['*']\n", "member '*'"),
    ("[bureaus.EDU]\nname = 'x'\nmembers = ['SCH-**']\n", "member 'SCH-**'"),
    ("[bureaus.EDU]\nname = 'x'\nmembers = ['S*H']\n", "member 'S*H'"),
    ("[bureaus.EDU]\nname = 'x'\nmembers = ['has space']\n", "member 'has space'"),
    ("[bureaus.EDU]\nname = 'x'\nmembers = [7]\n", "member 7"),
    ("[bureaus.EDU]\nname = 'x'\nmembers = ['A', 'B', 'A']\n", "members listed twice: ['A']"),
    ("[bureaus.'E*']\nname = 'x'\nmembers = ['A']\n", "the bureau's key must be its organisation code"),
    ("[bureaus.'E D']\nname = 'x'\nmembers = ['A']\n", "the bureau's key must be its organisation code"),
    ("[bureaus]\nEDU = 1\n", "must be a table with name and members"),
    ("[bureaus.EDU\n", "TOMLDecodeError"),
])
def test_a_bad_file_is_refused_with_a_clear_error(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(PolicyError) as refused:
        load(tmp_path, text)
    assert says in str(refused.value) and ORGANISATIONS_FILE in str(refused.value)


# --- EntryScope ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("orgs", [(), ("",), ("*",), ("A**",), ("A*B",), tuple(f"A{i}" for i in range(257))])
def test_a_malformed_scope_is_refused(orgs: tuple[str, ...]) -> None:
    with pytest.raises(ScopeError):
        EntryScope(None, orgs)


def test_a_scope_admits_by_district_and_organisation_together() -> None:
    bureau = EntryScope(None, ("EDU", "ORG-school", "SCH-*"))
    assert bureau.admits("330203", "ORG-school") and bureau.admits("330212", "SCH-1") and bureau.admits("1", "EDU")
    assert not bureau.admits("330203", "ORG-health") and not bureau.admits("330203", "ORG-school-2")
    assert not bureau.admits("330203", "sch-1")  # case counts
    both = EntryScope("330203", ("SCH-*",))
    assert both.admits("330203", "SCH-1") and not both.admits("330212", "SCH-1") and not both.admits("330203", "X")
    assert EVERYWHERE.admits("330212", "anything") and EntryScope("330203").admits("330203", "anything")


# --- the scope of an officer ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def table(shipped_table: PolicyTable) -> PolicyTable:
    return shipped_table


def auditor(org: str, district: str) -> Principal:
    return Principal(role="auditor", org=org, name="审计", district=district)


def test_the_city_auditor_sees_everything(table: PolicyTable) -> None:
    assert entry_scope(auditor("ORG-city", "330200"), table, "access-audit", SEARCH, BUREAUS) == EVERYWHERE


def test_a_district_auditor_sees_its_district(table: PolicyTable) -> None:
    assert entry_scope(auditor("ORG-haishu", "330203"), table, "access-audit", SEARCH, BUREAUS) == EntryScope(
        "330203")


def test_a_city_bureaus_auditor_sees_its_organisations_in_every_district(table: PolicyTable) -> None:
    assert entry_scope(auditor("EDU", "330200"), table, "access-audit", SEARCH, BUREAUS) == EntryScope(
        None, ("EDU", "ORG-school", "SCH-*"))


def test_a_district_bureaus_auditor_has_both_limits(table: PolicyTable) -> None:
    assert entry_scope(auditor("EDU", "330203"), table, "access-audit", SEARCH, BUREAUS) == EntryScope(
        "330203", ("EDU", "ORG-school", "SCH-*"))


def test_without_the_file_a_bureaus_auditor_is_an_ordinary_one(table: PolicyTable) -> None:
    assert entry_scope(auditor("EDU", "330200"), table, "access-audit", SEARCH, Organisations()) == EVERYWHERE


# --- the store's fake applies the scope as the SQL does (tests/integration/test_oversight_store.py) -------------

def call(i: int, org: str, district: str, decision: str = Decision.ALLOW) -> AccessEntry:
    return AccessEntry(f"2026-06-15T03:{i:02d}:00.000000Z", f"school/{district}/{org}", "ab", "school", org,
                       district, "/permitgw.v1.Residence/GetStatus", "enrolment", "case", "op", "", decision,
                       "OK" if decision == Decision.ALLOW else "BULK_LOOKUP", "v1")


def test_the_fake_store_filters_by_scope() -> None:
    store = FakeStore()
    store.append_accesses([call(0, "ORG-school", "330203"), call(1, "SCH-7", "330212"), call(2, "ORG-health", "330203"),
                           call(3, "SCH-7", "330212", Decision.ALERT), call(4, "ORG-health", "330212", Decision.ALERT)])
    bureau = EntryScope(None, ("EDU", "ORG-school", "SCH-*"))
    assert [e.seq for e in store.access_entries(AccessQuery(scope=bureau))] == [1, 2, 4]
    assert [e.seq for e in store.access_entries(AccessQuery(scope=EntryScope("330212", ("SCH-*",))))] == [2, 4]
    assert store.calls_by_hour("2026-06-15T03", "2026-06-15T04", bureau) == [
        CallCount("2026-06-15T03", "school", "allow", 2)]
    assert store.org_calls_by_day("ORG-health", "2026-06-15", "2026-06-16", bureau) == []
    assert (store.alert_count(bureau, False), store.alert_count(EVERYWHERE, False)) == (1, 2)
    assert [e.seq for e, _ in store.alerts(bureau, False, 0, 10)] == [4]
