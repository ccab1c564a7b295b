"""The PSB adapter on real `jzdj_*` files on disk: every encoding and every kind of mess the spec lists.

The PSB is the source of truth for registrations and permits, so its adapter must be exact and must not leak.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path

import pytest

from adapters import psb
from adapters.normalising import RowError
from adapters.reading import Parsed, Reject, UnreadableFile
from gateway.domain.districts import District
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import (
    Guardianship,
    HousingType,
    Permit,
    PermitState,
    Person,
    Record,
    ResidenceRegistration,
    Sex,
    TalentDesignation,
)
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

HEADER = [
    "GMSFHM", "XM", "XB", "CSRQ", "HJDZ_XZQH", "JZDZ", "JZD_XZQH", "JZDJRQ", "ZSLX",
    "JZZBH", "FZRQ", "YXQZ", "QZRQ", "JZZZT", "HKXZ", "JHRGMSFHM", "RCLB",
]  # fmt: skip
HUKOU_NATURES = ("农业", "非农业")
ADDRESS = "宁波市海曙区中山西路1号"
D91 = _dt.date(1991, 3, 3)


def row(idn: str, name: str, birth: _dt.date | str, **over: str) -> dict[str, str]:
    """A complete, valid row with a permit; keyword arguments override single fields."""
    base = {
        "GMSFHM": idn,
        "XM": name,
        "XB": "",
        "CSRQ": birth if isinstance(birth, str) else f"{birth:%Y%m%d}",
        "HJDZ_XZQH": "511302",
        "JZDZ": ADDRESS,
        "JZD_XZQH": "330203",
        "JZDJRQ": "20190305",
        "ZSLX": "31",
        "JZZBH": "NB330203201900001",
        "FZRQ": "20190905",
        "YXQZ": "20200904",
        "QZRQ": "",
        "JZZZT": "1",
        "HKXZ": "农业",
        "JHRGMSFHM": "",
        "RCLB": "",
    }
    return base | over


def values(r: dict[str, str], header: list[str] = HEADER) -> list[str]:
    return [r[k] for k in header]


def split(items: list[Parsed | Reject]) -> tuple[list[Parsed], list[Reject]]:
    return [i for i in items if isinstance(i, Parsed)], [i for i in items if isinstance(i, Reject)]


def only(parsed: Parsed, kind: type) -> list[Record]:
    return [r for r in parsed.records if isinstance(r, kind)]


def assert_no_hukou_nature(records: list[Record]) -> None:
    """I-2 (docs/domain.md): the legacy agricultural / non-agricultural hukou nature reaches no record."""
    for record in records:
        for field in dataclasses.fields(record):
            assert "hkxz" not in field.name.lower() and "nature" not in field.name.lower()
            value = getattr(record, field.name)
            if isinstance(value, str):
                assert not any(n in value for n in HUKOU_NATURES)


# ------------------------------------------------------------------------------------------ clean files

BIRTH_A = _dt.date(1990, 1, 1)
ID_A = make_id("511302", BIRTH_A, 123)


def test_clean_utf8_file(tmp_path: Path) -> None:
    child_birth = _dt.date(2012, 6, 1)
    child = make_id("511302", child_birth, 124)
    rows = [
        row(ID_A, "张三", BIRTH_A, XB="1", QZRQ="20200901", YXQZ="20210904", RCLB="YJ"),
        row(child, "张小妹", child_birth, JZZBH="", FZRQ="", YXQZ="", JZZZT="", JHRGMSFHM=ID_A, ZSLX="12"),
    ]
    path = write_csv(tmp_path / "jzdj_20240101.csv", HEADER, [values(r) for r in rows])
    out = list(psb.BUREAU.parse(path))
    assert [type(i) for i in out] == [Parsed, Parsed]
    a, c = out
    who = IdNumber(ID_A)
    assert (a.file, a.line, c.line) == ("jzdj_20240101.csv", 2, 3)
    assert a.records == (
        Person(who, "张三", Sex.MALE, BIRTH_A, "511302", TalentDesignation.INTRODUCED_TALENT),
        ResidenceRegistration(
            who, District("330203"), ADDRESS, _dt.date(2019, 3, 5), HousingType.RENTAL_REGISTERED
        ),
        Permit(
            who,
            "NB330203201900001",
            District("330203"),
            _dt.date(2019, 9, 5),
            _dt.date(2021, 9, 4),
            _dt.date(2020, 9, 1),
            PermitState.VALID,
        ),
    )
    kid = IdNumber(child)
    assert c.records == (
        Person(kid, "张小妹", Sex.FEMALE, child_birth, "511302", None),
        ResidenceRegistration(
            kid, District("330203"), ADDRESS, _dt.date(2019, 3, 5), HousingType.RELATIVE_HOME
        ),
        Guardianship(child=kid, guardian=who, relation="", source="psb"),
    )
    assert_no_hukou_nature([r for p in out for r in p.records])  # type: ignore[union-attr]


def test_utf8_with_bom_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "jzdj_bom.csv", HEADER, [values(row(ID_A, "张三", BIRTH_A))], bom=True)
    (p,) = psb.BUREAU.parse(path)
    assert isinstance(p, Parsed)
    assert only(p, Person)[0].id_number == IdNumber(ID_A)  # the BOM did not stick to the first column


def test_gb18030_file_with_chinese_names_and_addresses(tmp_path: Path) -> None:
    people = [
        ("吉𠮷祥", "宁波市鄞州区首南街道天童南路588号"),  # 𠮷 exists only in GB18030, not in GBK
        ("欧阳娜娜", "宁波市北仑区新碶街道明州路（东）12弄"),
        ("王　芳", "宁波市慈溪市浒山街道"),
    ]
    birth = _dt.date(1985, 2, 28)
    rows = [
        values(row(make_id("330226", birth, 10 + i), name, birth, JZDZ=address, JZD_XZQH="330212"))
        for i, (name, address) in enumerate(people)
    ]
    path = write_csv(tmp_path / "jzdj_gb.csv", HEADER, rows, encoding="gb18030")
    out = list(psb.BUREAU.parse(path))
    assert all(isinstance(p, Parsed) for p in out) and len(out) == 3
    got = [(only(p, Person)[0].name, only(p, ResidenceRegistration)[0].address) for p in out]  # type: ignore[arg-type]
    assert got == [  # full-width characters fold to half-width, as everywhere
        ("吉𠮷祥", people[0][1]),
        ("欧阳娜娜", "宁波市北仑区新碶街道明州路(东)12弄"),
        ("王 芳", people[2][1]),
    ]


def test_jsonl_file(tmp_path: Path) -> None:
    numeric_id = make_id_with_check("7")
    objects = [
        {k.lower(): v for k, v in row(ID_A, "张三", BIRTH_A).items()},
        {
            "gmsfhm": int(numeric_id),
            "xm": "李四",
            "xb": 2,
            "csrq": None,
            "jzd_xzqh": 330212,
            "jzdjrq": 20190305,
            "zslx": 21,
            "jzzbh": None,
            "hkxz": "非农业",
        },
        {"GMSFHM": ID_A, "XM": "张三", "ZSLX": "31", "JZDJRQ": "20190305"},
    ]
    path = write_jsonl(tmp_path / "jzdj_1.jsonl", objects)
    with path.open("ab") as fh:
        fh.write(b'["not", "an", "object"]\r\n{"GMSFHM": \r\n')
    parsed, rejects = split(list(psb.BUREAU.parse(path)))
    assert [p.line for p in parsed] == [1, 2]
    li = parsed[1]
    assert only(li, Person) == [Person(IdNumber(numeric_id), "李四", Sex.FEMALE, _dt.date(1988, 8, 8))]
    assert only(li, ResidenceRegistration)[0].district == District("330212")
    assert only(li, ResidenceRegistration)[0].housing_type is HousingType.DORMITORY
    assert only(li, Permit) == []
    assert rejects == [
        Reject("jzdj_1.jsonl", 3, "JZD_XZQH: missing"),
        Reject("jzdj_1.jsonl", 4, "line is not a JSON object"),
        Reject("jzdj_1.jsonl", 5, "line is not valid JSON"),
    ]
    assert_no_hukou_nature([r for p in parsed for r in p.records])


def test_lowercase_header_names_are_accepted(tmp_path: Path) -> None:
    header = [h.lower() if i % 2 else f" {h.title()} " for i, h in enumerate(HEADER)]
    path = write_csv(tmp_path / "jzdj_lc.csv", header, [values(row(ID_A, "张三", BIRTH_A))])
    (p,) = psb.BUREAU.parse(path)
    assert isinstance(p, Parsed) and len(p.records) == 3


# ------------------------------------------------------------------------------------------ refused files


def test_utf16_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jzdj_u16.csv"
    text = "\r\n".join([csv_line(HEADER), csv_line(values(row(ID_A, "张三", BIRTH_A)))]) + "\r\n"
    path.write_bytes(text.encode("utf-16"))
    with pytest.raises(UnreadableFile, match="jzdj_u16.csv"):
        psb.BUREAU.parse(path)


@pytest.mark.parametrize("column", psb.REQUIRED_COLUMNS)
def test_missing_required_column_is_unreadable(tmp_path: Path, column: str) -> None:
    header = [h for h in HEADER if h != column]
    path = write_csv(tmp_path / "jzdj_cols.csv", header, [values(row(ID_A, "张三", BIRTH_A), header)])
    with pytest.raises(UnreadableFile, match=f"missing required column\\(s\\) {column}$"):
        psb.BUREAU.parse(path)


def test_optional_columns_may_be_absent(tmp_path: Path) -> None:
    header = list(psb.REQUIRED_COLUMNS)
    path = write_csv(tmp_path / "jzdj_min.csv", header, [values(row(ID_A, "张三", BIRTH_A), header)])
    (p,) = psb.BUREAU.parse(path)
    assert isinstance(p, Parsed)
    assert only(p, Person) == [Person(IdNumber(ID_A), "张三", Sex.MALE, BIRTH_A)]
    assert [type(r) for r in p.records] == [Person, ResidenceRegistration]


# ------------------------------------------------------------------------------------------ the messy file

B_BIRTH = _dt.date(1992, 11, 30)
ID_B = make_id("330226", B_BIRTH, 57)
ID_X = make_id_with_check("X", "420106", _dt.date(1988, 8, 8))
ID_X2 = make_id_with_check("X", "420107", _dt.date(1979, 4, 9))
ID_F = make_id("320102", _dt.date(1995, 5, 5), 202)
LEGACY = make_legacy15("330203", _dt.date(1965, 7, 1), 45)
CHILD_BIRTH = _dt.date(2014, 9, 1)


def _id(i: int, birth: _dt.date = D91) -> str:
    return make_id("340102", birth, 300 + i)


def messy_lines() -> tuple[list[str | bytes], dict[int, str], list[str]]:
    """(lines of the file, the expected reject reason per line, every identity number and name in it)."""
    wide = ID_X.translate(FULLWIDTH)
    assert "Ｘ" in wide
    child = make_id("340102", CHILD_BIRTH, 88)
    bad_guardian = break_check(_id(9))
    rows: list[tuple[dict[str, str] | bytes | str, str | None]] = [
        (row(ID_A, "张三", BIRTH_A, XB="1", RCLB="tz"), None),  # 2 baseline
        (row(ID_A, "张三", BIRTH_A, XB="1", RCLB="tz"), None),  # 3 the same row twice
        ({k: f" \u3000{v}  " for k, v in row(ID_B, "李　四", B_BIRTH).items()}, None),  # 4 spaces everywhere
        # 5 full-width digits and Ｘ
        (row(wide, "王五", "１９８８０８０８", JZD_XZQH="３３０２０５", ZSLX="３１"), None),
        (row(ID_X2.lower(), "赵六", _dt.date(1979, 4, 9)), None),  # 6 lower-case x
        (row(_id(1), "钱七", "1991-03-03", JZDJRQ="2019-03-05", FZRQ="2019-09-05", YXQZ="2020-09-04"), None),
        (row(_id(2), "孙八", "1991/3/3", JZDJRQ="2019/3/5", FZRQ="2019/9/5", YXQZ="2020/9/4"), None),
        (
            row(_id(3), "周九", "1991年3月3日", JZDJRQ="2019年3月5日", FZRQ="2019年9月5日",
                YXQZ="2020年9月4日"),
            None,
        ),
        (  # 10 empty strings for every optional value
            row(ID_F, "吴十", "", XB="", HJDZ_XZQH="", JZDZ="", JZZBH="", FZRQ="", YXQZ="", JZZZT="",
                HKXZ=""),
            None,
        ),
        ("", None),  # 11 blank: skipped, not a row
        (row(break_check(_id(4)), "郑十一", D91), "GMSFHM: invalid identity number"),
        (row(LEGACY, "冯十二", "19650701"), None),  # 13 legacy 15 digits
        (row(_id(5), "陈十三", D91, JZD_XZQH="330204"), None),  # 14 legacy 江东
        (row(_id(6), "褚十四", D91, ZSLX="41"), "ZSLX: unknown code '41'"),
        (csv_line(values(row(_id(7), "卫十五", D91))).encode("gbk"), "line is not valid UTF-8"),
        (row(_id(8), "蒋十六", D91, JZDJRQ=""), "JZDJRQ: missing"),
        (row(_id(10), "沈十七", _dt.date(1990, 3, 3)), "CSRQ: does not match identity number"),
        (row(_id(11), "韩十八", D91, JHRGMSFHM=bad_guardian), "JHRGMSFHM: invalid identity number"),
        (row(child, "杨小九", CHILD_BIRTH, JZZBH="", JHRGMSFHM=f" {ID_B.lower()} "), None),  # 20 a guardian
        (row(_id(12), "朱十九", D91, YXQZ="20190904"), "YXQZ: before FZRQ"),
        (row(_id(13), "秦二十", D91, JZZZT=""), "JZZZT: missing"),
        (row(_id(14), "尤廿一", D91, JZD_XZQH="330100"), "JZD_XZQH: unknown code '330100'"),
        (row(_id(15), "", D91), "XM: missing"),
        (f"{_id(16)},许廿二,1", "line has 3 fields, the header has 17"),
        (row(_id(17), "何廿三", D91, XB="5"), "XB: unknown code '5'"),
        (row(_id(18), "吕廿四", D91, ZSLX=_id(18)), "ZSLX: unknown code (value withheld)"),
    ]
    lines: list[str | bytes] = [csv_line([h.lower() for h in HEADER])]
    expected: dict[int, str] = {}
    secrets: list[str] = [bad_guardian, LEGACY, upgrade15(LEGACY), wide]
    for lineno, (r, reason) in enumerate(rows, start=2):
        if isinstance(r, dict):
            lines.append(csv_line(values(r)))
            secrets += [r["GMSFHM"].strip(" \u3000"), r["XM"].strip(" \u3000"), r["JHRGMSFHM"].strip()]
        else:
            lines.append(r)
        if reason:
            expected[lineno] = reason
    secrets += [_id(i) for i in range(20)] + ["卫十五", "许廿二"]
    return lines, expected, [s for s in secrets if s]


def test_messy_file(tmp_path: Path) -> None:
    lines, expected, secrets = messy_lines()
    path = write_lines(tmp_path / "jzdj_messy.csv", lines)
    out = list(psb.BUREAU.parse(path))
    parsed, rejects = split(out)

    assert len(out) == 25  # 26 lines after the header, one of them blank
    assert len(parsed) == 12
    assert len(rejects) == 13
    assert {r.line: r.reason for r in rejects} == expected
    assert all(r.file == "jzdj_messy.csv" for r in rejects)
    assert [p.line for p in parsed] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 20]
    for reject in rejects:
        assert reject.reason.split(":")[0] in HEADER or reject.reason.startswith("line ")
        for secret in secrets:
            assert secret not in reject.reason
            assert secret.upper() not in reject.reason.upper()

    by_line = {p.line: p for p in parsed}
    # the same row twice: both parsed, identical (deciding duplicates is the importer's job)
    assert by_line[2].records == by_line[3].records
    assert only(by_line[2], Person)[0].talent is TalentDesignation.INVESTOR
    # spaces (ideographic too) around every value
    b = only(by_line[4], Person)[0]
    assert (b.id_number.value, b.name, b.birth_date, b.sex) == (ID_B, "李 四", B_BIRTH, Sex.MALE)
    assert only(by_line[4], ResidenceRegistration)[0].address == ADDRESS
    # full-width digits and Ｘ; lower-case x
    assert only(by_line[5], Person)[0].id_number.value == ID_X
    assert only(by_line[5], ResidenceRegistration)[0].district == District("330205")
    assert only(by_line[6], Person)[0].id_number.value == ID_X2
    # every date format gives the same dates
    for line in (7, 8, 9):
        reg, permit = only(by_line[line], ResidenceRegistration)[0], only(by_line[line], Permit)[0]
        assert reg.declared_on == _dt.date(2019, 3, 5)
        assert (permit.issued_on, permit.valid_until) == (_dt.date(2019, 9, 5), _dt.date(2020, 9, 4))
        assert only(by_line[line], Person)[0].birth_date == D91
    # empty optional values: sex and birth date from the number, no permit, no hukou region
    f = by_line[10].records
    assert [type(r) for r in f] == [Person, ResidenceRegistration]
    assert f[0] == Person(IdNumber(ID_F), "吴十", Sex.FEMALE, _dt.date(1995, 5, 5), None, None)
    assert f[1].address == ""  # type: ignore[union-attr]
    # legacy 15-digit number and legacy district
    assert only(by_line[13], Person)[0].id_number.value == upgrade15(LEGACY)
    assert only(by_line[13], Person)[0].birth_date == _dt.date(1965, 7, 1)
    assert only(by_line[14], ResidenceRegistration)[0].district == District("330212")
    assert only(by_line[14], Permit)[0].district == District("330212")
    # a guardian (lower-case x, spaces)
    (g,) = only(by_line[20], Guardianship)
    assert (g.guardian.value, g.relation, g.source) == (ID_B, "", "psb")

    assert_no_hukou_nature([r for p in parsed for r in p.records])


def test_hukou_nature_never_reaches_a_record() -> None:
    for nature in HUKOU_NATURES:
        records = psb.parse_row(row(ID_A, "张三", BIRTH_A, HKXZ=nature, JHRGMSFHM=ID_B))
        assert len(records) == 4
        assert_no_hukou_nature(list(records))
        assert nature not in repr(records)


def test_reimporting_gives_the_same_result(tmp_path: Path) -> None:
    lines, _, _ = messy_lines()
    path = write_lines(tmp_path / "jzdj_messy.csv", lines)
    assert list(psb.BUREAU.parse(path)) == list(psb.BUREAU.parse(path))


def test_file_glob() -> None:
    assert psb.BUREAU.file_globs == ("jzdj_*",)
    assert Path("jzdj_20240101.csv").match(psb.BUREAU.file_globs[0])


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"GMSFHM": ""}, "GMSFHM: missing"),
        ({"XB": "3"}, "XB: unknown code '3'"),
        ({"HJDZ_XZQH": "5113"}, "HJDZ_XZQH: not a 6-digit region code"),
        ({"RCLB": "XX"}, "RCLB: unknown code 'XX'"),
        ({"CSRQ": "19900230"}, "CSRQ: invalid date"),
        ({"ZSLX": ""}, "ZSLX: missing"),
        ({"FZRQ": ""}, "FZRQ: missing"),
        ({"YXQZ": "soon"}, "YXQZ: invalid date"),
        ({"QZRQ": "2020-02-30"}, "QZRQ: invalid date"),
        ({"JZZZT": "5"}, "JZZZT: unknown code '5'"),
        ({"JHRGMSFHM": ID_A}, "JHRGMSFHM: same as GMSFHM"),
    ],
)
def test_field_level_rejects(override: dict[str, str], reason: str) -> None:
    with pytest.raises(RowError) as err:
        psb.parse_row(row(ID_A, "张三", BIRTH_A) | override)
    assert str(err.value) == reason
    assert ID_A not in str(err.value) and "张三" not in str(err.value)


@pytest.mark.parametrize("xb", ["0", "9", "2"])
def test_sex_is_kept_as_recorded(xb: str) -> None:
    person = psb.parse_row(row(ID_A, "张三", BIRTH_A, XB=xb))[0]
    assert isinstance(person, Person) and person.sex == Sex(xb)


def test_permit_fields_without_a_permit_number_are_ignored() -> None:
    records = psb.parse_row(row(ID_A, "张三", BIRTH_A, JZZBH=" ", FZRQ="garbage", JZZZT="7"))
    assert [type(r) for r in records] == [Person, ResidenceRegistration]
