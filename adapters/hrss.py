"""Human Resources and Social Security adapter: `sbjf_*` contributions and `ldht_*` labour contracts.

These feed R-EMP-1 and R-SI, so insurance type, months and kind (back-payment!) are kept exactly, never guessed.
"""
from __future__ import annotations

import datetime as _dt

from adapters.contract import Bureau, FileKind
from adapters.normalising import RowError, code, date, id_number, month, text
from gateway.domain.records import Contribution, ContributionKind, InsuranceType, LabourContract, Record

CONTRIBUTION_COLUMNS: tuple[str, ...] = ("AAC002", "AAB001", "AAE140", "AAE002", "AAE003", "AAA115")
CONTRACT_COLUMNS: tuple[str, ...] = ("AAC002", "AAB001", "AAE030", "JYDJ")
# AAC003 (name) is never read into a record: the PSB is the source of names. AAB004 (employer name) and
# AAE031 (end date; empty = open-ended) are optional columns.
EMPLOYMENT_REGISTERED: dict[str, bool] = {"1": True, "0": False}


def parse_contribution_row(fields: dict[str, str]) -> tuple[Record, ...]:
    """One Contribution; month order is not checked (prepayments and back-payments are both real)."""
    return (
        Contribution(
            id_number=id_number(fields, "AAC002"),
            employer_code=text(fields, "AAB001"),
            employer_name=text(fields, "AAB004", required=False) or "",
            insurance=code(fields, "AAE140", InsuranceType),
            month_for=month(fields, "AAE002"),
            month_paid=month(fields, "AAE003"),
            kind=code(fields, "AAA115", ContributionKind),
        ),
    )


def _contract_period(fields: dict[str, str]) -> tuple[_dt.date, _dt.date | None]:
    """AAE030 start and AAE031 end (None: open-ended); an end before the start is impossible."""
    start = date(fields, "AAE030")
    end = date(fields, "AAE031", required=False)
    if end is not None and end < start:
        raise RowError("AAE031", "before AAE030")
    return start, end


def parse_contract_row(fields: dict[str, str]) -> tuple[Record, ...]:
    """One LabourContract; JYDJ must be 1 or 0, nothing else is taken to mean either."""
    idn = id_number(fields, "AAC002")
    employer_code = text(fields, "AAB001")
    start, end = _contract_period(fields)
    return (
        LabourContract(
            id_number=idn,
            employer_code=employer_code,
            employer_name=text(fields, "AAB004", required=False) or "",
            start=start,
            end=end,
            employment_registered=code(fields, "JYDJ", EMPLOYMENT_REGISTERED),
        ),
    )


BUREAU = Bureau("hrss", (
    FileKind("sbjf_*", parse_contribution_row, CONTRIBUTION_COLUMNS, marker="AAE140", label="contributions"),
    FileKind("ldht_*", parse_contract_row, CONTRACT_COLUMNS, marker="AAE030", label="labour contracts"),
), title="an HRSS")
