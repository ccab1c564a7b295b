"""The market-regulation adapter on real `yyzz_*` files on disk, and the GB 32100 credit-code check it relies on.

R-EMP-2 counts a business licence only if it is real: the file's mess must normalise, its errors must not leak.
"""
from __future__ import annotations

import csv
import datetime as _dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters import market
from adapters.market import CREDIT_CHARSET, CREDIT_WEIGHTS, InvalidCreditCode, credit_check_char, parse_credit_code
from adapters.normalising import RowError
from adapters.reading import Parsed, Reject, UnreadableFile
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import BusinessLicence, LicenceKind
from tests.helpers import (
    FULLWIDTH,
    break_check,
    csv_line,
    make_id,
    make_id_with_check,
    make_legacy15,
    upgrade15,
    write_csv,
    write_jsonl,
    write_lines,
)

HEADER = ["TYSHXYDM", "FDDBRZJH", "DJRQ", "ZXRQ", "LX"]
VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "credit_codes.csv"
D19 = _dt.date(2019, 3, 5)
D23 = _dt.date(2023, 6, 30)
ID_A = make_id("330203", _dt.date(1980, 2, 2), 11)
ID_B = make_id("330226", _dt.date(1975, 12, 31), 24)
ID_X = make_id_with_check("X", "420106", _dt.date(1988, 8, 8))
ID_X2 = make_id_with_check("X", "420107", _dt.date(1979, 4, 9))
LEGACY = make_legacy15("330203", _dt.date(1965, 7, 1), 45)


def credit(n: int, kind: str = "91", region: str = "330203") -> str:
    """A valid credit code: registration authority and kind, region, a 9-character body, check character."""
    first17 = f"{kind}{region}MA2{n:06d}"
    return first17 + credit_check_char(first17)


def wide(value: str) -> str:
    """Every printable ASCII character as its full-width form (０-９, Ａ-Ｚ, Ｘ)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value)


def row(credit_code: str, representative: str, **over: str) -> dict[str, str]:
    base = {"TYSHXYDM": credit_code, "FDDBRZJH": representative, "DJRQ": "20190305", "ZXRQ": "", "LX": "GTGSH"}
    return base | over


def values(r: dict[str, str], header: list[str] = HEADER) -> list[str]:
    return [r[k] for k in header]


def split(items: list[Parsed | Reject]) -> tuple[list[Parsed], list[Reject]]:
    return [i for i in items if isinstance(i, Parsed)], [i for i in items if isinstance(i, Reject)]


def licence(parsed: Parsed) -> BusinessLicence:
    (record,) = parsed.records
    assert isinstance(record, BusinessLicence)
    return record


# ------------------------------------------------------------------------------------------ the credit code


def load_vectors() -> list[tuple[str, str, str]]:
    with VECTORS.open(encoding="utf-8", newline="") as fh:
        return [(r["input"], r["expected"], r["note"]) for r in csv.DictReader(fh)]


@pytest.mark.parametrize(("text", "expected", "note"), load_vectors(), ids=lambda v: str(v)[:24])
def test_credit_code_vectors(text: str, expected: str, note: str) -> None:
    if expected:
        assert parse_credit_code(text) == expected, note
    else:
        with pytest.raises(InvalidCreditCode) as err:
            parse_credit_code(text)
        assert not text.strip() or text.strip() not in str(err.value), "the message must not repeat the code"


def test_vectors_file_has_both_kinds() -> None:
    rows = load_vectors()
    assert sum(1 for _, e, _ in rows if e) >= 8 and sum(1 for _, e, _ in rows if not e) >= 10


def test_weights_are_gb32100s() -> None:
    """GB 32100-2015 weights are 3**i mod 31; the standard's own example and published codes check out."""
    assert CREDIT_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    assert credit_check_char("91350100M000100Y4") == "3"
    assert len(CREDIT_CHARSET) == 31 and not set("IOZSV") & set(CREDIT_CHARSET)


bodies = st.text(CREDIT_CHARSET, min_size=17, max_size=17)


