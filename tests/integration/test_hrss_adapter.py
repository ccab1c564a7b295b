"""The HRSS adapter on real `sbjf_*` and `ldht_*` files on disk: both encodings, every kind of mess the spec lists.

R-EMP-1 and R-SI read these records, so insurance type, months and kind must survive exactly, and nothing may leak.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest

from adapters import hrss
from adapters.normalising import RowError
from adapters.reading import Parsed, Reject, UnreadableFile
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import Contribution, ContributionKind, InsuranceType, LabourContract
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

SBJF = ["AAC002", "AAC003", "AAB001", "AAB004", "AAE140", "AAE002", "AAE003", "AAA115"]
LDHT = ["AAC002", "AAB001", "AAB004", "AAE030", "AAE031", "JYDJ"]
EMP_CODE = "330200100001"
EMP_NAME = "宁波甬江机械有限公司"
ENCODINGS = ("utf-8", "gb18030")
LABEL = {"utf-8": "UTF-8", "gb18030": "GB18030"}

ID_A = make_id("511302", _dt.date(1990, 1, 1), 123)
ID_B = make_id("330226", _dt.date(1992, 11, 30), 57)
ID_X = make_id_with_check("X", "420106", _dt.date(1988, 8, 8))
ID_X2 = make_id_with_check("X", "420107", _dt.date(1979, 4, 9))
WIDE_X = ID_X.translate(FULLWIDTH)
LEGACY = make_legacy15("330203", _dt.date(1965, 7, 1), 45)
D0305 = _dt.date(2019, 3, 5)
D0304 = _dt.date(2022, 3, 4)


def _id(i: int) -> str:
    return make_id("340102", _dt.date(1991, 3, 3), 300 + i)


def contribution(idn: str, name: str = "张三", **over: str) -> dict[str, str]:
    """A complete, valid sbjf row; keyword arguments override single fields."""
    base = {"AAC002": idn, "AAC003": name, "AAB001": EMP_CODE, "AAB004": EMP_NAME, "AAE140": "110",
            "AAE002": "201903", "AAE003": "201903", "AAA115": "10"}
    return base | over


def contract(idn: str, **over: str) -> dict[str, str]:
    """A complete, valid ldht row; keyword arguments override single fields."""
    base = {"AAC002": idn, "AAB001": EMP_CODE, "AAB004": EMP_NAME, "AAE030": "20190305", "AAE031": "20220304",
            "JYDJ": "1"}
    return base | over


def padded(row: dict[str, str]) -> dict[str, str]:
    """Spaces (ideographic too) around every value."""
    return {k: f" \u3000{v}  " for k, v in row.items()}


class Garbled:
    """A row whose line the file's codec cannot decode: GBK bytes in UTF-8, a stray 0xFF byte in GB18030."""

    def __init__(self, row: dict[str, str]) -> None:
        self.row = row

    def encode(self, header: list[str], encoding: str) -> bytes:
        line = csv_line([self.row[k] for k in header])
        return line.encode("gbk") if encoding == "utf-8" else line.encode("gb18030") + b"\xff"


Item = dict[str, str] | Garbled | str


def build(header: list[str], items: list[tuple[Item, str | None]], encoding: str,
          secret_fields: tuple[str, ...]) -> tuple[list[str | bytes], dict[int, str], list[str]]:
    """(lines of the file, lower-case header first; expected reject reason per line; identity numbers and names)."""
    lines: list[str | bytes] = [csv_line([h.lower() for h in header])]
    expected: dict[int, str] = {}
    secrets: list[str] = []
    for lineno, (item, reason) in enumerate(items, start=2):
        if isinstance(item, dict):
            lines.append(csv_line([item[k] for k in header]))
        elif isinstance(item, Garbled):
            lines.append(item.encode(header, encoding))
        else:
            lines.append(item)
        row = item.row if isinstance(item, Garbled) else item
        if isinstance(row, dict):
            secrets += [row[f].strip(" \u3000") for f in secret_fields]
        if reason:
            expected[lineno] = reason
    return lines, expected, [s for s in secrets if s]


