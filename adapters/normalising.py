"""Field normalisers for bureau rows: cleaned text, identity numbers, dates, months, codes and districts.

Each takes the row and a field name and gives the canonical value, or raises RowError naming the field (never the
value): the same fact always normalises to the same record, whichever bureau or export habit it came from.
"""
from __future__ import annotations

import datetime as _dt
import enum
import re
from collections.abc import Mapping, Set
from typing import Literal, TypeVar, overload

from gateway.domain import clock
from gateway.domain.dates import InvalidDate, parse_date, parse_month
from gateway.domain.districts import District, InvalidDistrict
from gateway.domain.idnumber import IdNumber, InvalidIdNumber, fold_width
from gateway.errors import GatewayError

E = TypeVar("E", bound=enum.Enum)
V = TypeVar("V")

INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060"  # BOM and zero-width characters exporters leave behind
_CLEANED_MAX, _CLEANED_LONGEST = 4096, 100  # values cached, and the longest cached
_CODE_SHOWN = re.compile(r"[A-Za-z0-9]{1,8}")  # a longer or non-ASCII "code" may be a misplaced value


class RowError(GatewayError, ValueError):
    """A row a bureau parser cannot use; `field` names the column (never the value), `reason` says why."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


_CLEANED: dict[str, str] = {}  # non-ASCII values already cleaned (employer names repeat row after row); bounded


def clean(value: str | None) -> str:
    """Full-width folded to half-width; surrounding spaces (ideographic too) and zero-width marks removed."""
    if value is None:
        return ""
    if value.isascii():  # nothing to fold and no invisible mark (they are all outside ASCII)
        return value.strip()
    found = _CLEANED.get(value)
    if found is None:
        found = fold_width(value).strip().strip(INVISIBLE).strip()
        if len(value) <= _CLEANED_LONGEST:  # a name, not a megabyte-long field: the cache's memory stays small
            if len(_CLEANED) >= _CLEANED_MAX:
                _CLEANED.clear()
            _CLEANED[value] = found
    return found


def optional(value: str | None) -> str | None:
    """The cleaned value, or None when it is empty."""
    return clean(value) or None


# Identity numbers already parsed (valid ones only), by their cleaned text: a bureau's rows come grouped by person
# (forty months of contributions, say), so a few thousand recent ones spare most rows the parse and the check digit.
# Bounded: emptied when full, and whenever the clock's date is not the one they were parsed on (a birth date in the
# future is invalid, so validity depends on the day; the entry under None is that day).
_PARSED: dict[str | None, IdNumber | _dt.date] = {}
_PARSED_MAX = 4096
_MONTHS: dict[str, str] = {}  # months already parsed (valid ones), by their cleaned text; bounded the same way


def _get(fields: Mapping[str, str], name: str) -> str:
    return clean(fields.get(name.upper(), ""))


def _missing(name: str, required: bool) -> None:
    if required:
        raise RowError(name, "missing")


@overload
def text(fields: Mapping[str, str], name: str, required: Literal[True] = ...) -> str: ...
@overload
def text(fields: Mapping[str, str], name: str, required: bool) -> str | None: ...
def text(fields: Mapping[str, str], name: str, required: bool = True) -> str | None:
    """A free-text value, cleaned; RowError(name, 'missing') when required and empty."""
    value = _get(fields, name)
    if not value:
        _missing(name, required)
        return None
    return value


@overload
def id_number(fields: Mapping[str, str], name: str, required: Literal[True] = ...) -> IdNumber: ...
@overload
def id_number(fields: Mapping[str, str], name: str, required: bool) -> IdNumber | None: ...
def id_number(fields: Mapping[str, str], name: str, required: bool = True) -> IdNumber | None:
    """An identity number (18 or legacy 15 chars, any width or case); the value never enters the error."""
    value = _get(fields, name)
    if not value:
        _missing(name, required)
        return None
    today = clock.today()
    if _PARSED.get(None) != today:  # parsed on another day (of the clock in force): parse afresh
        _PARSED.clear()
        _PARSED[None] = today
    found = _PARSED.get(value)
    if isinstance(found, IdNumber):
        return found
    try:
        found = IdNumber.parse(value)
    except InvalidIdNumber:
        raise RowError(name, "invalid identity number") from None
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
        _PARSED[None] = today
    _PARSED[value] = found
    return found


@overload
def date(fields: Mapping[str, str], name: str, required: Literal[True] = ...) -> _dt.date: ...
@overload
def date(fields: Mapping[str, str], name: str, required: bool) -> _dt.date | None: ...
def date(fields: Mapping[str, str], name: str, required: bool = True) -> _dt.date | None:
    """A date in any accepted format (20190305, 2019-03-05, 2019/3/5, 2019年3月5日)."""
    value = _get(fields, name)
    if not value:
        _missing(name, required)
        return None
    try:
        return parse_date(value)
    except InvalidDate:
        raise RowError(name, "invalid date") from None


@overload
def month(fields: Mapping[str, str], name: str, required: Literal[True] = ...) -> str: ...
@overload
def month(fields: Mapping[str, str], name: str, required: bool) -> str | None: ...
def month(fields: Mapping[str, str], name: str, required: bool = True) -> str | None:
    """A month (201903, 2019-03) as canonical 'YYYY-MM'."""
    value = _get(fields, name)
    if not value:
        _missing(name, required)
        return None
    found = _MONTHS.get(value)
    if found is not None:
        return found
    try:
        found = parse_month(value)
    except InvalidDate:
        raise RowError(name, "invalid month") from None
    if len(_MONTHS) >= _PARSED_MAX:
        _MONTHS.clear()
    _MONTHS[value] = found
    return found


def _unknown_code(name: str, value: str) -> RowError:
    shown = repr(value) if _CODE_SHOWN.fullmatch(value) else "(value withheld)"
    return RowError(name, f"unknown code {shown}")


# Enum members already looked up, by (enum, value as given): codes repeat on every row; bounded as _PARSED.
_MEMBERS: dict[tuple[type[enum.Enum], str], enum.Enum] = {}


def _member(allowed: type[enum.Enum], value: str) -> enum.Enum:
    found = _MEMBERS.get((allowed, value))
    if found is None:
        for candidate in dict.fromkeys((value, value.upper())):
            try:
                found = allowed(candidate)
                break
            except ValueError:
                continue
        else:
            raise KeyError("unknown code")
        if len(_MEMBERS) >= _PARSED_MAX:
            _MEMBERS.clear()
        _MEMBERS[(allowed, value)] = found
    return found


def _lookup(value: str, allowed: type[enum.Enum] | Mapping[str, object] | Set[str]) -> object:
    """The allowed entry for `value` (tried as given, then upper-case); KeyError if there is none."""
    if isinstance(allowed, type):
        return _member(allowed, value)
    for candidate in dict.fromkeys((value, value.upper())):
        if isinstance(allowed, Mapping) and candidate in allowed:
            return allowed[candidate]
        if isinstance(allowed, Set) and candidate in allowed:
            return candidate
    raise KeyError("unknown code")


@overload
def code(fields: Mapping[str, str], name: str, allowed: type[E], required: Literal[True] = ...) -> E: ...
@overload
def code(fields: Mapping[str, str], name: str, allowed: type[E], required: bool) -> E | None: ...
@overload
def code(
    fields: Mapping[str, str], name: str, allowed: Mapping[str, V], required: Literal[True] = ...
) -> V: ...
@overload
def code(fields: Mapping[str, str], name: str, allowed: Mapping[str, V], required: bool) -> V | None: ...
@overload
def code(fields: Mapping[str, str], name: str, allowed: Set[str], required: Literal[True] = ...) -> str: ...
@overload
def code(fields: Mapping[str, str], name: str, allowed: Set[str], required: bool) -> str | None: ...
def code(
    fields: Mapping[str, str],
    name: str,
    allowed: type[enum.Enum] | Mapping[str, object] | Set[str],
    required: bool = True,
) -> object:
    """A code from a closed table: an Enum member by value, a Mapping's value, or the member of a set.

    Unknown values are RowError(name, "unknown code '…'"); a value that does not look like a code
    (long, or not ASCII letters and digits) is withheld, since it may be a value from a shifted column.
    """
    value = _get(fields, name)
    if not value:
        _missing(name, required)
        return None
    try:
        return _lookup(value, allowed)
    except KeyError:
        raise _unknown_code(name, value) from None


@overload
def district(fields: Mapping[str, str], name: str, required: Literal[True] = ...) -> District: ...
@overload
def district(fields: Mapping[str, str], name: str, required: bool) -> District | None: ...
def district(fields: Mapping[str, str], name: str, required: bool = True) -> District | None:
    """A Ningbo district code; the legacy 江东 330204 becomes 鄞州 330212."""
    value = _get(fields, name)
    if not value:
        _missing(name, required)
        return None
    try:
        return District.parse(value)
    except InvalidDistrict:
        raise _unknown_code(name, value) from None