@given(bodies)
def test_check_character_closes_the_weighted_sum(body: str) -> None:
    code = body + credit_check_char(body)
    total = sum(CREDIT_CHARSET.index(c) * w for c, w in zip(body, CREDIT_WEIGHTS, strict=True))
    assert (total + CREDIT_CHARSET.index(code[17])) % 31 == 0
    assert parse_credit_code(code) == code
    assert parse_credit_code(f" {wide(code).lower()}\u3000") == code


@given(bodies, st.integers(0, 17), st.sampled_from(CREDIT_CHARSET))
def test_every_single_character_change_is_caught(body: str, position: int, char: str) -> None:
    code = body + credit_check_char(body)
    changed = code[:position] + char + code[position + 1 :]
    if changed != code:
        with pytest.raises(InvalidCreditCode):
            parse_credit_code(changed)


@given(bodies, st.integers(0, 16))
def test_every_adjacent_transposition_is_caught(body: str, position: int) -> None:
    code = body + credit_check_char(body)
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
    if swapped != code:
        with pytest.raises(InvalidCreditCode):
            parse_credit_code(swapped)


@given(bodies, st.integers(0, 17), st.sampled_from("IOZSV"))
def test_letters_outside_the_charset_are_refused(body: str, position: int, letter: str) -> None:
    code = body + credit_check_char(body)
    with pytest.raises(InvalidCreditCode, match="other than I, O, Z, S, V"):
        parse_credit_code(code[:position] + letter + code[position + 1 :])


# ------------------------------------------------------------------------------------------ clean files


def test_clean_utf8_file(tmp_path: Path) -> None:
    rows = [row(credit(1), ID_A), row(credit(2, "52"), ID_B, LX="MFQY", ZXRQ="20230630")]
    path = write_csv(tmp_path / "yyzz_20240101.csv", HEADER, [values(r) for r in rows])
    out = list(market.BUREAU.parse(path))
    assert [(type(p), p.file, p.line) for p in out] == [(Parsed, path.name, 2), (Parsed, path.name, 3)]
    assert [p.records for p in out] == [  # type: ignore[union-attr]
        (BusinessLicence(credit(1), IdNumber(ID_A), LicenceKind.INDIVIDUAL_BUSINESS, D19, None),),
        (BusinessLicence(credit(2, "52"), IdNumber(ID_B), LicenceKind.PRIVATE_NON_ENTERPRISE, D19, D23),),
    ]


def test_jsonl_file(tmp_path: Path) -> None:
    objects = [
        {k.lower(): v for k, v in row(credit(3), ID_A, LX="SWS").items()},
        {"TYSHXYDM": credit(4), "FDDBRZJH": ID_B, "DJRQ": 20190305, "ZXRQ": None, "LX": "QY"},
        {"TYSHXYDM": credit(5), "FDDBRZJH": ID_B, "LX": "QY"},
    ]
    path = write_jsonl(tmp_path / "yyzz_1.jsonl", objects)
    parsed, rejects = split(list(market.BUREAU.parse(path)))
    assert [licence(p) for p in parsed] == [
        BusinessLicence(credit(3), IdNumber(ID_A), LicenceKind.PROFESSIONAL_FIRM, D19, None),
        BusinessLicence(credit(4), IdNumber(ID_B), LicenceKind.ENTERPRISE, D19, None),
    ]
    assert rejects == [Reject("yyzz_1.jsonl", 3, "DJRQ: missing")]


def test_lowercase_header_names_are_accepted(tmp_path: Path) -> None:
    header = [h.lower() if i % 2 else f" {h.title()} " for i, h in enumerate(HEADER)]
    path = write_csv(tmp_path / "yyzz_lc.csv", header, [values(row(credit(1), ID_A))])
    (p,) = market.BUREAU.parse(path)
    assert isinstance(p, Parsed) and licence(p).credit_code == credit(1)