def split(items: list[Parsed | Reject]) -> tuple[list[Parsed], list[Reject]]:
    return [i for i in items if isinstance(i, Parsed)], [i for i in items if isinstance(i, Reject)]


def assert_rejects_clean(rejects: list[Reject], file: str, header: list[str], secrets: list[str]) -> None:
    """Every reject has its file, a line number, a reason naming a field (or the line), and no value."""
    for reject in rejects:
        assert reject.file == file and reject.line >= 2
        assert reject.reason.split(":")[0] in header or reject.reason.startswith("line ")
        for secret in secrets:
            assert secret not in reject.reason
            assert secret.upper() not in reject.reason.upper()


ALWAYS_SECRET = [ID_A, ID_B, ID_X, ID_X2, WIDE_X, LEGACY, upgrade15(LEGACY), *(_id(i) for i in range(20))]


# ------------------------------------------------------------------------------------------ sbjf: contributions


def sbjf_items() -> list[tuple[Item, str | None]]:
    return [
        (contribution(ID_A), None),  # 2 baseline
        (contribution(ID_A), None),  # 3 the same row twice
        (padded(contribution(ID_B, "李　四")), None),  # 4 spaces everywhere
        (  # 5 full-width digits and Ｘ
            contribution(WIDE_X, "王五", AAE140="３１０", AAE002="２０１９０３", AAE003="２０１９０４", AAA115="１０"),
            None,
        ),
        (contribution(ID_X2.lower(), "赵六"), None),  # 6 lower-case x
        (contribution(_id(1), "钱七", AAE002="2019-03", AAE003="2019-04", AAA115="21"), None),  # 7 months 2019-03
        (contribution(_id(2), "孙八", AAE002="201801", AAE003="201906", AAA115="31"), None),  # 8 back-payment
        (contribution(_id(3), "周九", AAE140="410", AAE002="2019-05", AAE003="201905"), None),  # 9 work injury
        (contribution(_id(4), "", AAB004=""), None),  # 10 empty strings for missing values
        ("", None),  # 11 blank: skipped, not a row
        (contribution(break_check(_id(5)), "郑十一"), "AAC002: invalid identity number"),
        (contribution(LEGACY, "冯十二"), None),  # 13 legacy 15 digits
        (contribution(_id(6), "陈十三", AAE140="999"), "AAE140: unknown code '999'"),
        (contribution(_id(7), "褚十四", AAA115="20"), "AAA115: unknown code '20'"),
        (Garbled(contribution(_id(8), "卫十五")), "undecodable"),  # 16
        (contribution(_id(9), "蒋十六", AAE002=""), "AAE002: missing"),
        (contribution(_id(10), "沈十七", AAE003="201913"), "AAE003: invalid month"),
        (contribution(_id(11), "韩十八", AAB001=""), "AAB001: missing"),
        (contribution(_id(12), "朱十九", AAE002="201906", AAE003="201903"), None),  # 20 prepaid: month order is fine
        (f"{_id(13)},许二十,1", "line has 3 fields, the header has 8"),
        (contribution(_id(14), "何廿一", AAE140=_id(14)), "AAE140: unknown code (value withheld)"),
        (contribution("", "吕廿二"), "AAC002: missing"),
        (contribution(_id(15), "施廿三", AAA115=""), "AAA115: missing"),
    ]


def sbjf_file(tmp_path: Path, encoding: str) -> tuple[Path, dict[int, str], list[str]]:
    lines, expected, secrets = build(SBJF, sbjf_items(), encoding, ("AAC002", "AAC003"))
    expected[16] = f"line is not valid {LABEL[encoding]}"
    path = write_lines(tmp_path / "sbjf_messy.csv", lines, encoding)
    return path, expected, secrets + ALWAYS_SECRET + [break_check(_id(5)), "卫十五", "许二十"]


