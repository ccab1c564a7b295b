"""Tests of adapters.normalising and adapters.reading: value normalisers (property-based), encoding, row streaming.

Every bureau adapter relies on these, so messy input must normalise the same way and never leak a value.
"""
from __future__ import annotations

import datetime as _dt
import enum
import logging
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import reading
from adapters.normalising import RowError, clean, code, date, district, id_number, month, optional, text
from adapters.reading import (
    BadLine,
    Parsed,
    Reject,
    UnreadableFile,
    detect_encoding,
    file_columns,
    iter_rows,
    parse_file,
)
from gateway.domain import clock
from gateway.domain.districts import DISTRICTS
from gateway.domain.records import HousingType
from tests.helpers import FULLWIDTH, make_id, make_legacy15, upgrade15, write_csv, write_jsonl, write_lines

SPACES = st.text(alphabet=" \t\u3000", max_size=3)
BIRTHS = st.dates(min_value=_dt.date(1900, 1, 1), max_value=clock.today())  # no births in the future
ANY_DATES = st.dates(min_value=_dt.date(1900, 1, 1), max_value=_dt.date(9999, 12, 31))
REGIONS = st.from_regex(r"[1-9][0-9]{5}", fullmatch=True)
SEQS = st.integers(min_value=0, max_value=999)
LINE_CHARS = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")  # NUL refuses a file


def f(value: str, name: str = "F") -> dict[str, str]:
    return {name: value}


@st.composite
def messy_forms(draw: st.DrawFn, canonical: str) -> str:
    """`canonical` as an export might write it: some characters full-width, x lower-case, spaces around."""
    chars = [c.translate(FULLWIDTH) if draw(st.booleans()) else c for c in canonical]
    out = "".join(chars)
    if draw(st.booleans()):
        out = out.replace("X", "x").replace("Ｘ", "ｘ")
    return draw(SPACES) + out + draw(SPACES)


# ---------------------------------------------------------------------------------- identity numbers


@given(region=REGIONS, birth=BIRTHS, seq=SEQS, data=st.data())
def test_any_valid_id_survives_spaces_fullwidth_and_lowercase_x(
    region: str, birth: _dt.date, seq: int, data: st.DataObject
) -> None:
    canonical = make_id(region, birth, seq)
    messy = data.draw(messy_forms(canonical))
    parsed = id_number(f(messy), "F")
    assert parsed.value == canonical
    assert parsed.birth_date == birth


@given(
    region=REGIONS,
    birth=st.dates(min_value=_dt.date(1900, 1, 1), max_value=_dt.date(1999, 12, 31)),
    seq=SEQS,
    data=st.data(),
)
def test_legacy_15_digit_numbers_become_18(
    region: str, birth: _dt.date, seq: int, data: st.DataObject
) -> None:
    legacy = make_legacy15(region, birth, seq)
    parsed = id_number(f(data.draw(messy_forms(legacy))), "F")
    assert parsed.value == upgrade15(legacy)
    assert parsed.value == legacy[:6] + "19" + legacy[6:] + parsed.value[-1]
    assert parsed.birth_date == birth


@given(region=REGIONS, birth=BIRTHS, seq=SEQS, wrong=st.sampled_from("0123456789X"))
def test_a_wrong_check_character_is_rejected_without_the_value(
    region: str, birth: _dt.date, seq: int, wrong: str
) -> None:
    valid = make_id(region, birth, seq)
    bad = valid[:-1] + wrong
    if bad == valid:
        return
    with pytest.raises(RowError) as err:
        id_number(f(bad, "GMSFHM"), "GMSFHM")
    assert err.value.field == "GMSFHM"
    assert err.value.reason == "invalid identity number"
    assert str(err.value) == "GMSFHM: invalid identity number"
    assert bad not in str(err.value) and valid[:17] not in str(err.value)


@given(st.text(max_size=30))
def test_id_number_garbage_raises_only_row_error_and_never_echoes(value: str) -> None:
    try:
        id_number(f(value), "F")
    except RowError as exc:
        assert exc.reason in ("invalid identity number", "missing")
        assert str(exc) == f"F: {exc.reason}"


def test_id_number_missing_and_optional() -> None:
    with pytest.raises(RowError) as err:
        id_number(f(" \u3000 ", "GMSFHM"), "GMSFHM")
    assert (err.value.field, err.value.reason) == ("GMSFHM", "missing")
    assert id_number(f(""), "F", required=False) is None
    assert id_number({}, "F", required=False) is None
    with pytest.raises(RowError, match="^F: missing$"):
        id_number({}, "F")