@pytest.mark.parametrize("column", market.REQUIRED_COLUMNS)
def test_missing_required_column_is_unreadable(tmp_path: Path, column: str) -> None:
    header = [h for h in HEADER if h != column]
    path = write_csv(tmp_path / "yyzz_cols.csv", header, [values(row(credit(1), ID_A), header)])
    with pytest.raises(UnreadableFile, match=f"missing required column\\(s\\) {column}$"):
        market.BUREAU.parse(path)


def test_deregistration_column_may_be_absent(tmp_path: Path) -> None:
    header = list(market.REQUIRED_COLUMNS)
    path = write_csv(tmp_path / "yyzz_min.csv", header, [values(row(credit(1), ID_A), header)])
    (p,) = market.BUREAU.parse(path)
    assert isinstance(p, Parsed) and licence(p).deregistered_on is None


# ------------------------------------------------------------------------------------------ the messy file


def undecodable(line: str, encoding: str) -> bytes:
    """A line the file's own codec cannot read: GBK bytes in a UTF-8 file, a stray 0xFF in a GB18030 one."""
    return line.encode("gbk") if encoding == "utf-8" else line.encode("gb18030") + b"\xff"


def messy_lines(encoding: str) -> tuple[list[str | bytes], dict[int, str], list[str]]:
    """(lines of the file, the expected reject reason per line, every identity number and credit code in it)."""
    wide_x = ID_X.translate(FULLWIDTH)
    assert "Ｘ" in wide_x
    rows: list[tuple[dict[str, str] | bytes | str, str | None]] = [
        (row(credit(1), ID_A), None),  # 2 baseline, active (ZXRQ empty)
        (row(credit(1), ID_A), None),  # 3 the same row twice
        ({k: f" \u3000{v}  " for k, v in row(credit(2), ID_B, ZXRQ="20230630").items()}, None),  # 4 spaces
        (row(wide(credit(3)), wide_x, DJRQ="２０１９０３０５", LX="ＱＹ"), None),  # 5 full-width, Ｘ
        (row(credit(4).lower(), ID_X2.lower(), LX="mfqy"), None),  # 6 lower-case x, code and kind
        (row(credit(5), ID_A, DJRQ="2019-03-05", ZXRQ="2023-06-30"), None),
        (row(credit(6), ID_A, DJRQ="2019/3/5", ZXRQ="2023/6/30"), None),
        (row(credit(7), ID_A, DJRQ="2019年3月5日", ZXRQ="2023年6月30日", LX="SWS"), None),
        (row(credit(8), ID_A, DJRQ=""), "DJRQ: missing"),  # 10 empty string for a required value
        ("", None),  # 11 blank: skipped, not a row
        (row(credit(9), break_check(ID_B)), "FDDBRZJH: invalid identity number"),
        (row(credit(10), LEGACY), None),  # 13 legacy 15 digits
        (row(credit(11), ID_A, LX="GS"), "LX: unknown code 'GS'"),
        (undecodable(csv_line(values(row(credit(12), ID_B, DJRQ="2019年3月5日"))), encoding),
         f"line is not valid {'UTF-8' if encoding == 'utf-8' else 'GB18030'}"),
        (row(credit(13)[:17] + ("0" if credit(13)[17] != "0" else "1"), ID_A),
         "TYSHXYDM: invalid unified social credit code (check character does not match)"),
        (row("91330203MO2000014E", ID_A),
         "TYSHXYDM: invalid unified social credit code "
         "(must be digits and upper-case letters other than I, O, Z, S, V)"),
        (row(credit(15), ID_A, ZXRQ="20190304"), "ZXRQ: before DJRQ"),
        (row(credit(16), ID_B, ZXRQ="2019-03-05"), None),  # 19 deregistered the day it was registered
        (row("", ID_A), "TYSHXYDM: missing"),
        (f"{credit(17)},{ID_A},20190305", "line has 3 fields, the header has 5"),
        (row(credit(18), ID_A, LX=ID_B), "LX: unknown code (value withheld)"),
        (row(credit(19), ID_A, DJRQ="2019-02-30"), "DJRQ: invalid date"),
    ]  # fmt: skip
    lines: list[str | bytes] = [csv_line([h.lower() for h in HEADER])]
    expected: dict[int, str] = {}
    for lineno, (r, reason) in enumerate(rows, start=2):
        lines.append(csv_line(values(r)) if isinstance(r, dict) else r)
        if reason:
            expected[lineno] = reason
    secrets = [ID_A, ID_B, ID_X, ID_X2, wide_x, break_check(ID_B), LEGACY, upgrade15(LEGACY)]
    secrets += [credit(i) for i in range(1, 20)] + ["91330203MO2000014E"]
    return lines, expected, secrets


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_messy_file(tmp_path: Path, encoding: str) -> None:
    lines, expected, secrets = messy_lines(encoding)
    path = write_lines(tmp_path / "yyzz_messy.csv", lines, encoding=encoding)
    out = list(market.BUREAU.parse(path))
    parsed, rejects = split(out)

    assert len(out) == 21  # 22 lines after the header, one of them blank
    assert len(parsed) == 10
    assert len(rejects) == 11
    assert {r.line: r.reason for r in rejects} == expected
    assert all(r.file == "yyzz_messy.csv" for r in out)
    assert [p.line for p in parsed] == [2, 3, 4, 5, 6, 7, 8, 9, 13, 19]
    for reject in rejects:
        assert reject.reason.split(":")[0] in HEADER or reject.reason.startswith("line ")
        for secret in secrets:
            assert secret.upper() not in reject.reason.upper()

    by_line = {p.line: licence(p) for p in parsed}
    assert by_line[2] == by_line[3] == BusinessLicence(
        credit(1), IdNumber(ID_A), LicenceKind.INDIVIDUAL_BUSINESS, D19, None
    )
    assert by_line[4] == BusinessLicence(credit(2), IdNumber(ID_B), LicenceKind.INDIVIDUAL_BUSINESS, D19, D23)
    assert by_line[5] == BusinessLicence(credit(3), IdNumber(ID_X), LicenceKind.ENTERPRISE, D19, None)
    assert by_line[6] == BusinessLicence(credit(4), IdNumber(ID_X2), LicenceKind.PRIVATE_NON_ENTERPRISE, D19, None)
    for line in (7, 8, 9):  # every date format gives the same dates
        assert (by_line[line].registered_on, by_line[line].deregistered_on) == (D19, D23)
    assert by_line[9].kind is LicenceKind.PROFESSIONAL_FIRM
    assert by_line[13].representative == IdNumber(upgrade15(LEGACY))
    assert by_line[19].deregistered_on == D19


