"""Write the HRSS's `sbjf_*.csv` (contributions) and `ldht_*.csv` (labour contracts) for synthetic residents.

The R-SI cases are in the data: late (21) and back-paid (31) months, work-injury-only months, gaps.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.synth.mess import DATE, ID, MONTH, bad_subject, file_rng, sink
from gateway.synth.people import SynthPerson
from gateway.synth.story import BACK_PAID, LATE, NONE, PAID, Insurance, month_text

CONTRIBUTION_COLUMNS = ("AAC002", "AAC003", "AAB001", "AAB004", "AAE140", "AAE002", "AAE003", "AAA115")
CONTRIBUTION_KINDS = (ID, "", "", "", "", MONTH, MONTH, "")
CONTRACT_COLUMNS = ("AAC002", "AAB001", "AAB004", "AAE030", "AAE031", "JYDJ")
CONTRACT_KINDS = (ID, "", "", DATE, DATE, "")
BACK_PAY_DELAY = 6  # a back-payment is paid six months after the month it is for (or this month, if sooner)
_MONTHS: dict[int, str] = {}


def _month(n: int) -> str:
    text = _MONTHS.get(n)
    if text is None:
        text = _MONTHS[n] = month_text(n)
    return text


def _paid(ins: Insurance, n: int, mark: str) -> tuple[str, str]:
    """(AAE003 month paid, AAA115 kind) of a month's contributions."""
    if mark == PAID:
        return _month(n), "10"
    if mark == LATE:
        return _month(n + 1), "21"
    return _month(min(n + BACK_PAY_DELAY, ins.now)), "31"


def contribution_rows(p: SynthPerson) -> list[list[str]]:
    """One row per insurance and month; a work-injury-only month has just the 410 row."""
    ins = p.insurance
    if ins is None:
        return []
    head = [p.id_number, p.name, ins.unit_code, ins.unit_name]
    rows: list[list[str]] = []
    for k, mark in enumerate(ins.months):
        if mark == NONE:
            continue
        n = ins.first + k
        month_for = _month(n)
        if mark in (PAID, LATE, BACK_PAID):
            paid, kind = _paid(ins, n, mark)
            rows.extend([*head, t, month_for, paid, kind] for t in ins.types)
        else:
            rows.append([*head, "410", month_for, month_for, "10"])
    return rows


def contract_row(p: SynthPerson) -> list[str]:
    c = p.contract
    assert c is not None
    return [p.id_number, c.unit_code, c.unit_name, c.start.isoformat(), c.end.isoformat() if c.end else "",
            "1" if c.registered else "0"]


def write_contributions(path: Path, people: Sequence[SynthPerson], *, seed: int = 1, messy_rate: float = 0.0,
                        encoding: str = "utf-8") -> dict[str, int]:
    """Write sbjf; return counts as psb.write does: rows, messy, duplicates, bad_id."""
    with sink(path, CONTRIBUTION_COLUMNS, CONTRIBUTION_KINDS, rng=file_rng(seed, "sbjf"), messy_rate=messy_rate,
              encoding=encoding, bad=bad_subject(0)) as out:
        for p in people:
            if p.insurance is not None:
                out.put(contribution_rows(p))
    return out.counts


def write_contracts(path: Path, people: Sequence[SynthPerson], *, seed: int = 1, messy_rate: float = 0.0,
                    encoding: str = "utf-8") -> dict[str, int]:
    """Write ldht; return counts as psb.write does."""
    with sink(path, CONTRACT_COLUMNS, CONTRACT_KINDS, rng=file_rng(seed, "ldht"), messy_rate=messy_rate,
              encoding=encoding, bad=bad_subject(0)) as out:
        for p in people:
            if p.contract is not None:
                out.put([contract_row(p)])
    return out.counts
