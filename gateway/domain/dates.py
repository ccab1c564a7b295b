"""Dates and months as bureaus write them: 20190305, 2019-03-05, 2019/3/5, 2019年3月5日; 201903, 2019-03.

One parser for every adapter, so that a date means the same thing whichever bureau sent it.
"""
from __future__ import annotations

import datetime as _dt
import re

from gateway.domain.idnumber import fold_width
from gateway.errors import GatewayError


class InvalidDate(GatewayError, ValueError):
    """Text that is not a date (or month) in any accepted format."""


_DATE_RES = (
    re.compile(r"^([0-9]{4})([0-9]{2})([0-9]{2})$"),
    re.compile(r"^([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})$"),
    re.compile(r"^([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日$"),
)
_MONTH_RES = (
    re.compile(r"^([0-9]{4})([0-9]{2})$"),
    re.compile(r"^([0-9]{4})[-/.]([0-9]{1,2})$"),
    re.compile(r"^([0-9]{4})年([0-9]{1,2})月$"),
)


def parse_date(text: str) -> _dt.date:
    """Messages never repeat the input: a misplaced identity number must not reach a log."""
    if not isinstance(text, str):
        raise InvalidDate("a date must be text")
    t = fold_width(text).strip()
    for rx in _DATE_RES:
        m = rx.match(t)
        if m:
            try:
                d = _dt.date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError as exc:
                raise InvalidDate("not a real date") from exc
            if d.year < 1900:
                raise InvalidDate("date before 1900")
            return d
    raise InvalidDate("not a date in an accepted format (YYYYMMDD, YYYY-MM-DD, YYYY/M/D, YYYY年M月D日)")


def parse_month(text: str) -> str:
    """Return the month as canonical 'YYYY-MM'."""
    if not isinstance(text, str):
        raise InvalidDate("a month must be text")
    t = fold_width(text).strip()
    for rx in _MONTH_RES:
        m = rx.match(t)
        if m:
            y, mo = int(m[1]), int(m[2])
            if 1 <= mo <= 12 and y >= 1900:
                return f"{y:04d}-{mo:02d}"
            raise InvalidDate("not a real month")
    raise InvalidDate("not a month in an accepted format (YYYYMM, YYYY-MM)")


def month_index(month: str) -> int:
    """'YYYY-MM' → a running month number, for counting consecutive months."""
    return int(month[:4]) * 12 + int(month[5:7]) - 1
