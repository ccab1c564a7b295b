"""The education adapter on real `xj_*` files on disk: enrolments and the guardians the school system recorded.

R-STUDY and CheckEnrollment read these; a student number must belong to its child, and names never leave the file.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path

import pytest

from adapters import education
from adapters.normalising import RowError
from adapters.reading import Parsed, Reject, UnreadableFile
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import Enrolment, EnrolmentStatus, Guardianship, Record, SchoolStage
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

HEADER = ["XJH", "XM", "SFZJH", "XXDM", "XXMC", "XD", "RXNY", "XJZT", "JHR1SFZJH", "JHR1GX", "JHR2SFZJH", "JHR2GX"]
SCHOOL = "2133020301"
SCHOOL_NAME = "宁波市海曙区中山小学"
KID_BIRTH = _dt.date(2012, 6, 1)
FATHER = make_id("511302", _dt.date(1984, 3, 3), 13)
MOTHER = make_id("511302", _dt.date(1986, 7, 7), 22)
GRANDMA = make_id_with_check("X", "511302", _dt.date(1958, 9, 9))
LEGACY_FATHER = make_legacy15("330226", _dt.date(1968, 4, 4), 19)
LEGACY_STUDENT = make_legacy15("330203", _dt.date(1999, 1, 2), 37)  # a university student with a legacy number


def kid(i: int, birth: _dt.date = KID_BIRTH) -> str:
    return make_id("511302", birth, 400 + i)


KID_X = make_id_with_check("X", "511302", _dt.date(2013, 2, 2))
KID_X2 = make_id_with_check("X", "511303", _dt.date(2011, 11, 11))


def row(child: str, name: str = "张小明", **over: str) -> dict[str, str]:
    """A complete, valid row with both parents; keyword arguments override single fields."""
    base = {
        "XJH": "G" + child,
        "XM": name,
        "SFZJH": child,
        "XXDM": SCHOOL,
        "XXMC": SCHOOL_NAME,
        "XD": "XX",
        "RXNY": "201809",
        "XJZT": "01",
        "JHR1SFZJH": FATHER,
        "JHR1GX": "51",
        "JHR2SFZJH": MOTHER,
        "JHR2GX": "52",
    }
    return base | over


def values(r: dict[str, str], header: list[str] = HEADER) -> list[str]:
    return [r[k] for k in header]


def split(items: list[Parsed | Reject]) -> tuple[list[Parsed], list[Reject]]:
    return [i for i in items if isinstance(i, Parsed)], [i for i in items if isinstance(i, Reject)]


def enrolment(parsed: Parsed) -> Enrolment:
    (record,) = [r for r in parsed.records if isinstance(r, Enrolment)]
    return record


def guardians(parsed: Parsed) -> list[tuple[str, str, str]]:
    """(guardian, relation, source) of each Guardianship, checking it is about the enrolled child."""
    child = enrolment(parsed).id_number
    found = [r for r in parsed.records if isinstance(r, Guardianship)]
    assert all(g.child == child for g in found)
    return [(g.guardian.value, g.relation, g.source) for g in found]


def assert_no_names(records: list[Record], names: list[str]) -> None:
    """XM is not stored: the PSB is the source of names."""
    for record in records:
        for field in dataclasses.fields(record):
            value = getattr(record, field.name)
            assert not (isinstance(value, str) and any(n and n in value for n in names))


def enrolled(child: str, **over: object) -> Enrolment:
    base = {
        "id_number": IdNumber(child),
        "student_number": "G" + child,
        "school_code": SCHOOL,
        "school_name": SCHOOL_NAME,
        "stage": SchoolStage.PRIMARY,
        "enrolled_month": "2018-09",
        "status": EnrolmentStatus.ENROLLED,
    }
    return Enrolment(**(base | over))  # type: ignore[arg-type]


PARENTS = [(FATHER, "51", "education"), (MOTHER, "52", "education")]

# ------------------------------------------------------------------------------------------ clean files


def test_clean_utf8_file(tmp_path: Path) -> None:
    rows = [row(kid(1)), row(kid(2), "李小红", JHR2SFZJH="", JHR2GX="", JHR1SFZJH=GRANDMA, JHR1GX="59", XJZT="04")]
    path = write_csv(tmp_path / "xj_20240101.csv", HEADER, [values(r) for r in rows])
    out = list(education.BUREAU.parse(path))
    assert [(type(p), p.file, p.line) for p in out] == [(Parsed, "xj_20240101.csv", 2), (Parsed, "xj_20240101.csv", 3)]
    a, b = out
    assert isinstance(a, Parsed) and isinstance(b, Parsed)
    child = IdNumber(kid(1))
    assert a.records == (
        enrolled(kid(1)),
        Guardianship(child=child, guardian=IdNumber(FATHER), relation="51", source="education"),
        Guardianship(child=child, guardian=IdNumber(MOTHER), relation="52", source="education"),
    )
    assert b.records == (
        enrolled(kid(2), status=EnrolmentStatus.GRADUATED),
        Guardianship(child=IdNumber(kid(2)), guardian=IdNumber(GRANDMA), relation="59", source="education"),
    )
    assert_no_names([r for p in (a, b) for r in p.records], ["张小明", "李小红"])


def test_jsonl_file(tmp_path: Path) -> None:
    objects = [
        {k.lower(): v for k, v in row(kid(1)).items()},
        {"XJH": "G" + kid(2), "SFZJH": kid(2), "XXDM": int(SCHOOL), "XD": "CZ", "RXNY": 202109, "XJZT": 2,
         "JHR1SFZJH": MOTHER, "JHR1GX": 52, "JHR2SFZJH": None},
        {"XJH": "G" + kid(3), "SFZJH": kid(3), "XXDM": SCHOOL, "XD": "XX", "RXNY": "201809"},
    ]  # fmt: skip
    path = write_jsonl(tmp_path / "xj_1.jsonl", objects)
    parsed, rejects = split(list(education.BUREAU.parse(path)))
    assert [p.line for p in parsed] == [1, 2]
    assert guardians(parsed[0]) == PARENTS
    assert enrolment(parsed[1]) == enrolled(kid(2), school_name="", stage=SchoolStage.JUNIOR_SECONDARY,
                                            enrolled_month="2021-09", status=EnrolmentStatus.SUSPENDED)
    assert guardians(parsed[1]) == [(MOTHER, "52", "education")]
    assert rejects == [Reject("xj_1.jsonl", 3, "XJZT: missing")]


def test_lowercase_header_names_are_accepted(tmp_path: Path) -> None:
    header = [h.lower() if i % 2 else f" {h.title()} " for i, h in enumerate(HEADER)]
    path = write_csv(tmp_path / "xj_lc.csv", header, [values(row(kid(1)))])
    (p,) = education.BUREAU.parse(path)
    assert isinstance(p, Parsed) and len(p.records) == 3


@pytest.mark.parametrize("column", education.REQUIRED_COLUMNS)
def test_missing_required_column_is_unreadable(tmp_path: Path, column: str) -> None:
    header = [h for h in HEADER if h != column]
    path = write_csv(tmp_path / "xj_cols.csv", header, [values(row(kid(1)), header)])
    with pytest.raises(UnreadableFile, match=f"missing required column\\(s\\) {column}$"):
        education.BUREAU.parse(path)


def test_name_school_name_and_guardian_columns_may_be_absent(tmp_path: Path) -> None:
    header = list(education.REQUIRED_COLUMNS)
    path = write_csv(tmp_path / "xj_min.csv", header, [values(row(kid(1)), header)])
    (p,) = education.BUREAU.parse(path)
    assert isinstance(p, Parsed) and p.records == (enrolled(kid(1), school_name=""),)


# ------------------------------------------------------------------------------------------ the messy file


def wide(value: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value)


def undecodable(line: str, encoding: str) -> bytes:
    """A line the file's own codec cannot read: GBK bytes in a UTF-8 file, a stray 0xFF in a GB18030 one."""
    return line.encode("gbk") if encoding == "utf-8" else line.encode("gb18030") + b"\xff"


