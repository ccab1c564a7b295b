"""Agriculture adapter: `tdcb_*` files (土地承包 / 养殖) to land-transfer and aquaculture contracts.

R-EMP-3 counts such a contract in the city, operated for twelve months; the dates must therefore be sound.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping

from adapters.contract import Bureau, FileKind
from adapters.normalising import RowError, code, date, id_number, text
from gateway.domain.records import LandContract, LandContractKind, Record

REQUIRED_COLUMNS: tuple[str, ...] = ("HTBH", "CBFZJH", "LX", "QSRQ")  # ZZRQ is optional


def _end(fields: Mapping[str, str], start: _dt.date) -> _dt.date | None:
    """ZZRQ, or None for an open contract; an end before the start is an error."""
    end = date(fields, "ZZRQ", required=False)
    if end is not None and end < start:
        raise RowError("ZZRQ", "before QSRQ")
    return end


def parse_row(fields: dict[str, str]) -> tuple[Record, ...]:
    """One LandContract per row."""
    contract_number = text(fields, "HTBH")
    contractor = id_number(fields, "CBFZJH")
    start = date(fields, "QSRQ")
    return (
        LandContract(
            contract_number=contract_number,
            contractor=contractor,
            kind=code(fields, "LX", LandContractKind),
            start=start,
            end=_end(fields, start),
        ),
    )


BUREAU = Bureau("agri", (FileKind("tdcb_*", parse_row, REQUIRED_COLUMNS),))
