"""The agriculture adapter on real `tdcb_*` files on disk: every encoding and every kind of mess the spec lists.

R-EMP-3 counts twelve months of an operated contract, so its dates must be read exactly and its errors must not leak.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest

from adapters import agri
from adapters.normalising import RowError
from adapters.reading import Parsed, Reject, UnreadableFile
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import LandContract, LandContractKind
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

HEADER = ["HTBH", "CBFZJH", "LX", "QSRQ", "ZZRQ"]
START = _dt.date(2019, 3, 5)
END = _dt.date(2029, 3, 4)
ID_A = make_id("330212", _dt.date(1970, 5, 6), 31)
ID_B = make_id("341122", _dt.date(1983, 10, 1), 48)
ID_X = make_id_with_check("X", "420106", _dt.date(1988, 8, 8))
ID_X2 = make_id_with_check("X", "420107", _dt.date(1979, 4, 9))
LEGACY = make_legacy15("330226", _dt.date(1961, 1, 20), 17)


def number(n: int) -> str:
    """A contract number as the agriculture bureau writes them: Chinese, brackets and digits."""
    return f"鄞农流转〔2019〕第{n:04d}号"


def row(contract: str, contractor: str, **over: str) -> dict[str, str]:
    base = {"HTBH": contract, "CBFZJH": contractor, "LX": "TDLZ", "QSRQ": "20190305", "ZZRQ": "20290304"}
    return base | over


def values(r: dict[str, str], header: list[str] = HEADER) -> list[str]:
    return [r[k] for k in header]


def split(items: list[Parsed | Reject]) -> tuple[list[Parsed], list[Reject]]:
    return [i for i in items if isinstance(i, Parsed)], [i for i in items if isinstance(i, Reject)]


def contract(parsed: Parsed) -> LandContract:
    (record,) = parsed.records
    assert isinstance(record, LandContract)
    return record


# ------------------------------------------------------------------------------------------ clean files


def test_clean_utf8_file(tmp_path: Path) -> None:
    rows = [row(number(1), ID_A), row("YZZ-330226-0002", ID_B, LX="YZZ", ZZRQ="")]
    path = write_csv(tmp_path / "tdcb_20240101.csv", HEADER, [values(r) for r in rows])
    out = list(agri.BUREAU.parse(path))
    assert [(type(p), p.file, p.line) for p in out] == [(Parsed, path.name, 2), (Parsed, path.name, 3)]
    assert [p.records for p in out] == [  # type: ignore[union-attr]
        (LandContract(number(1), IdNumber(ID_A), LandContractKind.LAND_TRANSFER, START, END),),
        (LandContract("YZZ-330226-0002", IdNumber(ID_B), LandContractKind.STATE_WATER_AQUACULTURE, START, None),),
    ]


def test_jsonl_file(tmp_path: Path) -> None:
    objects = [
        {k.lower(): v for k, v in row(number(1), ID_A, LX="JTYZ").items()},
        {"HTBH": 20190002, "CBFZJH": ID_B, "LX": "tdlz", "QSRQ": 20190305, "ZZRQ": None},
        {"HTBH": number(3), "CBFZJH": ID_B, "LX": "TDLZ", "QSRQ": "20190305", "ZZRQ": "20190304"},
    ]
    path = write_jsonl(tmp_path / "tdcb_1.jsonl", objects)
    parsed, rejects = split(list(agri.BUREAU.parse(path)))
    assert [contract(p) for p in parsed] == [
        LandContract(number(1), IdNumber(ID_A), LandContractKind.COLLECTIVE_WATER_AQUACULTURE, START, END),
        LandContract("20190002", IdNumber(ID_B), LandContractKind.LAND_TRANSFER, START, None),
    ]
    assert rejects == [Reject("tdcb_1.jsonl", 3, "ZZRQ: before QSRQ")]


def test_lowercase_header_names_are_accepted(tmp_path: Path) -> None:
    header = [h.lower() if i % 2 else f" {h.title()} " for i, h in enumerate(HEADER)]
    path = write_csv(tmp_path / "tdcb_lc.csv", header, [values(row(number(1), ID_A))])
    (p,) = agri.BUREAU.parse(path)
    assert isinstance(p, Parsed) and contract(p).contract_number == number(1)


@pytest.mark.parametrize("column", agri.REQUIRED_COLUMNS)
def test_missing_required_column_is_unreadable(tmp_path: Path, column: str) -> None:
    header = [h for h in HEADER if h != column]
    path = write_csv(tmp_path / "tdcb_cols.csv", header, [values(row(number(1), ID_A), header)])
    with pytest.raises(UnreadableFile, match=f"missing required column\\(s\\) {column}$"):
        agri.BUREAU.parse(path)


def test_end_column_may_be_absent(tmp_path: Path) -> None:
    header = list(agri.REQUIRED_COLUMNS)
    path = write_csv(tmp_path / "tdcb_min.csv", header, [values(row(number(1), ID_A), header)])
    (p,) = agri.BUREAU.parse(path)
    assert isinstance(p, Parsed) and contract(p).end is None


# ------------------------------------------------------------------------------------------ the messy file


def wide(value: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value)


def undecodable(line: str, encoding: str) -> bytes:
    """A line the file's own codec cannot read: GBK bytes in a UTF-8 file, a stray 0xFF in a GB18030 one."""
    return line.encode("gbk") if encoding == "utf-8" else line.encode("gb18030") + b"\xff"


