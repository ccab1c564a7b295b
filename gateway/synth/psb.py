"""Write the PSB's `jzdj_*.csv` (docs/bureau-files.md) for synthetic residents, optionally messy.

Mess follows the specification's list: spaces, full-width digits, lower-case x, mixed date formats,
legacy district 330204, repeated rows, failing check digits, and a legacy HKXZ column to be ignored.
"""
from __future__ import annotations

import csv
import datetime as _dt
import random
from collections.abc import Sequence
from pathlib import Path

from gateway.synth.people import SynthPerson

COLUMNS = ("GMSFHM", "XM", "XB", "CSRQ", "HJDZ_XZQH", "JZDZ", "JZD_XZQH", "JZDJRQ", "ZSLX", "JZZBH", "FZRQ",
           "YXQZ", "QZRQ", "JZZZT", "HKXZ", "JHRGMSFHM", "RCLB")


def _fmt_date(d: _dt.date | None, rng: random.Random, messy: bool) -> str:
    if d is None:
        return ""
    if not messy:
        return d.isoformat()
    return rng.choice((f"{d:%Y%m%d}", d.isoformat(), f"{d.year}/{d.month}/{d.day}", f"{d.year}年{d.month}月{d.day}日"))


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() or c == "X" else c for c in s)


def row(p: SynthPerson, rng: random.Random, messy: bool) -> dict[str, str]:
    pid = p.id_number
    district = p.district
    if messy:
        pid = rng.choice((pid, f"  {pid} ", _fullwidth(pid), pid.lower()))
        if district == "330212" and rng.random() < 0.5:
            district = "330204"
    return {
        "GMSFHM": pid, "XM": p.name, "XB": p.sex, "CSRQ": _fmt_date(p.birth, rng, messy),
        "HJDZ_XZQH": p.hukou_region, "JZDZ": p.address, "JZD_XZQH": district,
        "JZDJRQ": _fmt_date(p.registered_on, rng, messy), "ZSLX": p.housing_type, "JZZBH": p.permit_number,
        "FZRQ": _fmt_date(p.permit_issued, rng, messy), "YXQZ": _fmt_date(p.permit_valid_until, rng, messy),
        "QZRQ": _fmt_date(p.endorsed_on, rng, messy), "JZZZT": p.permit_state,
        "HKXZ": rng.choice(("农业", "非农业")), "JHRGMSFHM": p.guardian.id_number if p.guardian else "",
        "RCLB": p.talent,
    }


def corrupt_check_digit(pid: str) -> str:
    last = pid[-1]
    return pid[:-1] + ("0" if last != "0" else "1")


def write(path: Path, people: Sequence[SynthPerson], *, seed: int = 1, messy_rate: float = 0.0,
          encoding: str = "utf-8") -> dict[str, int]:
    """Write the file; return row counts: rows, messy, duplicates (repeated good rows), bad_id (rows to reject)."""
    rng = random.Random(seed)
    counts = {"rows": 0, "messy": 0, "duplicates": 0, "bad_id": 0}
    with path.open("w", newline="", encoding=encoding) as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for p in people:
            messy = rng.random() < messy_rate
            r = row(p, rng, messy)
            bad = messy and rng.random() < 0.1
            if bad:
                r["GMSFHM"] = corrupt_check_digit(p.id_number)
            copies = 2 if messy and rng.random() < 0.1 else 1
            for _ in range(copies):
                w.writerow(r)
            counts["rows"] += copies
            counts["messy"] += messy
            counts["bad_id"] += copies if bad else 0  # every copy of a bad row is a reject
            counts["duplicates"] += 0 if bad else copies - 1  # a repeated good row is a duplicate
    return counts
