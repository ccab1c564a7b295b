"""The records other bureaus hold about a synthetic resident: jobs, insurance, licences, land, homes, schools.

Plain values kept on each SynthPerson so every bureau's file tells the same story about the same people.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

# --- months as running numbers (year * 12 + month - 1): contributions are counted in whole months ---------


def month_number(d: _dt.date) -> int:
    return d.year * 12 + d.month - 1


def month_text(n: int) -> str:
    """'YYYYMM', the HRSS / education form."""
    return f"{n // 12:04d}{n % 12 + 1:02d}"


# --- GB 32100 unified social credit codes (with the GB 11714 organisation code inside) ----------------------

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# GB 32100-2015: the weight of position i (from 0) is 3**i mod 31 — 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def uscc_check(first17: str) -> str:
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def org_code(body8: str) -> str:
    """GB 11714 organisation code: 8 digits and a check character (10 → X, 11 → 0)."""
    c = 11 - sum(int(d) * w for d, w in zip(body8, _ORG_WEIGHTS, strict=True)) % 11
    return body8 + ("X" if c == 10 else "0" if c == 11 else str(c))


def uscc(prefix2: str, region: str, serial: int) -> str:
    """prefix (registration authority + kind), region, organisation code, check: 18 characters."""
    body = f"{(serial * 7919 + 1000003) % 100_000_000:08d}"  # a bijection on 8 digits: unique, looks random
    first17 = prefix2 + region + org_code(body)
    return first17 + uscc_check(first17)


def uscc_valid(code: str) -> bool:
    return len(code) == 18 and all(c in USCC_CHARS for c in code) and uscc_check(code[:17]) == code[17]


# --- the stories ------------------------------------------------------------------------------------------

# one character per month of Insurance.months
PAID, LATE, BACK_PAID, INJURY_ONLY, NONE = "N", "L", "B", "I", "-"


@dataclass(slots=True)
class Contract:
    """ldht: a labour contract (R-EMP-1); `end` None is open-ended."""

    unit_code: str
    unit_name: str
    start: _dt.date
    end: _dt.date | None
    registered: bool


@dataclass(slots=True)
class Insurance:
    """sbjf: one unit's contributions, month by month from `first` (a month number) to the month before `now`.

    `months` has one character a month: N paid, L paid late (next month), B back-paid later (补缴), I only
    work injury paid, - nothing paid. `types` are the AAE140 codes paid in an ordinary month.
    """

    unit_code: str
    unit_name: str
    first: int
    months: str
    types: tuple[str, ...]
    now: int

    def counted_run(self) -> int:
        """Consecutive months that count for R-SI, ending with the last month on file (R-SI: no B, I or gap)."""
        run = 0
        for c in reversed(self.months):
            if c not in (PAID, LATE):
                break
            run += 1
        return run


@dataclass(slots=True)
class Licence:
    """yyzz: a business licence held as legal representative (R-EMP-2)."""

    code: str
    kind: str
    name: str
    registered: _dt.date
    deregistered: _dt.date | None


@dataclass(slots=True)
class Land:
    """tdcb: a land-transfer or aquaculture contract (R-EMP-3)."""

    number: str
    kind: str
    start: _dt.date
    end: _dt.date | None


@dataclass(slots=True)
class Title:
    """bdc: the title of the home a ZSLX 11 / 12 resident lives in; `relation` of the owner to the resident."""

    number: str
    owner_id: str
    owner_name: str
    co_owner_ids: tuple[str, ...]
    address: str
    district: str
    registered: _dt.date
    relation: str  # "self", "spouse", "parent" (both in jzdj) or "relative" (a local, not a migrant)


@dataclass(slots=True)
class Rental:
    """czfw: the rental registration of a ZSLX 31 resident (state 1), or a withdrawn one of a 32 (state 0)."""

    number: str
    landlord_id: str
    address: str
    district: str
    start: _dt.date
    end: _dt.date | None
    state: str


@dataclass(slots=True)
class Schooling:
    """xj: one enrolment; RXNY `month` as 'YYYYMM'."""

    school_code: str
    school_name: str
    stage: str
    month: str
    status: str