def test_field_names_are_looked_up_upper_case() -> None:
    assert id_number({"GMSFHM": make_id()}, "gmsfhm").value == make_id()


# ---------------------------------------------------------------------------------- dates and months


def _date_forms(d: _dt.date) -> list[str]:
    y, m, dd = d.year, d.month, d.day
    return [
        f"{y:04d}{m:02d}{dd:02d}",
        f"{y:04d}-{m:02d}-{dd:02d}",
        f"{y:04d}/{m}/{dd}",
        f"{y:04d}年{m}月{dd}日",
        f"{y:04d}/{m:02d}/{dd:02d}",
        f"{y:04d}-{m}-{dd}",
    ]


@given(d=ANY_DATES, pad=SPACES, fullwidth=st.booleans())
def test_every_date_format_gives_the_same_date(d: _dt.date, pad: str, fullwidth: bool) -> None:
    for form in _date_forms(d):
        written = form.translate(FULLWIDTH) if fullwidth else form
        assert date(f(pad + written + pad), "F") == d


@given(y=st.integers(min_value=1900, max_value=9999), m=st.integers(min_value=1, max_value=12), pad=SPACES)
def test_every_month_format_gives_the_same_month(y: int, m: int, pad: str) -> None:
    expected = f"{y:04d}-{m:02d}"
    for form in (f"{y}{m:02d}", f"{y}-{m:02d}", f"{y}-{m}", f"{y}/{m}", f"{y}年{m}月"):
        assert month(f(pad + form + pad), "F") == expected
        assert month(f(form.translate(FULLWIDTH)), "F") == expected


@given(st.text(max_size=20))
def test_date_and_month_garbage_raise_only_row_error(value: str) -> None:
    for parser, reason in ((date, "invalid date"), (month, "invalid month")):
        try:
            parser(f(value), "F")
        except RowError as exc:
            assert str(exc) in (f"F: {reason}", "F: missing")


def test_date_examples() -> None:
    assert date(f("2019年3月5日"), "F") == _dt.date(2019, 3, 5)
    assert date(f(""), "F", required=False) is None
    for bad in ("20190230", "2019-13-01", "5/3/2019", "yesterday", "2019030"):
        with pytest.raises(RowError, match="^F: invalid date$"):
            date(f(bad), "F")
    with pytest.raises(RowError, match="^F: missing$"):
        date(f("  "), "F")
    assert month(f("２０１９０３"), "F") == "2019-03"
    assert month(f(""), "F", required=False) is None
    for bad in ("201913", "2019-00", "20190305", "March"):
        with pytest.raises(RowError, match="^F: invalid month$"):
            month(f(bad), "F")


# ---------------------------------------------------------------------------------- text, codes, districts


@given(st.text(max_size=40))
def test_clean_is_idempotent_and_stripped(value: str) -> None:
    once = clean(value)
    assert clean(once) == once
    assert once == once.strip()
    assert "\u3000" not in once
    assert not any(0xFF10 <= ord(c) <= 0xFF5E for c in once)
    assert optional(value) == (once or None)


def test_clean_examples() -> None:
    assert clean("\u3000 张三\u3000 ") == "张三"
    assert clean("\ufeff３３０２１２ ") == "330212"
    assert clean(None) == ""
    assert optional("  ") is None
    assert text(f(" 宁波市 海曙区 "), "F") == "宁波市 海曙区"
    assert text(f(""), "F", required=False) is None
    with pytest.raises(RowError, match="^F: missing$"):
        text(f(""), "F")


class Colour(enum.StrEnum):
    RED = "R1"


def test_code_accepts_enum_mapping_and_set() -> None:
    assert code(f(" ３１ ", "ZSLX"), "ZSLX", HousingType) is HousingType.RENTAL_REGISTERED
    assert code(f("r1", "C"), "C", Colour) is Colour.RED
    assert code(f("51", "GX"), "GX", {"51": "father", "52": "mother"}) == "father"
    assert code(f("1", "BAZT"), "BAZT", {"0", "1"}) == "1"
    assert code(f("", "ZSLX"), "ZSLX", HousingType, required=False) is None
    with pytest.raises(RowError, match="^ZSLX: missing$"):
        code(f("", "ZSLX"), "ZSLX", HousingType)