def messy_lines(encoding: str) -> tuple[list[str | bytes], dict[int, str], list[str]]:
    """(lines of the file, the expected reject reason per line, every identity number in it)."""
    wide_x = ID_X.translate(FULLWIDTH)
    assert "Ｘ" in wide_x
    rows: list[tuple[dict[str, str] | bytes | str, str | None]] = [
        (row(number(1), ID_A), None),  # 2 baseline
        (row(number(1), ID_A), None),  # 3 the same row twice
        ({k: f" \u3000{v}  " for k, v in row(number(2), ID_B).items()}, None),  # 4 spaces everywhere
        (row(wide("YZZ-2019-0003"), wide_x, LX="ＹＺＺ", QSRQ="２０１９０３０５", ZZRQ="２０２９０３０４"), None),
        (row(number(4), ID_X2.lower(), LX="jtyz"), None),  # 6 lower-case x and kind
        (row(number(5), ID_A, QSRQ="2019-03-05", ZZRQ="2029-03-04"), None),
        (row(number(6), ID_A, QSRQ="2019/3/5", ZZRQ="2029/3/4"), None),
        (row(number(7), ID_A, QSRQ="2019年3月5日", ZZRQ="2029年3月4日"), None),
        (row(number(8), ID_B, ZZRQ=""), None),  # 10 empty string: an open contract
        ("", None),  # 11 blank: skipped, not a row
        (row(number(9), break_check(ID_B)), "CBFZJH: invalid identity number"),
        (row(number(10), LEGACY), None),  # 13 legacy 15 digits
        (row(number(11), ID_A, LX="TDCB"), "LX: unknown code 'TDCB'"),
        (undecodable(csv_line(values(row(number(12), ID_B))), encoding),
         f"line is not valid {'UTF-8' if encoding == 'utf-8' else 'GB18030'}"),
        (row(number(13), ID_A, ZZRQ="2019-03-04"), "ZZRQ: before QSRQ"),
        (row(number(14), ID_A, QSRQ=""), "QSRQ: missing"),
        (row("", ID_A), "HTBH: missing"),
        (row(number(15), ID_A, ZZRQ="2029-13-01"), "ZZRQ: invalid date"),
        (f"{number(16)},{ID_A},TDLZ", "line has 3 fields, the header has 5"),
        (row(number(17), ID_A, LX=ID_B), "LX: unknown code (value withheld)"),
        (row(number(18), ID_B, LX="JTYZ", ZZRQ="20190305"), None),  # 22 a contract of one day
    ]  # fmt: skip
    lines: list[str | bytes] = [csv_line([h.lower() for h in HEADER])]
    expected: dict[int, str] = {}
    for lineno, (r, reason) in enumerate(rows, start=2):
        lines.append(csv_line(values(r)) if isinstance(r, dict) else r)
        if reason:
            expected[lineno] = reason
    secrets = [ID_A, ID_B, ID_X, ID_X2, wide_x, break_check(ID_B), LEGACY, upgrade15(LEGACY)]
    return lines, expected, secrets


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_messy_file(tmp_path: Path, encoding: str) -> None:
    lines, expected, secrets = messy_lines(encoding)
    path = write_lines(tmp_path / "tdcb_messy.csv", lines, encoding=encoding)
    out = list(agri.BUREAU.parse(path))
    parsed, rejects = split(out)

    assert len(out) == 20  # 21 lines after the header, one of them blank
    assert len(parsed) == 11
    assert len(rejects) == 9
    assert {r.line: r.reason for r in rejects} == expected
    assert all(r.file == "tdcb_messy.csv" for r in out)
    assert [p.line for p in parsed] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 22]
    for reject in rejects:
        assert reject.reason.split(":")[0] in HEADER or reject.reason.startswith("line ")
        for secret in secrets:
            assert secret.upper() not in reject.reason.upper()

    by_line = {p.line: contract(p) for p in parsed}
    assert by_line[2] == by_line[3] == LandContract(number(1), IdNumber(ID_A), LandContractKind.LAND_TRANSFER,
                                                    START, END)
    assert by_line[4] == LandContract(number(2), IdNumber(ID_B), LandContractKind.LAND_TRANSFER, START, END)
    assert by_line[5] == LandContract("YZZ-2019-0003", IdNumber(ID_X), LandContractKind.STATE_WATER_AQUACULTURE,
                                      START, END)
    assert (by_line[6].contractor, by_line[6].kind) == (IdNumber(ID_X2), LandContractKind.COLLECTIVE_WATER_AQUACULTURE)
    for line in (7, 8, 9):  # every date format gives the same dates
        assert (by_line[line].start, by_line[line].end) == (START, END)
    assert by_line[10].end is None
    assert by_line[13].contractor == IdNumber(upgrade15(LEGACY))
    assert (by_line[22].start, by_line[22].end) == (START, START)


def test_reimporting_gives_the_same_result(tmp_path: Path) -> None:
    lines, _, _ = messy_lines("utf-8")
    path = write_lines(tmp_path / "tdcb_messy.csv", lines)
    assert list(agri.BUREAU.parse(path)) == list(agri.BUREAU.parse(path))


def test_file_globs() -> None:
    assert agri.BUREAU.file_globs == ("tdcb_*",)
    assert Path("tdcb_20240101.csv").match(agri.BUREAU.file_globs[0])


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"CBFZJH": ""}, "CBFZJH: missing"),
        ({"LX": ""}, "LX: missing"),
        ({"LX": "土地流转"}, "LX: unknown code (value withheld)"),
        ({"QSRQ": "2019-02-29"}, "QSRQ: invalid date"),
        ({"QSRQ": "20300101", "ZZRQ": "20291231"}, "ZZRQ: before QSRQ"),
    ],
)
def test_field_level_rejects(override: dict[str, str], reason: str) -> None:
    with pytest.raises(RowError) as err:
        agri.parse_row(row(number(1), ID_A) | override)
    assert str(err.value) == reason
    assert ID_A not in str(err.value)
