"""The Housing Bureau adapter on real `bdc_*` and `czfw_*` files on disk: both encodings, every kind of mess.

R-HOME-1 and R-HOME-3 read these records: owners, co-owners, tenants, districts and dates must be exact, and
no identity number or name may leak into a reject.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest

from adapters import housing
from adapters.normalising import RowError
from adapters.reading import Parsed, Reject, UnreadableFile
from gateway.domain.districts import District
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import PropertyTitle, RentalRegistration
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

BDC = ["BDCQZH", "QLRZJH", "QLRMC", "FWZL", "XZQH", "DJSJ", "GYRZJH"]
CZFW = ["BAH", "CZRZJH", "CHZRZJH", "FWDZ", "XZQH", "QSRQ", "ZZRQ", "BAZT"]
ADDRESS = "宁波市海曙区中山西路1号"
ENCODINGS = ("utf-8", "gb18030")
LABEL = {"utf-8": "UTF-8", "gb18030": "GB18030"}

ID_A = make_id("511302", _dt.date(1990, 1, 1), 123)
ID_B = make_id("330226", _dt.date(1992, 11, 30), 57)
ID_X = make_id_with_check("X", "420106", _dt.date(1988, 8, 8))
ID_X2 = make_id_with_check("X", "420107", _dt.date(1979, 4, 9))
WIDE_X = ID_X.translate(FULLWIDTH)
LANDLORD = make_id("330203", _dt.date(1960, 5, 5), 11)
LEGACY = make_legacy15("330203", _dt.date(1965, 7, 1), 45)
LEGACY2 = make_legacy15("330212", _dt.date(1968, 2, 2), 46)
D0305 = _dt.date(2019, 3, 5)
D0304 = _dt.date(2020, 3, 4)
HAISHU, YINZHOU = District("330203"), District("330212")


def _id(i: int) -> str:
    return make_id("340102", _dt.date(1991, 3, 3), 300 + i)


def title_no(n: int) -> str:
    return f"浙(2019)宁波市不动产权第{n:07d}号"


def title(number: str, owner: str, name: str = "张三", **over: str) -> dict[str, str]:
    """A complete, valid bdc row without co-owners; keyword arguments override single fields."""
    base = {"BDCQZH": number, "QLRZJH": owner, "QLRMC": name, "FWZL": ADDRESS, "XZQH": "330203",
            "DJSJ": "20190305", "GYRZJH": ""}
    return base | over


def rental(number: str, landlord: str, tenant: str, **over: str) -> dict[str, str]:
    """A complete, valid czfw row; keyword arguments override single fields."""
    base = {"BAH": number, "CZRZJH": landlord, "CHZRZJH": tenant, "FWDZ": ADDRESS, "XZQH": "330203",
            "QSRQ": "20190305", "ZZRQ": "20200304", "BAZT": "1"}
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
            for f in secret_fields:
                secrets += [s.strip(" \u3000") for s in row[f].replace("；", ";").replace(",", ";").split(";")]
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


ALWAYS_SECRET = [ID_A, ID_B, ID_X, ID_X2, WIDE_X, LANDLORD, LEGACY, LEGACY2, upgrade15(LEGACY), upgrade15(LEGACY2),
                 *(_id(i) for i in range(25))]


# ------------------------------------------------------------------------------------------ bdc: property titles


def bdc_items() -> list[tuple[Item, str | None]]:
    wide_title = "浙（2019）宁波市不动产权第００００００３号"
    return [
        (title(title_no(1), ID_A, GYRZJH=ID_B), None),  # 2 baseline, one co-owner
        (title(title_no(1), ID_A, GYRZJH=ID_B), None),  # 3 the same row twice
        (padded(title(title_no(2), ID_B, "李　四", GYRZJH=f"{ID_A} ; {_id(20)}")), None),  # 4 spaces everywhere
        (  # 5 full-width digits, Ｘ, parentheses and ；
            title(wide_title, WIDE_X, "王五", XZQH="３３０２０５", DJSJ="２０１９０３０５",
                  GYRZJH=f"{ID_B.translate(FULLWIDTH)}；{_id(21)}"),
            None,
        ),
        (title(title_no(4), ID_X2.lower(), "赵六", GYRZJH=f"{ID_X.lower()},{ID_B}"), None),  # 6 lower-case x, a comma
        (title(title_no(5), _id(1), "钱七", DJSJ="2019-03-05"), None),
        (title(title_no(6), _id(2), "孙八", DJSJ="2019/3/5"), None),
        (title(title_no(7), _id(3), "周九", DJSJ="2019年3月5日"), None),
        (title(title_no(8), _id(4), "", FWZL=""), None),  # 10 empty strings: no name, no address, no co-owners
        ("", None),  # 11 blank
        (title(title_no(9), break_check(_id(5)), "郑十一"), "QLRZJH: invalid identity number"),
        (title(title_no(10), LEGACY, "冯十二", GYRZJH=LEGACY2), None),  # 13 legacy 15 digits, owner and co-owner
        (title(title_no(11), _id(6), "陈十三", XZQH="330204"), None),  # 14 legacy 江东
        (title(title_no(12), _id(7), "褚十四", XZQH="330100"), "XZQH: unknown code '330100'"),
        (Garbled(title(title_no(13), _id(8), "卫十五")), "undecodable"),  # 16
        (title(title_no(14), _id(9), "蒋十六", GYRZJH=f"{ID_B};{break_check(_id(22))}"),
         "GYRZJH: invalid identity number"),
        (title(title_no(15), _id(10), "沈十七", GYRZJH=f"{_id(10)};{ID_B}；{ID_B};"), None),  # 18 owner, repeats
        (title(title_no(16), _id(11), "韩十八", DJSJ=""), "DJSJ: missing"),
        (title("", _id(12), "朱十九"), "BDCQZH: missing"),
        (f"{title_no(17)},{_id(13)},许二十", "line has 3 fields, the header has 7"),
        (title(title_no(18), _id(14), "何廿一", XZQH=_id(14)), "XZQH: unknown code (value withheld)"),
        (title(title_no(19), "", "吕廿二"), "QLRZJH: missing"),
        (title(title_no(20), _id(15), "施廿三", DJSJ="20190230"), "DJSJ: invalid date"),
    ]


def bdc_file(tmp_path: Path, encoding: str) -> tuple[Path, dict[int, str], list[str]]:
    lines, expected, secrets = build(BDC, bdc_items(), encoding, ("QLRZJH", "QLRMC", "GYRZJH"))
    expected[16] = f"line is not valid {LABEL[encoding]}"
    path = write_lines(tmp_path / "bdc_messy.csv", lines, encoding)
    extra = [break_check(_id(5)), break_check(_id(22)), "卫十五", "许二十"]
    return path, expected, secrets + ALWAYS_SECRET + extra


def owned(number: str, owner: str, *co: str, district: District = HAISHU, address: str = ADDRESS
          ) -> tuple[PropertyTitle]:
    return (PropertyTitle(number, IdNumber(owner), tuple(IdNumber(c) for c in co), address, district, D0305),)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_messy_titles_file(tmp_path: Path, encoding: str) -> None:
    path, expected, secrets = bdc_file(tmp_path, encoding)
    out = list(housing.BUREAU.parse(path))
    parsed, rejects = split(out)

    assert len(out) == 22  # 23 lines after the header, one of them blank
    assert len(parsed) == 12
    assert len(rejects) == 10
    assert {r.line: r.reason for r in rejects} == expected
    assert [p.line for p in parsed] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 18]
    assert_rejects_clean(rejects, "bdc_messy.csv", BDC, secrets)

    by_line = {p.line: p.records for p in parsed}
    assert by_line[2] == by_line[3] == owned(title_no(1), ID_A, ID_B)
    assert by_line[4] == owned(title_no(2), ID_B, ID_A, _id(20))
    assert by_line[5] == owned(title_no(3), ID_X, ID_B, _id(21), district=District("330205"))
    assert by_line[6] == owned(title_no(4), ID_X2, ID_X, ID_B)
    for line, n, idn in ((7, 5, _id(1)), (8, 6, _id(2)), (9, 7, _id(3))):  # every date format, the same date
        assert by_line[line] == owned(title_no(n), idn)
    assert by_line[10] == owned(title_no(8), _id(4), address="")
    assert by_line[13] == owned(title_no(10), upgrade15(LEGACY), upgrade15(LEGACY2))
    assert by_line[14] == owned(title_no(11), _id(6), district=YINZHOU)
    assert by_line[18] == owned(title_no(15), _id(10), ID_B)  # the owner is not his own co-owner; ID_B once
    # QLRMC is read past, never kept: no record carries a name
    names = [s for s in secrets if not s[:1].isdigit()]
    for records in by_line.values():
        assert not any(name in repr(records) for name in names)


# ------------------------------------------------------------------------------------------ czfw: rentals


def czfw_items() -> list[tuple[Item, str | None]]:
    return [
        (rental("NBCZ2019000001", LANDLORD, ID_A), None),  # 2 baseline
        (rental("NBCZ2019000001", LANDLORD, ID_A), None),  # 3 the same row twice
        (padded(rental("NBCZ2019000002", LANDLORD, ID_B)), None),  # 4 spaces everywhere
        (  # 5 full-width digits and Ｘ
            rental("NBCZ2019000003".translate(FULLWIDTH), LANDLORD.translate(FULLWIDTH), WIDE_X,
                   XZQH="３３０２０６", QSRQ="２０１９０３０５", ZZRQ="２０２０/３/４", BAZT="１"),
            None,
        ),
        (rental("NBCZ2019000004", LANDLORD, ID_X2.lower()), None),  # 6 lower-case x
        (rental("NBCZ2019000005", LANDLORD, _id(1), QSRQ="2019-03-05", ZZRQ="2020-03-04"), None),
        (rental("NBCZ2019000006", LANDLORD, _id(2), QSRQ="2019/3/5", ZZRQ="2020/3/4"), None),
        (rental("NBCZ2019000007", LANDLORD, _id(3), QSRQ="2019年3月5日", ZZRQ="2020年3月4日"), None),
        (rental("NBCZ2019000008", LANDLORD, _id(4), FWDZ="", ZZRQ="", BAZT="0"), None),  # 10 empty: open, withdrawn
        ("", None),  # 11 blank
        (rental("NBCZ2019000009", break_check(LANDLORD), _id(5)), "CZRZJH: invalid identity number"),
        (rental("NBCZ2019000010", LEGACY, LEGACY2), None),  # 13 legacy 15 digits
        (rental("NBCZ2019000011", LANDLORD, _id(6), XZQH="330204"), None),  # 14 legacy 江东
        (rental("NBCZ2019000012", LANDLORD, _id(7), BAZT="2"), "BAZT: unknown code '2'"),
        (Garbled(rental("NBCZ2019000013", LANDLORD, _id(8))), "undecodable"),  # 16
        (rental("NBCZ2019000014", LANDLORD, _id(9), ZZRQ="20190304"), "ZZRQ: before QSRQ"),
        (rental("NBCZ2019000015", ID_X, WIDE_X.lower()), "CHZRZJH: same as CZRZJH"),
        (rental("NBCZ2019000016", LANDLORD, break_check(_id(10))), "CHZRZJH: invalid identity number"),
        (rental("NBCZ2019000017", LANDLORD, _id(11), XZQH="330100"), "XZQH: unknown code '330100'"),
        (rental("NBCZ2019000018", LANDLORD, _id(12), QSRQ=""), "QSRQ: missing"),
        (f"NBCZ2019000019,{LANDLORD},{_id(13)}", "line has 3 fields, the header has 8"),
        (rental("", LANDLORD, _id(14)), "BAH: missing"),
        (rental("NBCZ2019000021", LANDLORD, _id(15), BAZT=""), "BAZT: missing"),
    ]


def czfw_file(tmp_path: Path, encoding: str) -> tuple[Path, dict[int, str], list[str]]:
    lines, expected, secrets = build(CZFW, czfw_items(), encoding, ("CZRZJH", "CHZRZJH"))
    expected[16] = f"line is not valid {LABEL[encoding]}"
    path = write_lines(tmp_path / "czfw_messy.csv", lines, encoding)
    extra = [break_check(LANDLORD), break_check(_id(10)), WIDE_X.lower()]
    return path, expected, secrets + ALWAYS_SECRET + extra


def rented(number: str, tenant: str, landlord: str = LANDLORD, end: _dt.date | None = D0304,
           registered: bool = True, district: District = HAISHU, address: str = ADDRESS
           ) -> tuple[RentalRegistration]:
    return (RentalRegistration(number, IdNumber(landlord), IdNumber(tenant), address, district, D0305, end,
                               registered),)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_messy_rentals_file(tmp_path: Path, encoding: str) -> None:
    path, expected, secrets = czfw_file(tmp_path, encoding)
    out = list(housing.BUREAU.parse(path))
    parsed, rejects = split(out)

    assert len(out) == 22  # 23 lines after the header, one of them blank
    assert len(parsed) == 11
    assert len(rejects) == 11
    assert {r.line: r.reason for r in rejects} == expected
    assert [p.line for p in parsed] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14]
    assert_rejects_clean(rejects, "czfw_messy.csv", CZFW, secrets)

    by_line = {p.line: p.records for p in parsed}
    assert by_line[2] == by_line[3] == rented("NBCZ2019000001", ID_A)
    assert by_line[4] == rented("NBCZ2019000002", ID_B)
    assert by_line[5] == rented("NBCZ2019000003", ID_X, district=District("330206"))
    assert by_line[6] == rented("NBCZ2019000004", ID_X2)
    for line, n in ((7, 1), (8, 2), (9, 3)):  # every date format, the same dates
        assert by_line[line] == rented(f"NBCZ201900000{line - 2}", _id(n))
    assert by_line[10] == rented("NBCZ2019000008", _id(4), end=None, registered=False, address="")
    assert by_line[13] == rented("NBCZ2019000010", upgrade15(LEGACY2), landlord=upgrade15(LEGACY))
    assert by_line[14] == rented("NBCZ2019000011", _id(6), district=YINZHOU)


# ------------------------------------------------------------------------------------------ formats and dispatch


def test_utf8_with_bom(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "czfw_bom.csv", CZFW, [list(rental("B1", LANDLORD, ID_A).values())], bom=True)
    (p,) = housing.BUREAU.parse(path)
    assert isinstance(p, Parsed) and p.records == rented("B1", ID_A)


def test_jsonl_titles(tmp_path: Path) -> None:
    numeric_id = make_id_with_check("7")
    objects = [
        {k.lower(): v for k, v in title(title_no(1), ID_A, GYRZJH=ID_B).items()},
        {"bdcqzh": title_no(2), "qlrzjh": int(numeric_id), "qlrmc": None, "fwzl": None, "xzqh": 330204,
         "djsj": 20190305, "gyrzjh": None},
        {"BDCQZH": title_no(3), "QLRZJH": ID_A, "XZQH": "330203"},
    ]
    path = write_jsonl(tmp_path / "bdc_1.jsonl", objects)
    with path.open("ab") as fh:
        fh.write(b'["not", "an", "object"]\r\n{"BDCQZH": \r\n')
    parsed, rejects = split(list(housing.BUREAU.parse(path)))
    assert [p.line for p in parsed] == [1, 2]
    assert parsed[0].records == owned(title_no(1), ID_A, ID_B)
    assert parsed[1].records == owned(title_no(2), numeric_id, district=YINZHOU, address="")
    assert rejects == [
        Reject("bdc_1.jsonl", 3, "DJSJ: missing"),
        Reject("bdc_1.jsonl", 4, "line is not a JSON object"),
        Reject("bdc_1.jsonl", 5, "line is not valid JSON"),
    ]


def test_lowercase_header_names_are_accepted(tmp_path: Path) -> None:
    for header, row, name in ((BDC, title(title_no(1), ID_A), "bdc_lc.csv"),
                              (CZFW, rental("B1", LANDLORD, ID_A), "czfw_lc.csv")):
        mixed = [h.lower() if i % 2 else f" {h.title()} " for i, h in enumerate(header)]
        path = write_csv(tmp_path / name, mixed, [[row[k] for k in header]])
        (p,) = housing.BUREAU.parse(path)
        assert isinstance(p, Parsed) and len(p.records) == 1


def test_dispatch_by_file_name_ignores_case(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "BDC_2024.CSV", BDC, [list(title(title_no(1), ID_A).values())])
    b = write_csv(tmp_path / "Czfw_2024.csv", CZFW, [list(rental("B1", LANDLORD, ID_A).values())])
    assert [p.records for p in housing.BUREAU.parse(a)] == [owned(title_no(1), ID_A)]  # type: ignore[union-attr]
    assert [p.records for p in housing.BUREAU.parse(b)] == [rented("B1", ID_A)]  # type: ignore[union-attr]


def test_name_less_files_are_dispatched_by_header(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "housing_export.csv", BDC, [list(title(title_no(1), ID_A).values())])
    b = write_csv(tmp_path / "housing_export_2.csv", CZFW, [list(rental("B1", LANDLORD, ID_A).values())])
    c = write_jsonl(tmp_path / "export.jsonl", [{k.lower(): v for k, v in rental("B2", LANDLORD, ID_B).items()}])
    assert [p.records for p in housing.BUREAU.parse(a)] == [owned(title_no(1), ID_A)]  # type: ignore[union-attr]
    assert [p.records for p in housing.BUREAU.parse(b)] == [rented("B1", ID_A)]  # type: ignore[union-attr]
    assert [p.records for p in housing.BUREAU.parse(c)] == [rented("B2", ID_B)]  # type: ignore[union-attr]


def test_file_matching_neither_is_unreadable(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "export.csv", ["AAC002", "AAE140"], [[ID_A, "110"]])
    with pytest.raises(UnreadableFile, match=r"^export.csv: not a Housing Bureau file") as err:
        housing.BUREAU.parse(path)
    assert ID_A not in str(err.value)
    nothing = write_lines(tmp_path / "export.jsonl", ["not json"])
    with pytest.raises(UnreadableFile, match="not a Housing Bureau file"):
        housing.BUREAU.parse(nothing)


def test_name_and_header_that_disagree_are_unreadable(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "czfw_wrong.csv", BDC, [list(title(title_no(1), ID_A).values())])
    with pytest.raises(UnreadableFile, match=r"missing required column\(s\) BAH, CZRZJH, CHZRZJH, QSRQ, BAZT$"):
        housing.BUREAU.parse(path)


@pytest.mark.parametrize(
    ("header", "column", "name"),
    [(BDC, c, "bdc_cols.csv") for c in housing.TITLE_COLUMNS]
    + [(CZFW, c, "czfw_cols.csv") for c in housing.RENTAL_COLUMNS],
)
def test_missing_required_column_is_unreadable(tmp_path: Path, header: list[str], column: str, name: str) -> None:
    row = title(title_no(1), ID_A) if header is BDC else rental("B1", LANDLORD, ID_A)
    kept = [h for h in header if h != column]
    path = write_csv(tmp_path / name, kept, [[row[k] for k in kept]])
    with pytest.raises(UnreadableFile, match=f"missing required column\\(s\\) {column}$"):
        housing.BUREAU.parse(path)


def test_optional_columns_may_be_absent(tmp_path: Path) -> None:
    t, r = title(title_no(1), ID_A), rental("B1", LANDLORD, ID_A)
    a = write_csv(tmp_path / "bdc_min.csv", housing.TITLE_COLUMNS, [[t[k] for k in housing.TITLE_COLUMNS]])
    b = write_csv(tmp_path / "czfw_min.csv", housing.RENTAL_COLUMNS, [[r[k] for k in housing.RENTAL_COLUMNS]])
    assert [p.records for p in housing.BUREAU.parse(a)] == [owned(title_no(1), ID_A, address="")]  # type: ignore[union-attr]
    assert [p.records for p in housing.BUREAU.parse(b)] == [  # type: ignore[union-attr]
        rented("B1", ID_A, end=None, address="")
    ]


def test_reparsing_gives_the_same_result(tmp_path: Path) -> None:
    path, _, _ = bdc_file(tmp_path, "gb18030")
    assert list(housing.BUREAU.parse(path)) == list(housing.BUREAU.parse(path))


def test_file_globs() -> None:
    assert housing.BUREAU.file_globs == ("bdc_*", "czfw_*")
    assert Path("bdc_20240101.csv").match(housing.BUREAU.file_globs[0])
    assert Path("czfw_20240101.csv").match(housing.BUREAU.file_globs[1])


@pytest.mark.parametrize(
    ("gyrzjh", "expected"),
    [
        ("", ()),
        (" ; ；, ", ()),
        (ID_A, ()),  # only the owner himself
        (f"{ID_B}；{ID_X.lower()}", (ID_B, ID_X)),
        (f"{ID_B}，{ID_X}", (ID_B, ID_X)),  # full-width comma
        (f" {ID_X} , {ID_B} ; {ID_X} ", (ID_X, ID_B)),
        (upgrade15(LEGACY) + ";" + LEGACY, (upgrade15(LEGACY),)),  # legacy and 18-digit forms are one person
    ],
)
def test_co_owners(gyrzjh: str, expected: tuple[str, ...]) -> None:
    (t,) = housing.parse_title_row(title(title_no(1), ID_A, GYRZJH=gyrzjh))
    assert isinstance(t, PropertyTitle) and t.co_owners == tuple(IdNumber(e) for e in expected)


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"QLRZJH": ID_A[:16]}, "QLRZJH: invalid identity number"),
        ({"GYRZJH": f"{ID_B};{ID_B[:17]}"}, "GYRZJH: invalid identity number"),
        ({"GYRZJH": f"{ID_B} {ID_X}"}, "GYRZJH: invalid identity number"),  # a space is not a separator
        ({"XZQH": "330200"}, "XZQH: unknown code '330200'"),
        ({"XZQH": ""}, "XZQH: missing"),
        ({"DJSJ": "2019-13-01"}, "DJSJ: invalid date"),
        ({"BDCQZH": " \u3000 "}, "BDCQZH: missing"),
    ],
)
def test_title_field_rejects(override: dict[str, str], reason: str) -> None:
    with pytest.raises(RowError) as err:
        housing.parse_title_row(title(title_no(1), ID_A) | override)
    assert str(err.value) == reason
    for secret in (ID_A, ID_B, ID_X, "张三"):
        assert secret not in str(err.value)


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"CZRZJH": ""}, "CZRZJH: missing"),
        ({"CHZRZJH": ""}, "CHZRZJH: missing"),
        ({"CHZRZJH": LANDLORD}, "CHZRZJH: same as CZRZJH"),
        ({"ZZRQ": "20181231"}, "ZZRQ: before QSRQ"),
        ({"ZZRQ": "open"}, "ZZRQ: invalid date"),
        ({"BAZT": "Y"}, "BAZT: unknown code 'Y'"),
        ({"BAZT": "已备案"}, "BAZT: unknown code (value withheld)"),
    ],
)
def test_rental_field_rejects(override: dict[str, str], reason: str) -> None:
    with pytest.raises(RowError) as err:
        housing.parse_rental_row(rental("B1", LANDLORD, ID_A) | override)
    assert str(err.value) == reason
    assert ID_A not in str(err.value) and LANDLORD not in str(err.value)


def test_rental_ending_the_day_it_starts_is_possible() -> None:
    (r,) = housing.parse_rental_row(rental("B1", LANDLORD, ID_A, ZZRQ="2019-03-05"))
    assert isinstance(r, RentalRegistration) and r.start == r.end == D0305