def test_unknown_code_names_the_short_value_but_withholds_long_ones() -> None:
    with pytest.raises(RowError) as err:
        code(f("41", "ZSLX"), "ZSLX", HousingType)
    assert (err.value.field, err.value.reason) == ("ZSLX", "unknown code '41'")
    for leaky in (make_id(), "张三", "some free text"):
        with pytest.raises(RowError) as err:
            code(f(leaky, "ZSLX"), "ZSLX", HousingType)
        assert leaky not in str(err.value)
        assert err.value.reason == "unknown code (value withheld)"


@given(st.text(max_size=20))
def test_code_and_district_garbage_raise_only_row_error(value: str) -> None:
    for parse in (
        lambda: code(f(value), "F", HousingType),
        lambda: code(f(value), "F", {"a": 1}),
        lambda: code(f(value), "F", {"a"}),
        lambda: district(f(value), "F"),
    ):
        try:
            parse()
        except RowError as exc:
            assert exc.field == "F"


@given(code_=st.sampled_from(sorted(DISTRICTS)), pad=SPACES)
def test_every_district_code_parses(code_: str, pad: str) -> None:
    assert district(f(pad + code_.translate(FULLWIDTH) + pad), "F").code == code_


def test_legacy_district_and_unknown_district() -> None:
    assert district(f("330204", "JZD_XZQH"), "JZD_XZQH").code == "330212"
    with pytest.raises(RowError, match="^JZD_XZQH: unknown code '330100'$"):
        district(f("330100", "JZD_XZQH"), "JZD_XZQH")
    assert district(f("", "JZD_XZQH"), "JZD_XZQH", required=False) is None


# ---------------------------------------------------------------------------------- encodings


def test_detect_encoding(tmp_path: Path) -> None:
    rows = [["张三", "宁波市海曙区"], ["李四", "鄞州区"]]
    assert detect_encoding(write_csv(tmp_path / "a.csv", ["XM", "JZDZ"], rows)) == "utf-8"
    assert detect_encoding(write_csv(tmp_path / "b.csv", ["XM", "JZDZ"], rows, bom=True)) == "utf-8-sig"
    assert detect_encoding(write_csv(tmp_path / "c.csv", ["XM", "JZDZ"], rows, "gb18030")) == "gb18030"
    assert detect_encoding(write_csv(tmp_path / "d.csv", ["XM"], [["abc"]])) == "utf-8"
    assert detect_encoding(write_lines(tmp_path / "e.csv", [])) == "utf-8"


def test_utf16_and_undecodable_files_are_refused(tmp_path: Path) -> None:
    utf16 = tmp_path / "u16.csv"
    utf16.write_bytes("XM\r\n张三\r\n".encode("utf-16"))
    with pytest.raises(UnreadableFile, match="u16.csv: UTF-16"):
        detect_encoding(utf16)
    utf16be = tmp_path / "u16be.csv"
    utf16be.write_bytes("XM\r\n张三\r\n".encode("utf-16-be"))
    with pytest.raises(UnreadableFile, match="NUL"):
        detect_encoding(utf16be)
    neither = write_lines(tmp_path / "x.csv", [b"XM", b"\xff\xfe\x80", b"\x80abc\xff"])
    with pytest.raises(UnreadableFile, match="^x.csv: neither UTF-8 nor GB18030$"):
        detect_encoding(neither)
    with pytest.raises(UnreadableFile):
        list(iter_rows(neither))
    with pytest.raises(UnreadableFile):
        parse_file(neither, lambda row: ())


def test_one_bad_line_does_not_change_the_detected_encoding(tmp_path: Path) -> None:
    lines = ["XM,JZDZ", *(f"张{i},宁波市鄞州区{i}号" for i in range(5)), "李四,奉化".encode("gbk")]
    path = write_lines(tmp_path / "a.csv", lines)
    assert detect_encoding(path) == "utf-8"
    out = list(iter_rows(path))
    assert out[-1] == (7, BadLine("line is not valid UTF-8"))
    assert out[0] == (2, {"XM": "张0", "JZDZ": "宁波市鄞州区0号"})


def test_detection_reads_past_an_ascii_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "SNIFF_BYTES", 16)
    lines = ["XM,N", *(f"a{i},{i}" for i in range(20)), "张三,1"]
    assert detect_encoding(write_lines(tmp_path / "g.csv", lines, "gb18030")) == "gb18030"


# ---------------------------------------------------------------------------------- rows


