"""Principal: validation of role, organisation, name and district, and its URI encoding.

The URI in the client certificate is the only source of a caller's identity, so parsing must be strict.
"""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.districts import DISTRICTS
from gateway.identity.principal import (
    MUNICIPAL,
    ROLES,
    URI_PREFIX,
    InvalidPrincipal,
    Principal,
    principal_from_uri,
    principal_to_uri,
)

SCHOOL = Principal(role="school", org="3302030001", name="海曙区实验小学", district="330203")


def test_roles_are_the_seven_of_design_md() -> None:
    assert ROLES == ("school", "health", "employment", "housing", "police", "auditor", "statistics")


def test_fields_and_id() -> None:
    assert SCHOOL.serial == ""
    assert SCHOOL.id == "school/330203/3302030001"
    assert SCHOOL.district_name == "海曙"
    assert not SCHOOL.is_municipal


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SCHOOL.role = "police"  # type: ignore[misc]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("district", [*DISTRICTS, MUNICIPAL])
def test_every_role_and_district_accepted(role: str, district: str) -> None:
    p = Principal(role=role, org="ORG-1", name="某单位", district=district)
    assert p.district == district


def test_municipal_bureau() -> None:
    p = Principal("statistics", "11330200MB0000000X", "宁波市统计局", MUNICIPAL)
    assert p.is_municipal
    assert p.district_name == "宁波市"
    assert p.id == "statistics/330200/11330200MB0000000X"


def test_legacy_district_is_normalised() -> None:
    p = Principal("health", "H1", "江东医院", "330204")
    assert p.district == "330212"
    assert p.id == "health/330212/H1"


@pytest.mark.parametrize("role", ["", "School", "teacher", "admin", " school", "school\n"])
def test_unknown_role_refused(role: str) -> None:
    with pytest.raises(InvalidPrincipal, match="role"):
        Principal(role, "ORG", "name", "330203")


@pytest.mark.parametrize("district", ["", "330100", "330201", "330204x", "3302", "海曙", "330000"])
def test_unknown_district_refused(district: str) -> None:
    with pytest.raises(InvalidPrincipal, match="district"):
        Principal("school", "ORG", "name", district)


@pytest.mark.parametrize("org", ["", "-ORG", "ORG 1", "ORG/1", "ORG&1", "组织", "A" * 65, "ORG\n"])
def test_bad_org_refused(org: str) -> None:
    with pytest.raises(InvalidPrincipal, match="organisation"):
        Principal("school", org, "name", "330203")


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "tab\there", "x" * 65, "nul\x00"])
def test_bad_name_refused(name: str) -> None:
    with pytest.raises(InvalidPrincipal, match="name"):
        Principal("school", "ORG", name, "330203")


@pytest.mark.parametrize("serial", ["0A", "00ab", "0xab", "xyz", "a" * 41, " ab"])
def test_bad_serial_refused(serial: str) -> None:
    with pytest.raises(InvalidPrincipal, match="serial"):
        Principal("school", "ORG", "name", "330203", serial)


def test_non_text_refused() -> None:
    with pytest.raises(InvalidPrincipal):
        Principal("school", "ORG", "name", 330203)  # type: ignore[arg-type]


def test_invalid_principal_is_a_value_error() -> None:
    assert issubclass(InvalidPrincipal, ValueError)


def test_uri_shape() -> None:
    uri = principal_to_uri(SCHOOL)
    assert uri.startswith("urn:permitgw:principal:v1?role=school&org=3302030001&district=330203&name=")
    assert uri.isascii()
    assert principal_from_uri(uri) == SCHOOL
    assert principal_from_uri(uri, serial="1f").serial == "1f"


names = st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs")),
                min_size=1, max_size=64)


@given(st.sampled_from(ROLES), st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,20}", fullmatch=True), names,
       st.sampled_from([*DISTRICTS, MUNICIPAL]))
def test_uri_round_trip(role: str, org: str, name: str, district: str) -> None:
    p = Principal(role, org, name, district)
    uri = principal_to_uri(p)
    assert uri.isascii() and " " not in uri
    assert principal_from_uri(uri) == p


def test_name_with_uri_metacharacters_round_trips() -> None:
    p = Principal("police", "PSB-1", "a&role=auditor%20?#=+ 公安", "330203")
    back = principal_from_uri(principal_to_uri(p))
    assert back == p
    assert back.role == "police"


@pytest.mark.parametrize("uri", [
    "",
    "urn:permitgw:principal:v2?role=school&org=O&district=330203&name=n",
    "URN:PERMITGW:PRINCIPAL:V1?role=school&org=O&district=330203&name=n",
    URI_PREFIX + "role=school&org=O&district=330203",
    URI_PREFIX + "role=school&org=O&district=330203&name=n&admin=1",
    URI_PREFIX + "role=school&role=police&org=O&district=330203&name=n",
    URI_PREFIX + "role=school&org=O&district=330203&name",
    URI_PREFIX + "role=root&org=O&district=330203&name=n",
    URI_PREFIX + "role=school&org=O&district=110105&name=n",
    URI_PREFIX + "role=school&org=O&district=330203&name=%FF",
    URI_PREFIX + "role=school&org=O&district=330203&name=",
])
def test_malformed_uris_refused(uri: str) -> None:
    with pytest.raises(InvalidPrincipal):
        principal_from_uri(uri)
