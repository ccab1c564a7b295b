"""Housing Bureau adapter: `bdc_*` property titles (不动产登记) and `czfw_*` rental registrations (出租房屋登记).

These feed R-HOME-1 (an owned home) and R-HOME-3 (a registered rental); owners' names are never kept.
"""
from __future__ import annotations

import datetime as _dt
import re

from adapters.contract import Bureau, FileKind
from adapters.normalising import RowError, clean, code, date, district, id_number, text
from gateway.domain.idnumber import IdNumber, InvalidIdNumber
from gateway.domain.records import PropertyTitle, Record, RentalRegistration

TITLE_COLUMNS: tuple[str, ...] = ("BDCQZH", "QLRZJH", "XZQH", "DJSJ")
RENTAL_COLUMNS: tuple[str, ...] = ("BAH", "CZRZJH", "CHZRZJH", "XZQH", "QSRQ", "BAZT")
# QLRMC (owner's name) is never read into a record: the PSB is the source of names. FWZL / FWDZ (address),
# GYRZJH (co-owners) and ZZRQ (end; empty = open) are optional columns.
REGISTERED: dict[str, bool] = {"1": True, "0": False}
_CO_OWNER_SEPARATORS = re.compile(r"[;,]")  # full-width ；and ，fold to these in clean()


def _co_owners(fields: dict[str, str], owner: IdNumber) -> tuple[IdNumber, ...]:
    """GYRZJH split on ; or , (any width); empty = none. The owner and repeats are dropped, order kept."""
    found: dict[IdNumber, None] = {}
    for part in map(clean, _CO_OWNER_SEPARATORS.split(clean(fields.get("GYRZJH")))):
        if not part:
            continue
        try:
            found[IdNumber.parse(part)] = None
        except InvalidIdNumber:
            raise RowError("GYRZJH", "invalid identity number") from None
    return tuple(co for co in found if co != owner)


def parse_title_row(fields: dict[str, str]) -> tuple[Record, ...]:
    """One PropertyTitle; each co-owner's number is validated like the owner's."""
    number = text(fields, "BDCQZH")
    owner = id_number(fields, "QLRZJH")
    return (
        PropertyTitle(
            title_number=number,
            owner=owner,
            co_owners=_co_owners(fields, owner),
            address=text(fields, "FWZL", required=False) or "",
            district=district(fields, "XZQH"),
            registered_on=date(fields, "DJSJ"),
        ),
    )


def _rental_parties(fields: dict[str, str]) -> tuple[IdNumber, IdNumber]:
    landlord = id_number(fields, "CZRZJH")
    tenant = id_number(fields, "CHZRZJH")
    if tenant == landlord:
        raise RowError("CHZRZJH", "same as CZRZJH")
    return landlord, tenant


def _rental_period(fields: dict[str, str]) -> tuple[_dt.date, _dt.date | None]:
    """QSRQ start and ZZRQ end (None: open); an end before the start is impossible."""
    start = date(fields, "QSRQ")
    end = date(fields, "ZZRQ", required=False)
    if end is not None and end < start:
        raise RowError("ZZRQ", "before QSRQ")
    return start, end


def parse_rental_row(fields: dict[str, str]) -> tuple[Record, ...]:
    """One RentalRegistration; BAZT must be 1 (registered) or 0 (withdrawn), nothing else."""
    number = text(fields, "BAH")
    landlord, tenant = _rental_parties(fields)
    start, end = _rental_period(fields)
    return (
        RentalRegistration(
            registration_number=number,
            landlord=landlord,
            tenant=tenant,
            address=text(fields, "FWDZ", required=False) or "",
            district=district(fields, "XZQH"),
            start=start,
            end=end,
            registered=code(fields, "BAZT", REGISTERED),
        ),
    )


BUREAU = Bureau("housing", (
    FileKind("bdc_*", parse_title_row, TITLE_COLUMNS, marker="BDCQZH", label="property titles"),
    FileKind("czfw_*", parse_rental_row, RENTAL_COLUMNS, marker="BAH", label="rental registrations"),
), title="a Housing Bureau")