def test_iter_rows_csv_keys_line_numbers_blank_lines(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "a.csv", [" gmsfhm , Xm ,", "", "1,张三,", "   ", "2,李四,x"])
    assert list(iter_rows(path)) == [(3, {"GMSFHM": "1", "XM": "张三"}), (5, {"GMSFHM": "2", "XM": "李四"})]
    assert file_columns(path) == ("GMSFHM", "XM", "")


def test_iter_rows_wrong_field_count_is_a_bad_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "a.csv", ["A,B", "1", "1,2,3", "1,2"])
    assert list(iter_rows(path)) == [
        (2, BadLine("line has 1 fields, the header has 2")),
        (3, BadLine("line has 3 fields, the header has 2")),
        (4, {"A": "1", "B": "2"}),
    ]


def test_quoted_field_may_span_lines(tmp_path: Path) -> None:
    lines = ["A,B", '1,"海曙区', '中山西路 1 号"', '2,"say ""hi"", ok"', "3,x"]
    path = write_lines(tmp_path / "a.csv", lines)
    assert list(iter_rows(path)) == [
        (2, {"A": "1", "B": "海曙区\n中山西路 1 号"}),
        (4, {"A": "2", "B": 'say "hi", ok'}),
        (5, {"A": "3", "B": "x"}),
    ]


def test_an_unterminated_quote_loses_no_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "MAX_RECORD_LINES", 3)
    lines = ["A,B", '1,"open', "2,x", "3,y", "4,z", "5,w"]
    out = list(iter_rows(write_lines(tmp_path / "a.csv", lines)))
    assert out[0] == (2, BadLine("line is not valid CSV: unterminated quoted field"))
    assert [n for n, _ in out] == [2, 3, 4, 5, 6]
    out = list(iter_rows(write_lines(tmp_path / "b.csv", ["A,B", "1,x", '2,"open', "3,y"])))
    assert [n for n, _ in out] == [2, 3, 4]
    assert isinstance(out[1][1], BadLine)


def test_a_line_too_long_is_a_bad_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "MAX_LINE_BYTES", 64)
    path = write_lines(tmp_path / "a.csv", ["A,B", "1," + "x" * 500, "2,y"])
    assert list(iter_rows(path)) == [
        (2, BadLine("line is longer than 64 bytes")),
        (3, {"A": "2", "B": "y"}),
    ]


def test_iter_rows_jsonl(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"gmsfhm": "1", "zslx": 31, "x": None, "ok": True}])
    with path.open("ab") as fh:
        fh.write(b"\r\n[1, 2]\r\nnot json\r\n{\"A\": 1, \"a\": 2}\r\n")
    assert list(iter_rows(path)) == [
        (1, {"GMSFHM": "1", "ZSLX": "31", "X": "", "OK": "true"}),
        (3, BadLine("line is not a JSON object")),
        (4, BadLine("line is not valid JSON")),
        (5, BadLine("duplicate field A")),
    ]
    assert file_columns(path) is None


def test_jsonl_is_recognised_by_first_character(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "rows.txt", ["", ' {"A": "1"}'])
    assert list(iter_rows(path)) == [(2, {"A": "1"})]


def test_header_problems_make_the_file_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="empty file"):
        list(iter_rows(write_lines(tmp_path / "empty.csv", ["", "  "])))
    with pytest.raises(UnreadableFile, match="duplicate column A$"):
        list(iter_rows(write_lines(tmp_path / "dup.csv", ["A,a", "1,2"])))
    secret = make_id()
    with pytest.raises(UnreadableFile) as err:
        list(iter_rows(write_lines(tmp_path / "noheader.csv", [f"{secret},{secret}"])))
    assert secret not in str(err.value)


