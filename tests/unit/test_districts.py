"""Ningbo district codes: the ten current districts, legacy 江东 330204 → 鄞州 330212, others refused.

Principals, records and statistics all key on these codes (docs/domain.md, Districts).
"""
from __future__ import annotations

import pytest

from gateway.domain.districts import DISTRICTS, LEGACY, District, InvalidDistrict

EXPECTED = {
    "330203": "海曙", "330205": "江北", "330206": "北仑", "330211": "镇海", "330212": "鄞州",
    "330213": "奉化", "330225": "象山", "330226": "宁海", "330281": "余姚", "330282": "慈溪",
}


def test_exactly_the_ten_districts_of_domain_md() -> None:
    assert DISTRICTS == EXPECTED


@pytest.mark.parametrize(("code", "name"), sorted(EXPECTED.items()))
def test_each_district_parses(code: str, name: str) -> None:
    district = District.parse(code)
    assert district.code == code
    assert district.name == name
    assert str(district) == code
    assert District(code) == district


@pytest.mark.parametrize("text", ["330203", " 330203", "330203 ", "\t330203\n"])
def test_whitespace_is_stripped(text: str) -> None:
    assert District.parse(text).code == "330203"


def test_legacy_jiangdong_becomes_yinzhou() -> None:
    assert LEGACY == {"330204": "330212"}
    district = District.parse("330204")
    assert district.code == "330212"
    assert district.name == "鄞州"


def test_constructor_does_not_accept_legacy() -> None:
    with pytest.raises(InvalidDistrict):
        District("330204")


@pytest.mark.parametrize("text", ["", "330200", "330100", "330201", "33020", "3302030", "abcdef", "海曙"])
def test_unknown_codes_are_refused(text: str) -> None:
    with pytest.raises(InvalidDistrict):
        District.parse(text)


def test_invalid_district_is_a_value_error() -> None:
    assert issubclass(InvalidDistrict, ValueError)
