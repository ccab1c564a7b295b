"""Identity numbers (GB 11643-1999): round trips, single-character errors, 15→18 conversion, masking.

I-3 (docs/domain.md) requires every identity number correct and unique; IdNumber is the gate, so it is tested hard.
"""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.idnumber import IdNumber, InvalidIdNumber, check_char, fold_width

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "idnumbers.csv"
ID_CHARS = "0123456789X"

regions = st.text("0123456789", min_size=6, max_size=6)
sequences = st.text("0123456789", min_size=3, max_size=3)
births = st.dates(dt.date(1900, 1, 1), dt.date(2025, 12, 31))
legacy_births = st.dates(dt.date(1900, 1, 1), dt.date(1999, 12, 31))


def build(region: str, birth: dt.date, seq: str) -> str:
    first17 = f"{region}{birth.year:04d}{birth.month:02d}{birth.day:02d}{seq}"
    return first17 + check_char(first17)


valid_numbers = st.builds(build, regions, births, sequences)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


def load_vectors() -> list[tuple[str, str, str]]:
    with VECTORS.open(encoding="utf-8", newline="") as fh:
        return [(r["input"], r["expected"], r["note"]) for r in csv.DictReader(fh)]


@pytest.mark.parametrize(("text", "expected", "note"), load_vectors(), ids=lambda v: str(v)[:24])
def test_vectors(text: str, expected: str, note: str) -> None:
    if expected:
        assert IdNumber.parse(text).value == expected, note
    else:
        with pytest.raises(InvalidIdNumber) as info:
            IdNumber.parse(text)
        if text.strip():
            assert text.strip() not in str(info.value), "error messages must not repeat the number"


def test_vectors_file_has_both_kinds() -> None:
    rows = load_vectors()
    assert sum(1 for _, e, _ in rows if e) >= 5
    assert sum(1 for _, e, _ in rows if not e) >= 8


@given(valid_numbers)
def test_valid_numbers_round_trip(value: str) -> None:
    assert IdNumber.parse(value).value == value
    assert IdNumber(value).value == value


@given(valid_numbers, st.sampled_from(["", " ", "  ", "\t", "\u3000", " \n"]),
       st.sampled_from(["", " ", "\t\t", "\u3000", "\r\n"]))
def test_surrounding_whitespace_is_ignored(value: str, before: str, after: str) -> None:
    assert IdNumber.parse(before + value + after).value == value


@given(valid_numbers)
def test_full_width_and_lower_case_fold(value: str) -> None:
    assert IdNumber.parse(full_width(value)).value == value
    assert IdNumber.parse(value.lower()).value == value
    assert IdNumber.parse(full_width(value.lower())).value == value


@given(valid_numbers)
def test_every_single_character_change_is_caught(value: str) -> None:
    for position in range(18):
        for char in ID_CHARS:
            if char == value[position]:
                continue
            changed = value[:position] + char + value[position + 1:]
            try:
                parsed = IdNumber.parse(changed)
            except InvalidIdNumber:
                continue
            assert parsed.value != value
            assert parsed.value == changed


@given(regions, legacy_births, sequences)
def test_legacy_15_converts_to_18(region: str, birth: dt.date, seq: str) -> None:
    legacy = f"{region}{birth:%y%m%d}{seq}"
    expected = build(region, birth, seq)
    assert IdNumber.parse(legacy).value == expected
    assert IdNumber.from_legacy15(legacy).value == expected
    assert IdNumber.parse(full_width(legacy)).birth_date == birth


@given(regions, births, sequences)
def test_birth_date_and_sex(region: str, birth: dt.date, seq: str) -> None:
    number = IdNumber.parse(build(region, birth, seq))
    assert number.birth_date == birth
    assert number.region == region
    assert number.sex == ("1" if int(seq[-1]) % 2 else "2")


def test_sex_fixed_vectors() -> None:
    assert IdNumber.parse("11010519491231002X").sex == "2"  # sequence 002: even
    assert IdNumber.parse("130503196704010016").sex == "1"  # sequence 001: odd


@given(valid_numbers)
def test_masked_keeps_region_and_last_four(value: str) -> None:
    number = IdNumber.parse(value)
    masked = number.masked()
    assert masked == value[:6] + "********" + value[14:]
    assert len(masked) == 18


@given(valid_numbers)
def test_str_and_repr_never_show_the_number(value: str) -> None:
    number = IdNumber.parse(value)
    for shown in (str(number), repr(number), f"{number}", f"{number!r}", str([number])):
        assert value not in shown
        assert value[6:14] not in shown  # the birth date is what the mask hides


@pytest.mark.parametrize("bad", [None, 330203199003071232, b"330203199003071232"])
def test_non_text_is_refused(bad: object) -> None:
    with pytest.raises(InvalidIdNumber):
        IdNumber.parse(bad)  # type: ignore[arg-type]


def test_constructor_requires_canonical_form() -> None:
    with pytest.raises(InvalidIdNumber):
        IdNumber("11010519491231002x")
    with pytest.raises(InvalidIdNumber):
        IdNumber(" 11010519491231002X")


STANDARD_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]  # GB 11643: W_i = 2^(i-1) mod 11, from the right


@given(st.text("0123456789", min_size=17, max_size=17))
def test_check_char_is_the_standards_weighted_sum(first17: str) -> None:
    total = sum(int(d) * w for d, w in zip(first17, STANDARD_WEIGHTS, strict=True))
    assert check_char(first17) == "10X98765432"[total % 11]


@pytest.mark.parametrize("bad", ["", "1" * 16, "1" * 18, "1234567890123456A", "1234567890123456 ", "１" * 17,
                                 "²" * 17, "١" * 17])
def test_check_char_refuses_anything_but_17_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        check_char(bad)


_FOLDED = {chr(cp): chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)} | {"\u3000": " "}


@given(st.text(max_size=40))
def test_fold_width_folds_exactly_the_full_width_forms(text: str) -> None:
    """ASCII text comes back unchanged without a table lookup; any other text is folded character by character."""
    assert fold_width(text) == "".join(_FOLDED.get(ch, ch) for ch in text)


def test_fold_width_of_ascii_is_the_text_itself() -> None:
    text = "110101199003071234"
    assert fold_width(text) is text
    assert fold_width("\uff11\uff10\u3000x") == "10 x" and fold_width("") == ""