def paid(idn: str, insurance: InsuranceType = InsuranceType.EMPLOYEE_PENSION, month_for: str = "2019-03",
         month_paid: str = "2019-03", kind: ContributionKind = ContributionKind.NORMAL,
         employer_name: str = EMP_NAME) -> tuple[Contribution]:
    return (Contribution(IdNumber(idn), EMP_CODE, employer_name, insurance, month_for, month_paid, kind),)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_messy_contributions_file(tmp_path: Path, encoding: str) -> None:
    path, expected, secrets = sbjf_file(tmp_path, encoding)
    out = list(hrss.BUREAU.parse(path))
    parsed, rejects = split(out)

    assert len(out) == 22  # 23 lines after the header, one of them blank
    assert len(parsed) == 11
    assert len(rejects) == 11
    assert {r.line: r.reason for r in rejects} == expected
    assert [p.line for p in parsed] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 20]
    assert_rejects_clean(rejects, "sbjf_messy.csv", SBJF, secrets)

    by_line = {p.line: p.records for p in parsed}
    assert by_line[2] == by_line[3] == paid(ID_A)  # twice: both parsed; duplicates are the importer's call
    assert by_line[4] == paid(ID_B)
    assert by_line[5] == paid(ID_X, InsuranceType.MEDICAL, "2019-03", "2019-04")
    assert by_line[6] == paid(ID_X2)
    assert by_line[7] == paid(_id(1), month_for="2019-03", month_paid="2019-04", kind=ContributionKind.LATE)
    assert by_line[8] == paid(_id(2), month_for="2018-01", month_paid="2019-06", kind=ContributionKind.BACK_PAYMENT)
    assert by_line[9] == paid(_id(3), InsuranceType.WORK_INJURY, "2019-05", "2019-05")
    assert by_line[10] == paid(_id(4), employer_name="")
    assert by_line[13] == paid(upgrade15(LEGACY))
    assert by_line[20] == paid(_id(12), month_for="2019-06", month_paid="2019-03")
    # AAC003 is read past, never kept: no record carries a name
    names = [s for s in secrets if not s[:1].isdigit()]
    for records in by_line.values():
        assert not any(name in repr(records) for name in names)


def test_back_payment_and_work_injury_survive_exactly() -> None:
    """R-SI excludes both, so neither may be normalised into something the rules would count."""
    (back,) = hrss.parse_contribution_row(contribution(ID_A, AAE140="410", AAE002="201712", AAE003="202001",
                                                       AAA115="31"))
    assert isinstance(back, Contribution)
    assert back.kind is ContributionKind.BACK_PAYMENT
    assert back.insurance is InsuranceType.WORK_INJURY
    assert (back.month_for, back.month_paid) == ("2017-12", "2020-01")


@pytest.mark.parametrize("insurance", list(InsuranceType))
@pytest.mark.parametrize("kind", list(ContributionKind))
def test_every_insurance_type_and_kind_is_kept(insurance: InsuranceType, kind: ContributionKind) -> None:
    (c,) = hrss.parse_contribution_row(contribution(ID_A, AAE140=insurance.value, AAA115=kind.value))
    assert isinstance(c, Contribution) and (c.insurance, c.kind) == (insurance, kind)


# ------------------------------------------------------------------------------------------ ldht: labour contracts


