"""Ningbo's administrative districts (GB/T 2260, after the 2016 redistricting).

Legacy records may carry 江东 330204, merged into 鄞州 330212 in 2016 (docs/domain.md).
"""
from __future__ import annotations

from dataclasses import dataclass

from gateway.domain.idnumber import fold_width
from gateway.errors import GatewayError

DISTRICTS: dict[str, str] = {
    "330203": "海曙",
    "330205": "江北",
    "330206": "北仑",
    "330211": "镇海",
    "330212": "鄞州",
    "330213": "奉化",
    "330225": "象山",
    "330226": "宁海",
    "330281": "余姚",
    "330282": "慈溪",
}
LEGACY: dict[str, str] = {"330204": "330212"}


class InvalidDistrict(GatewayError, ValueError):
    """Not one of Ningbo's district codes."""


@dataclass(frozen=True, slots=True)
class District:
    code: str

    def __post_init__(self) -> None:
        if self.code not in DISTRICTS:
            shown = self.code if isinstance(self.code, str) and len(self.code) == 6 and self.code.isdigit() else "…"
            raise InvalidDistrict(f"not a Ningbo district code: {shown}")

    @classmethod
    def parse(cls, text: str) -> District:
        """Accept a current or legacy code (330204 → 330212); anything else is an error."""
        if not isinstance(text, str):
            raise InvalidDistrict("a district code must be text")
        t = fold_width(text).strip()
        return cls(LEGACY.get(t, t))

    @property
    def name(self) -> str:
        return DISTRICTS[self.code]

    def __str__(self) -> str:
        return self.code