def test_iter_rows_streams_in_constant_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("A,B\n")
        for i in range(30_000):
            fh.write(f"{i},{'宁波' * 60}\n")
    assert path.stat().st_size > 10_000_000
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_rows(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 30_000
    assert peak < 3_000_000


# ---------------------------------------------------------------------------------- parse_file


def _parser(row: dict[str, str]) -> tuple[()]:
    id_number(row, "ID")
    if row.get("BOOM"):
        raise ValueError(f"secret value {row['ID']}")
    return ()


def test_parse_file_turns_errors_into_rejects(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = make_id()
    path = write_csv(tmp_path / "p.csv", ["id", "boom"], [[good, ""], ["123", ""], [good, "1"], ["", ""]])
    with caplog.at_level(logging.DEBUG):
        out = list(parse_file(path, _parser, required_columns=["ID"]))
    assert out == [
        Parsed("p.csv", 2, ()),
        Reject("p.csv", 3, "ID: invalid identity number"),
        Reject("p.csv", 4, "unexpected error: ValueError"),
        Reject("p.csv", 5, "ID: missing"),
    ]
    assert good not in caplog.text and "secret" not in caplog.text
    assert "unexpected ValueError" in caplog.text


def test_parse_file_missing_required_column_is_unreadable(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", ["ID"], [[make_id()]])
    with pytest.raises(UnreadableFile, match=r"^p.csv: missing required column\(s\) BOOM, OTHER$"):
        parse_file(path, _parser, required_columns=["boom", "ID", "OTHER"])


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(LINE_CHARS, max_size=12), min_size=1, max_size=4))
def test_parse_file_never_crashes_on_garbage_lines(tmp_path: Path, values: list[str]) -> None:
    path = tmp_path / "g.csv"
    path.write_text("ID,BOOM\n" + "\n".join(values) + "\n", encoding="utf-8")
    for item in parse_file(path, _parser):
        assert isinstance(item, Parsed | Reject)


def test_a_bad_line_in_a_gb18030_file_is_named_as_such(tmp_path: Path) -> None:
    lines = ["XM,JZDZ", *(f"张{i},宁波市鄞州区{i}号".encode("gb18030") for i in range(4)), b"\xff\xfe,x"]
    path = write_lines(tmp_path / "g.csv", lines)
    assert detect_encoding(path) == "gb18030"
    out = list(iter_rows(path))
    assert out[0] == (2, {"XM": "张0", "JZDZ": "宁波市鄞州区0号"})
    assert out[-1] == (6, BadLine("line is not valid GB18030"))


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", ["ID", "BOOM"], [])
    assert list(iter_rows(path)) == []
    assert list(parse_file(path, _parser, required_columns=["ID"])) == []


def test_json_lines_have_no_header_to_check(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "j.jsonl", [{"id": make_id()}, {"other": "1"}])
    assert list(parse_file(path, _parser, required_columns=["ID", "BOOM"])) == [
        Parsed("j.jsonl", 1, ()),
        Reject("j.jsonl", 2, "ID: missing"),
    ]


def test_row_error_without_a_field() -> None:
    err = RowError(None, "row makes no sense")
    assert (err.field, err.reason, str(err)) == (None, "row makes no sense", "row makes no sense")
    assert isinstance(err, ValueError)


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match=r"^nope.csv: cannot be read \(FileNotFoundError\)$"):
        parse_file(tmp_path / "nope.csv", _parser)


def test_an_identity_number_parsed_before_is_judged_again_on_another_day() -> None:
    """id_number keeps the numbers it parsed (rows come grouped by person), but a birth date in the future is
    invalid, so what was parsed on one day of the clock is not taken as valid on an earlier one."""
    born = _dt.date(2001, 5, 2)
    number = make_id(birth=born)
    at = lambda d: clock.FixedClock(_dt.datetime.combine(d, _dt.time(12), _dt.UTC))  # noqa: E731
    try:
        clock.install(at(_dt.date(2024, 1, 1)))
        assert id_number({"AAC002": number}, "AAC002").value == number
        assert id_number({"AAC002": f" {number} "}, "AAC002").value == number  # cleaned first, then looked up
        clock.install(at(born - _dt.timedelta(days=1)))
        with pytest.raises(RowError, match="AAC002: invalid identity number"):
            id_number({"AAC002": number}, "AAC002")
        clock.install(at(born))
        assert id_number({"AAC002": number}, "AAC002").value == number
    finally:
        clock.install(None)


def test_month_gives_the_same_answer_the_second_time() -> None:
    for _ in range(2):
        assert month({"M": "201903"}, "M") == "2019-03"
        with pytest.raises(RowError, match="M: invalid month"):
            month({"M": "201913"}, "M")


@given(st.text(alphabet=',"a\n\r ', max_size=30), st.sampled_from(range(4)))
def test_scanning_a_line_at_once_is_scanning_it_character_by_character(text: str, state: int) -> None:
    """The quote state after a line: the shortcut for lines without quotes agrees with reading it one by one."""
    one_by_one = state
    for ch in text:
        one_by_one = reading._scan_quotes(ch, one_by_one)
    assert reading._scan_quotes(text, state) == one_by_one
