"""Market regulation adapter: `yyzz_*` files (营业执照) to business licences, keyed by unified social credit code.

R-EMP-2 asks for a business licence issued in the city; the credit code's check character keeps typos out.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping

from adapters.contract import Bureau, FileKind
from adapters.normalising import RowError, clean, code, date, id_number, text
from gateway.domain.records import BusinessLicence, LicenceKind, Record
from gateway.errors import GatewayError

REQUIRED_COLUMNS: tuple[str, ...] = ("TYSHXYDM", "FDDBRZJH", "DJRQ", "LX")  # ZXRQ is optional

# GB 32100-2015: 31 characters (no I, O, Z, S, V); weight of position i (from 0) is 3**i mod 31.
CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(17))  # 1 3 9 27 19 26 16 17 20 29 25 13 8 ...
_CREDIT_VALUE = {ch: i for i, ch in enumerate(CREDIT_CHARSET)}


class InvalidCreditCode(GatewayError, ValueError):
    """Not a unified social credit code. The message never repeats the code."""


def credit_check_char(first17: str) -> str:
    """The GB 32100-2015 check character of the first 17 characters (already canonical)."""
    total = sum(_CREDIT_VALUE[ch] * w for ch, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_CHARSET[(31 - total % 31) % 31]


def parse_credit_code(value: str) -> str:
    """Canonical (half-width, upper-case) credit code; InvalidCreditCode for a wrong shape or check character."""
    code_ = clean(value).upper()
    if len(code_) != 18:
        raise InvalidCreditCode("must be 18 characters")
    if any(ch not in _CREDIT_VALUE for ch in code_):
        raise InvalidCreditCode("must be digits and upper-case letters other than I, O, Z, S, V")
    if code_[17] != credit_check_char(code_[:17]):
        raise InvalidCreditCode("check character does not match")
    return code_


def _credit_code(fields: Mapping[str, str]) -> str:
    try:
        return parse_credit_code(text(fields, "TYSHXYDM"))
    except InvalidCreditCode as exc:
        raise RowError("TYSHXYDM", f"invalid unified social credit code ({exc})") from None


def _deregistered_on(fields: Mapping[str, str], registered_on: _dt.date) -> _dt.date | None:
    """ZXRQ, or None while the business is active; a deregistration before registration is an error."""
    deregistered_on = date(fields, "ZXRQ", required=False)
    if deregistered_on is not None and deregistered_on < registered_on:
        raise RowError("ZXRQ", "before DJRQ")
    return deregistered_on


def parse_row(fields: dict[str, str]) -> tuple[Record, ...]:
    """One BusinessLicence per row."""
    credit_code = _credit_code(fields)
    representative = id_number(fields, "FDDBRZJH")
    registered_on = date(fields, "DJRQ")
    return (
        BusinessLicence(
            credit_code=credit_code,
            representative=representative,
            kind=code(fields, "LX", LicenceKind),
            registered_on=registered_on,
            deregistered_on=_deregistered_on(fields, registered_on),
        ),
    )


BUREAU = Bureau("market", (FileKind("yyzz_*", parse_row, REQUIRED_COLUMNS),))