def messy_lines(encoding: str) -> tuple[list[str | bytes], dict[int, str], list[str], list[str]]:
    """(lines of the file, expected reject reason per line, every identity number in it, every name in it)."""
    wide_x = KID_X.translate(FULLWIDTH)
    assert "Ｘ" in wide_x
    no_guardians = {"JHR1SFZJH": "", "JHR1GX": "", "JHR2SFZJH": "", "JHR2GX": ""}
    rows: list[tuple[dict[str, str] | bytes | str, str | None]] = [
        (row(kid(1), "张小明"), None),  # 2 baseline, both parents
        (row(kid(1), "张小明"), None),  # 3 the same row twice
        ({k: f" \u3000{v}  " for k, v in row(kid(2), "李　小红").items()}, None),  # 4 spaces everywhere
        (row(kid(3), "王小五", XJH=wide("G" + KID_X), SFZJH=wide_x, XXDM=wide(SCHOOL), RXNY="２０１９０９",
             XJZT="０１", JHR1SFZJH=wide(GRANDMA), JHR1GX="５９", JHR2SFZJH="", JHR2GX=""), None),
        (row(KID_X2, "赵小六", XJH="g" + KID_X2.lower(), SFZJH=KID_X2.lower(), XD="cz"), None),  # 6 lower case
        (row(kid(4), "钱小七", RXNY="2019-03"), None),  # 7 month as YYYY-MM
        (row(kid(5), "孙小八", RXNY="2019年3月", XJZT="1"), None),  # 8 leading zero lost by a spreadsheet
        (row(kid(6), "", XXMC="", **no_guardians), None),  # 9 empty strings for every optional value
        ("", None),  # 10 blank: skipped, not a row
        (row(break_check(kid(7)), "周小九"), "SFZJH: invalid identity number"),
        (row(kid(8), "吴小十", JHR1SFZJH=LEGACY_FATHER), None),  # 12 legacy 15-digit guardian
        (row(LEGACY_STUDENT, "郑大一", XJH="G" + upgrade15(LEGACY_STUDENT), XD="GX", RXNY="201709",
             **no_guardians), None),  # 13 legacy 15-digit student
        (row(kid(9), "冯小二", XD="YEY"), "XD: unknown code 'YEY'"),
        (row(kid(10), "陈小三", JHR1GX="53"), "JHR1GX: unknown code '53'"),
        (undecodable(csv_line(values(row(kid(11), "褚小四"))), encoding),
         f"line is not valid {'UTF-8' if encoding == 'utf-8' else 'GB18030'}"),
        (row(kid(12), "卫小五", XJH="G" + kid(13)), "XJH: does not match SFZJH"),
        (row(kid(14), "蒋小六", XJH="L" + kid(14)), "XJH: not G followed by a valid identity number"),
        (row(kid(15), "沈小七", JHR1SFZJH=kid(15)), "JHR1SFZJH: same as SFZJH"),
        (row(kid(16), "韩小八", JHR2GX=""), "JHR2GX: missing"),
        (row(kid(17), "杨小九", XXDM="213302030"), "XXDM: not a 10-digit school code"),
        (row(kid(18), "朱小十", RXNY="201913"), "RXNY: invalid month"),
        (row(kid(19), "秦小一", XJZT="05"), "XJZT: unknown code '05'"),
        (row(kid(20), "尤小二", XJZT="1"), None),  # 24 leading zero lost: still 01
        (row(kid(21), "许小三", JHR2SFZJH=FATHER, JHR2GX="59"), "JHR2SFZJH: same as JHR1SFZJH"),
        (row(kid(22), "何小四", JHR2SFZJH=break_check(MOTHER)), "JHR2SFZJH: invalid identity number"),
        (row(kid(23), "吕小五", JHR2SFZJH="", JHR2GX="99"), None),  # 27 a relation without a guardian: not read
        (f"G{kid(24)},施小六,{kid(24)}", "line has 3 fields, the header has 12"),
        (row(kid(25), "", XJH=" G" + kid(25) + " "), None),  # 29 no name at all: never read anyway
    ]  # fmt: skip
    lines: list[str | bytes] = [csv_line([h.lower() for h in HEADER])]
    expected: dict[int, str] = {}
    secrets = [FATHER, MOTHER, GRANDMA, LEGACY_FATHER, upgrade15(LEGACY_FATHER), LEGACY_STUDENT, KID_X, KID_X2]
    secrets += [wide_x, break_check(kid(7)), break_check(MOTHER)] + [kid(i) for i in range(30)]
    names = ["褚小四", "施小六"]
    for lineno, (r, reason) in enumerate(rows, start=2):
        if isinstance(r, dict):
            lines.append(csv_line(values(r)))
            secrets += [r["SFZJH"].strip(" \u3000"), r["XJH"].strip(" \u3000")]
            names.append(r["XM"].strip(" \u3000"))
        else:
            lines.append(r)
        if reason:
            expected[lineno] = reason
    return lines, expected, [s for s in secrets if s], [n for n in names if n]


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_messy_file(tmp_path: Path, encoding: str) -> None:
    lines, expected, secrets, names = messy_lines(encoding)
    path = write_lines(tmp_path / "xj_messy.csv", lines, encoding=encoding)
    out = list(education.BUREAU.parse(path))
    parsed, rejects = split(out)

    assert len(out) == 27  # 28 lines after the header, one of them blank
    assert len(parsed) == 13
    assert len(rejects) == 14
    assert {r.line: r.reason for r in rejects} == expected
    assert all(r.file == "xj_messy.csv" for r in out)
    assert [p.line for p in parsed] == [2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 24, 27, 29]
    for reject in rejects:
        assert reject.reason.split(":")[0] in HEADER or reject.reason.startswith("line ")
        for secret in [*secrets, *names]:
            assert secret.upper() not in reject.reason.upper()

    by_line = {p.line: p for p in parsed}
    # the same row twice: both parsed, identical (deciding duplicates is the importer's job)
    assert by_line[2].records == by_line[3].records
    assert enrolment(by_line[2]) == enrolled(kid(1))
    assert guardians(by_line[2]) == PARENTS
    # spaces (ideographic too) around every value
    assert enrolment(by_line[4]) == enrolled(kid(2))
    assert guardians(by_line[4]) == PARENTS
    # full-width digits, letters and Ｘ; lower-case g, x and stage
    assert enrolment(by_line[5]) == enrolled(KID_X, enrolled_month="2019-09")
    assert guardians(by_line[5]) == [(GRANDMA, "59", "education")]
    assert enrolment(by_line[6]) == enrolled(KID_X2, stage=SchoolStage.JUNIOR_SECONDARY)
    # every month format gives the same month; a lost leading zero is restored
    assert enrolment(by_line[7]).enrolled_month == enrolment(by_line[8]).enrolled_month == "2019-03"
    assert enrolment(by_line[8]).status is enrolment(by_line[24]).status is EnrolmentStatus.ENROLLED
    # empty optional values: no school name, no guardians
    assert by_line[9].records == (enrolled(kid(6), school_name=""),)
    # legacy 15-digit numbers, for a guardian and for a student
    assert guardians(by_line[12]) == [(upgrade15(LEGACY_FATHER), "51", "education"), (MOTHER, "52", "education")]
    assert by_line[13].records == (
        enrolled(upgrade15(LEGACY_STUDENT), stage=SchoolStage.HIGHER, enrolled_month="2017-09"),
    )
    assert guardians(by_line[27]) == [(FATHER, "51", "education")]
    assert enrolment(by_line[29]).student_number == "G" + kid(25)

    assert_no_names([r for p in parsed for r in p.records], names)