def ldht_items() -> list[tuple[Item, str | None]]:
    return [
        (contract(ID_A), None),  # 2 baseline
        (contract(ID_A), None),  # 3 the same row twice
        (padded(contract(ID_B)), None),  # 4 spaces everywhere
        (contract(WIDE_X, AAE030="２０１９０３０５", AAE031="２０２２０３０４", JYDJ="１"), None),  # 5 full-width
        (contract(ID_X2.lower()), None),  # 6 lower-case x
        (contract(_id(1), AAE030="2019-03-05", AAE031="2022-03-04"), None),
        (contract(_id(2), AAE030="2019/3/5", AAE031="2022/3/4"), None),
        (contract(_id(3), AAE030="2019年3月5日", AAE031="2022年3月4日"), None),
        (contract(_id(4), AAB004="", AAE031="", JYDJ="0"), None),  # 10 empty: open-ended, not registered
        ("", None),  # 11 blank
        (contract(break_check(_id(5))), "AAC002: invalid identity number"),
        (contract(LEGACY), None),  # 13 legacy 15 digits
        (contract(_id(6), JYDJ="2"), "JYDJ: unknown code '2'"),
        (Garbled(contract(_id(7))), "undecodable"),  # 15
        (contract(_id(8), AAE031="20190304"), "AAE031: before AAE030"),
        (contract(_id(9), AAE030=""), "AAE030: missing"),
        (contract(_id(10), AAE030="20190230"), "AAE030: invalid date"),
        (contract(_id(11), AAE031="2019-03-05"), None),  # 19 ends the day it starts: possible
        (contract(_id(12), JYDJ=""), "JYDJ: missing"),
        (f"{_id(13)},{EMP_CODE},1", "line has 3 fields, the header has 6"),
        (contract(_id(14), JYDJ="Y"), "JYDJ: unknown code 'Y'"),
        (contract(_id(15), AAE031=_id(15)), "AAE031: invalid date"),
    ]


def ldht_file(tmp_path: Path, encoding: str) -> tuple[Path, dict[int, str], list[str]]:
    lines, expected, secrets = build(LDHT, ldht_items(), encoding, ("AAC002",))
    expected[15] = f"line is not valid {LABEL[encoding]}"
    path = write_lines(tmp_path / "ldht_messy.csv", lines, encoding)
    return path, expected, secrets + ALWAYS_SECRET + [break_check(_id(5))]


def employed(idn: str, start: _dt.date = D0305, end: _dt.date | None = D0304, registered: bool = True,
             employer_name: str = EMP_NAME) -> tuple[LabourContract]:
    return (LabourContract(IdNumber(idn), EMP_CODE, employer_name, start, end, registered),)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_messy_contracts_file(tmp_path: Path, encoding: str) -> None:
    path, expected, secrets = ldht_file(tmp_path, encoding)
    out = list(hrss.BUREAU.parse(path))
    parsed, rejects = split(out)

    assert len(out) == 21  # 22 lines after the header, one of them blank
    assert len(parsed) == 11
    assert len(rejects) == 10
    assert {r.line: r.reason for r in rejects} == expected
    assert [p.line for p in parsed] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 19]
    assert_rejects_clean(rejects, "ldht_messy.csv", LDHT, secrets)

    by_line = {p.line: p.records for p in parsed}
    assert by_line[2] == by_line[3] == employed(ID_A)
    assert by_line[4] == employed(ID_B)
    assert by_line[5] == employed(ID_X)
    assert by_line[6] == employed(ID_X2)
    for line, idn in ((7, _id(1)), (8, _id(2)), (9, _id(3))):  # every date format, the same dates
        assert by_line[line] == employed(idn)
    assert by_line[10] == employed(_id(4), end=None, registered=False, employer_name="")
    assert by_line[13] == employed(upgrade15(LEGACY))
    assert by_line[19] == employed(_id(11), end=D0305)


# ------------------------------------------------------------------------------------------ formats and dispatch


def test_utf8_with_bom(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "sbjf_bom.csv", SBJF, [list(contribution(ID_A).values())], bom=True)
    (p,) = hrss.BUREAU.parse(path)
    assert isinstance(p, Parsed) and p.records == paid(ID_A)


