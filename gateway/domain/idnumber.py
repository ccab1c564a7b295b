"""Citizen identity numbers per GB 11643-1999: validation, canonical form, 15→18 conversion.

Every bureau file and every request carries these; one strict type keeps bad numbers out (I-3, docs/domain.md).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from operator import mul

from gateway.domain import clock
from gateway.errors import GatewayError

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ZEROS = ord("0") * sum(_WEIGHTS)  # what the ASCII code of '0' adds to a weighted sum of 17 digits
# full-width digits/letters (U+FF10.. / U+FF21..) fold to ASCII; ideographic space to a space
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


class InvalidIdNumber(GatewayError, ValueError):
    """The text is not a valid identity number. The message never repeats the number itself."""


def fold_width(text: str) -> str:
    """Full-width ASCII variants (０-９, Ｘ, ｘ, full-width space) to their half-width forms.

    ASCII text is returned as it is without translating: nothing in it folds (every folded character is above
    U+3000), and str.translate looks each character up in the table — most of the cost of a call that checks
    a number, a purpose and two context ids."""
    return text if text.isascii() else text.translate(_FULLWIDTH)


def check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits (ValueError for anything else).

    The digits' ASCII codes are weighted in C (map over bytes) and the weighted '0's taken off again: a call
    takes about a fifth of a Python loop's time, and every call of the gateway checks one or more numbers."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("17 ASCII digits expected")
    return _CHECK[(sum(map(mul, first17.encode("ascii"), _WEIGHTS)) - _ZEROS) % 11]


def _birth(digits8: str) -> _dt.date:
    try:
        return _dt.date(int(digits8[:4]), int(digits8[4:6]), int(digits8[6:8]))
    except ValueError as exc:
        raise InvalidIdNumber("birth date part is not a real date") from exc


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A valid 18-character identity number in canonical form (upper-case, half-width).

    `str()` and `repr()` mask the number so that it cannot leak into logs or error messages by
    accident; use `.value` where the whole number is really needed.
    """

    value: str

    def __post_init__(self) -> None:
        v = self.value
        if not isinstance(v, str):
            raise InvalidIdNumber("identity number must be text")
        if len(v) != 18 or not v[:17].isascii() or not v[:17].isdigit():
            raise InvalidIdNumber("identity number must be 17 digits and a check character")
        if v[17] != check_char(v[:17]):
            raise InvalidIdNumber("identity number check character does not match")
        b = _birth(v[6:14])
        if b.year < 1900:
            raise InvalidIdNumber("birth date part is before 1900")
        if b > clock.today():  # births are Ningbo civil dates, so "the future" is Ningbo's
            raise InvalidIdNumber("birth date part is in the future")

    @classmethod
    def parse(cls, text: str) -> IdNumber:
        """Normalise messy input (spaces, full-width, lower-case x, legacy 15 digits) and validate."""
        if not isinstance(text, str):
            raise InvalidIdNumber("identity number must be text")
        t = fold_width(text).strip().upper()
        if len(t) == 15:
            if not t.isascii() or not t.isdigit():
                raise InvalidIdNumber("legacy 15-digit identity number must be all digits")
            return cls.from_legacy15(t)
        return cls(t)

    @classmethod
    def from_legacy15(cls, digits: str) -> IdNumber:
        """GB 11643 conversion: insert '19' before the two-digit year, append the check character."""
        if len(digits) != 15 or not digits.isascii() or not digits.isdigit():
            raise InvalidIdNumber("legacy identity number must be 15 digits")
        first17 = digits[:6] + "19" + digits[6:]
        return cls(first17 + check_char(first17))

    @property
    def region(self) -> str:
        return self.value[:6]

    @property
    def birth_date(self) -> _dt.date:
        return _birth(self.value[6:14])

    @property
    def sex(self) -> str:
        """GB/T 2261.1 code: '1' male (odd sequence), '2' female (even)."""
        return "1" if int(self.value[16]) % 2 else "2"

    def masked(self) -> str:
        """Region code and last four kept, the rest starred: 330203********1234."""
        return self.value[:6] + "*" * 8 + self.value[14:]

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return f"IdNumber({self.masked()!r})"
