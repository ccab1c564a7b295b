"""Write the Education Bureau's `xj_*.csv` (student enrolments) for synthetic children and students.

XJH is 'G' + identity number; the guardians are the PSB guardian and, where there is one, that guardian's spouse.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.synth.mess import ID, MONTH, file_rng, sink
from gateway.synth.people import SynthPerson
from gateway.synth.psb import corrupt_check_digit

COLUMNS = ("XJH", "XM", "SFZJH", "XXDM", "XXMC", "XD", "RXNY", "XJZT", "JHR1SFZJH", "JHR1GX", "JHR2SFZJH", "JHR2GX")
KINDS = ("", "", ID, "", "", "", MONTH, "", ID, "", ID, "")


def relation(guardian_id: str) -> str:
    """GB/T 4761 relation of a parent, from the sex the identity number encodes: 51 father, 52 mother."""
    return "51" if int(guardian_id[16]) % 2 else "52"


def _guardians(p: SynthPerson) -> list[str]:
    out: list[str] = []
    for gid in (*p.guardian_ids, "", "")[:2]:
        out += [gid, relation(gid) if gid else ""]
    return out


def rows(p: SynthPerson) -> list[list[str]]:
    guardians = _guardians(p)
    return [["G" + p.id_number, p.name, p.id_number, s.school_code, s.school_name, s.stage, s.month, s.status,
             *guardians] for s in p.schooling]


def _bad_student(row: list[str], clean: list[str]) -> None:
    """The student's number fails its check digit, in SFZJH and in the XJH made from it."""
    row[2] = corrupt_check_digit(clean[2])
    row[0] = "G" + row[2]


def write(path: Path, people: Sequence[SynthPerson], *, seed: int = 1, messy_rate: float = 0.0,
          encoding: str = "utf-8") -> dict[str, int]:
    """Write xj; return counts as psb.write does: rows, messy, duplicates, bad_id."""
    with sink(path, COLUMNS, KINDS, rng=file_rng(seed, "xj"), messy_rate=messy_rate, encoding=encoding,
              bad=_bad_student) as out:
        for p in people:
            if p.schooling:
                out.put(rows(p))
    return out.counts