def test_jsonl_contributions(tmp_path: Path) -> None:
    numeric_id = make_id_with_check("7")
    objects = [
        {k.lower(): v for k, v in contribution(ID_A).items()},
        {"aac002": int(numeric_id), "aac003": None, "aab001": 330200100001, "aab004": None, "aae140": 410,
         "aae002": 201903, "aae003": "2019-04", "aaa115": 31},
        {"AAC002": ID_B, "AAB001": EMP_CODE, "AAE140": "110", "AAE002": "201903", "AAA115": "10"},
    ]
    path = write_jsonl(tmp_path / "sbjf_1.jsonl", objects)
    with path.open("ab") as fh:
        fh.write(b'["not", "an", "object"]\r\n{"AAC002": \r\n')
    parsed, rejects = split(list(hrss.BUREAU.parse(path)))
    assert [p.line for p in parsed] == [1, 2]
    assert parsed[0].records == paid(ID_A)
    assert parsed[1].records == paid(numeric_id, InsuranceType.WORK_INJURY, "2019-03", "2019-04",
                                     ContributionKind.BACK_PAYMENT, employer_name="")
    assert rejects == [
        Reject("sbjf_1.jsonl", 3, "AAE003: missing"),
        Reject("sbjf_1.jsonl", 4, "line is not a JSON object"),
        Reject("sbjf_1.jsonl", 5, "line is not valid JSON"),
    ]


def test_lowercase_header_names_are_accepted(tmp_path: Path) -> None:
    for header, row, name in ((SBJF, contribution(ID_A), "sbjf_lc.csv"), (LDHT, contract(ID_A), "ldht_lc.csv")):
        mixed = [h.lower() if i % 2 else f" {h.title()} " for i, h in enumerate(header)]
        path = write_csv(tmp_path / name, mixed, [[row[k] for k in header]])
        (p,) = hrss.BUREAU.parse(path)
        assert isinstance(p, Parsed) and len(p.records) == 1


def test_dispatch_by_file_name_ignores_case(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "SBJF_2024.CSV", SBJF, [list(contribution(ID_A).values())])
    b = write_csv(tmp_path / "Ldht_2024.csv", LDHT, [list(contract(ID_A).values())])
    assert [type(r) for p in hrss.BUREAU.parse(a) for r in p.records] == [Contribution]  # type: ignore[union-attr]
    assert [type(r) for p in hrss.BUREAU.parse(b) for r in p.records] == [LabourContract]  # type: ignore[union-attr]


def test_name_less_files_are_dispatched_by_header(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "hrss_export.csv", SBJF, [list(contribution(ID_A).values())])
    b = write_csv(tmp_path / "hrss_export_2.csv", LDHT, [list(contract(ID_A).values())])
    c = write_jsonl(tmp_path / "export.jsonl", [{k.lower(): v for k, v in contract(ID_B).items()}])
    assert [p.records for p in hrss.BUREAU.parse(a)] == [paid(ID_A)]  # type: ignore[union-attr]
    assert [p.records for p in hrss.BUREAU.parse(b)] == [employed(ID_A)]  # type: ignore[union-attr]
    assert [p.records for p in hrss.BUREAU.parse(c)] == [employed(ID_B)]  # type: ignore[union-attr]


def test_file_matching_neither_is_unreadable(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "export.csv", ["GMSFHM", "XM"], [[ID_A, "张三"]])
    with pytest.raises(UnreadableFile, match=r"^export.csv: not an HRSS file") as err:
        hrss.BUREAU.parse(path)
    assert ID_A not in str(err.value)
    empty = write_jsonl(tmp_path / "export.jsonl", [])
    with pytest.raises(UnreadableFile, match="not an HRSS file"):
        hrss.BUREAU.parse(empty)


def test_name_and_header_that_disagree_are_unreadable(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "sbjf_wrong.csv", LDHT, [list(contract(ID_A).values())])
    with pytest.raises(UnreadableFile, match=r"missing required column\(s\) AAE140, AAE002, AAE003, AAA115$"):
        hrss.BUREAU.parse(path)


def test_utf16_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "export_u16.csv"
    path.write_bytes(("\r\n".join([csv_line(SBJF), csv_line(list(contribution(ID_A).values()))])).encode("utf-16"))
    with pytest.raises(UnreadableFile, match="UTF-16"):
        hrss.BUREAU.parse(path)