def test_reimporting_gives_the_same_result(tmp_path: Path) -> None:
    lines, _, _ = messy_lines("gb18030")
    path = write_lines(tmp_path / "yyzz_messy.csv", lines, encoding="gb18030")
    assert list(market.BUREAU.parse(path)) == list(market.BUREAU.parse(path))


def test_file_globs() -> None:
    assert market.BUREAU.file_globs == ("yyzz_*",)
    assert Path("yyzz_20240101.csv").match(market.BUREAU.file_globs[0])


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"TYSHXYDM": "91330203MA2000001"}, "TYSHXYDM: invalid unified social credit code (must be 18 characters)"),
        ({"FDDBRZJH": ""}, "FDDBRZJH: missing"),
        ({"FDDBRZJH": credit(1)}, "FDDBRZJH: invalid identity number"),
        ({"LX": ""}, "LX: missing"),
        ({"LX": "个体"}, "LX: unknown code (value withheld)"),
        ({"ZXRQ": "soon"}, "ZXRQ: invalid date"),
        ({"DJRQ": "20250101", "ZXRQ": "20241231"}, "ZXRQ: before DJRQ"),
    ],
)
def test_field_level_rejects(override: dict[str, str], reason: str) -> None:
    with pytest.raises(RowError) as err:
        market.parse_row(row(credit(1), ID_A) | override)
    assert str(err.value) == reason
    assert ID_A not in str(err.value) and credit(1) not in str(err.value)