def test_reimporting_gives_the_same_result(tmp_path: Path) -> None:
    lines, *_ = messy_lines("gb18030")
    path = write_lines(tmp_path / "xj_messy.csv", lines, encoding="gb18030")
    assert list(education.BUREAU.parse(path)) == list(education.BUREAU.parse(path))


def test_file_globs() -> None:
    assert education.BUREAU.file_globs == ("xj_*",)
    assert Path("xj_20240101.csv").match(education.BUREAU.file_globs[0])


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"XJH": ""}, "XJH: missing"),
        ({"XJH": "G"}, "XJH: not G followed by a valid identity number"),
        ({"XJH": "G" + break_check(kid(1))}, "XJH: not G followed by a valid identity number"),
        ({"SFZJH": ""}, "SFZJH: missing"),
        ({"XXDM": ""}, "XXDM: missing"),
        ({"XXDM": "21330203O1"}, "XXDM: not a 10-digit school code"),
        ({"XD": ""}, "XD: missing"),
        ({"RXNY": ""}, "RXNY: missing"),
        ({"RXNY": "2018-09-01"}, "RXNY: invalid month"),
        ({"XJZT": "00"}, "XJZT: unknown code '00'"),
        ({"JHR1GX": ""}, "JHR1GX: missing"),
        ({"JHR1GX": "父亲"}, "JHR1GX: unknown code (value withheld)"),
        ({"JHR2SFZJH": kid(1)}, "JHR2SFZJH: same as SFZJH"),
        ({"JHR2SFZJH": FATHER, "JHR2GX": "51"}, "JHR2SFZJH: same as JHR1SFZJH"),
    ],
)
def test_field_level_rejects(override: dict[str, str], reason: str) -> None:
    with pytest.raises(RowError) as err:
        education.parse_row(row(kid(1)) | override)
    assert str(err.value) == reason
    for secret in (kid(1), FATHER, MOTHER, "张小明"):
        assert secret not in str(err.value)


def test_second_guardian_alone_is_kept() -> None:
    records = education.parse_row(row(kid(1), JHR1SFZJH="", JHR1GX=""))
    assert records[1:] == (Guardianship(IdNumber(kid(1)), IdNumber(MOTHER), "52", "education"),)