@pytest.mark.parametrize(
    ("header", "column", "name"),
    [(SBJF, c, "sbjf_cols.csv") for c in hrss.CONTRIBUTION_COLUMNS]
    + [(LDHT, c, "ldht_cols.csv") for c in hrss.CONTRACT_COLUMNS],
)
def test_missing_required_column_is_unreadable(tmp_path: Path, header: list[str], column: str, name: str) -> None:
    row = contribution(ID_A) if header is SBJF else contract(ID_A)
    kept = [h for h in header if h != column]
    path = write_csv(tmp_path / name, kept, [[row[k] for k in kept]])
    with pytest.raises(UnreadableFile, match=f"missing required column\\(s\\) {column}$"):
        hrss.BUREAU.parse(path)


def test_optional_columns_may_be_absent(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "sbjf_min.csv", hrss.CONTRIBUTION_COLUMNS,
                  [[contribution(ID_A)[k] for k in hrss.CONTRIBUTION_COLUMNS]])
    b = write_csv(tmp_path / "ldht_min.csv", hrss.CONTRACT_COLUMNS,
                  [[contract(ID_A)[k] for k in hrss.CONTRACT_COLUMNS]])
    assert [p.records for p in hrss.BUREAU.parse(a)] == [paid(ID_A, employer_name="")]  # type: ignore[union-attr]
    assert [p.records for p in hrss.BUREAU.parse(b)] == [  # type: ignore[union-attr]
        employed(ID_A, end=None, employer_name="")
    ]


def test_reparsing_gives_the_same_result(tmp_path: Path) -> None:
    path, _, _ = sbjf_file(tmp_path, "gb18030")
    assert list(hrss.BUREAU.parse(path)) == list(hrss.BUREAU.parse(path))


def test_file_globs() -> None:
    assert hrss.BUREAU.file_globs == ("sbjf_*", "ldht_*")
    assert Path("sbjf_20240101.csv").match(hrss.BUREAU.file_globs[0])
    assert Path("ldht_20240101.csv").match(hrss.BUREAU.file_globs[1])


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"AAC002": ID_A[:17]}, "AAC002: invalid identity number"),
        ({"AAB001": " "}, "AAB001: missing"),
        ({"AAE140": "110.0"}, "AAE140: unknown code (value withheld)"),
        ({"AAE140": "0"}, "AAE140: unknown code '0'"),
        ({"AAE002": "2019-13"}, "AAE002: invalid month"),
        ({"AAE002": "20190305"}, "AAE002: invalid month"),
        ({"AAE003": "March"}, "AAE003: invalid month"),
        ({"AAA115": "11"}, "AAA115: unknown code '11'"),
    ],
)
def test_contribution_field_rejects(override: dict[str, str], reason: str) -> None:
    with pytest.raises(RowError) as err:
        hrss.parse_contribution_row(contribution(ID_A) | override)
    assert str(err.value) == reason
    assert ID_A not in str(err.value) and "张三" not in str(err.value)


def test_contribution_name_is_not_validated() -> None:
    for name in ("", "  ", "X" * 500, ID_B):
        assert hrss.parse_contribution_row(contribution(ID_A, name)) == paid(ID_A)


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"AAC002": break_check(ID_A)}, "AAC002: invalid identity number"),
        ({"AAB001": ""}, "AAB001: missing"),
        ({"AAE030": "2019-02-30"}, "AAE030: invalid date"),
        ({"AAE031": "20180101"}, "AAE031: before AAE030"),
        ({"JYDJ": "true"}, "JYDJ: unknown code 'true'"),
        ({"JYDJ": "是"}, "JYDJ: unknown code (value withheld)"),
    ],
)
def test_contract_field_rejects(override: dict[str, str], reason: str) -> None:
    with pytest.raises(RowError) as err:
        hrss.parse_contract_row(contract(ID_A) | override)
    assert str(err.value) == reason
    assert ID_A not in str(err.value)
