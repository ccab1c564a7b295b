"""Dates and months in every format the bureaus write: compact, ISO, slashes, Chinese, full-width.

One parser serves all adapters, so a format it misreads would corrupt every bureau's data alike.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.dates import InvalidDate, month_index, parse_date, parse_month

MARCH_5 = dt.date(2019, 3, 5)

DATE_FORMATS: dict[str, Callable[[dt.date], str]] = {
    "compact": lambda d: f"{d.year:04d}{d.month:02d}{d.day:02d}",
    "iso": lambda d: d.isoformat(),
    "slash": lambda d: f"{d.year}/{d.month}/{d.day}",
    "slash-padded": lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    "dash-unpadded": lambda d: f"{d.year}-{d.month}-{d.day}",
    "dot": lambda d: f"{d.year}.{d.month}.{d.day}",
    "chinese": lambda d: f"{d.year}年{d.month}月{d.day}日",
    "chinese-padded": lambda d: f"{d.year}年{d.month:02d}月{d.day:02d}日",
}
MONTH_FORMATS: dict[str, Callable[[int, int], str]] = {
    "compact": lambda y, m: f"{y:04d}{m:02d}",
    "iso": lambda y, m: f"{y:04d}-{m:02d}",
    "unpadded": lambda y, m: f"{y}-{m}",
    "slash": lambda y, m: f"{y}/{m}",
    "chinese": lambda y, m: f"{y}年{m}月",
}


def full_width(text: str) -> str:
    """Digits and ASCII punctuation to their full-width forms; CJK characters stay."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize("text", [
    "20190305", "2019-03-05", "2019/3/5", "2019/03/05", "2019-3-5", "2019.3.5", "2019年3月5日",
    "２０１９０３０５", "２０１９－０３－０５", "２０１９年３月５日", " 2019-03-05 ", "\u30002019/3/5\u3000",
])
def test_dates_in_all_formats(text: str) -> None:
    assert parse_date(text) == MARCH_5


@pytest.mark.parametrize("text", [
    "20190230", "2019-02-30", "2019-13-01", "2019/0/5", "2019年2月29日", "19000229",
    "2019-03", "201903", "190305", "2019-03-05T00:00", "05/03/2019", "", "  ", "yesterday", "2019 03 05",
])
def test_invalid_dates_raise(text: str) -> None:
    with pytest.raises(InvalidDate):
        parse_date(text)


def test_leap_days() -> None:
    assert parse_date("20200229") == dt.date(2020, 2, 29)
    assert parse_date("2000-02-29") == dt.date(2000, 2, 29)


@pytest.mark.parametrize("text", [
    "201903", "2019-03", "2019-3", "2019/3", "2019年3月", "２０１９０３", "２０１９年３月", " 2019-03 ",
])
def test_months_in_all_formats(text: str) -> None:
    assert parse_month(text) == "2019-03"


@pytest.mark.parametrize("text", [
    "2019-13", "201913", "201900", "2019-0", "189912", "20190305", "2019", "", "March",
])
def test_invalid_months_raise(text: str) -> None:
    with pytest.raises(InvalidDate):
        parse_month(text)


def test_invalid_date_is_a_value_error() -> None:
    assert issubclass(InvalidDate, ValueError)


@given(st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)), st.sampled_from(sorted(DATE_FORMATS)),
       st.booleans())
def test_any_date_in_any_format_parses_back(day: dt.date, fmt: str, wide: bool) -> None:
    text = DATE_FORMATS[fmt](day)
    assert parse_date(full_width(text) if wide else text) == day


@given(st.integers(1900, 2100), st.integers(1, 12), st.sampled_from(sorted(MONTH_FORMATS)), st.booleans())
def test_any_month_in_any_format_parses_back(year: int, month: int, fmt: str, wide: bool) -> None:
    text = MONTH_FORMATS[fmt](year, month)
    assert parse_month(full_width(text) if wide else text) == f"{year:04d}-{month:02d}"


@given(st.integers(1900, 2100), st.integers(1, 12))
def test_month_index_counts_consecutive_months(year: int, month: int) -> None:
    this = f"{year:04d}-{month:02d}"
    nxt = f"{year + month // 12:04d}-{month % 12 + 1:02d}"
    assert month_index(nxt) - month_index(this) == 1
