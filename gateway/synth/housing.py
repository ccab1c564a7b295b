"""Write the Housing Bureau's `bdc_*.csv` (titles) and `czfw_*.csv` (rental registrations) for synthetic residents.

They agree with the PSB's ZSLX: 11 and 12 have a title at their address, 31 a registered rental, 32 at most a
withdrawn one, 21 and 99 nothing.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.synth.mess import DATE, DISTRICT, ID, IDS, bad_subject, file_rng, sink
from gateway.synth.people import SynthPerson

TITLE_COLUMNS = ("BDCQZH", "QLRZJH", "QLRMC", "FWZL", "XZQH", "DJSJ", "GYRZJH")
TITLE_KINDS = ("", ID, "", "", DISTRICT, DATE, IDS)
RENTAL_COLUMNS = ("BAH", "CZRZJH", "CHZRZJH", "FWDZ", "XZQH", "QSRQ", "ZZRQ", "BAZT")
RENTAL_KINDS = ("", ID, ID, "", DISTRICT, DATE, DATE, "")


def title_row(p: SynthPerson) -> list[str]:
    t = p.title
    assert t is not None
    return [t.number, t.owner_id, t.owner_name, t.address, t.district, t.registered.isoformat(),
            ";".join(t.co_owner_ids)]


def rental_row(p: SynthPerson) -> list[str]:
    r = p.rental
    assert r is not None
    return [r.number, r.landlord_id, p.id_number, r.address, r.district, r.start.isoformat(),
            r.end.isoformat() if r.end else "", r.state]


def write_titles(path: Path, people: Sequence[SynthPerson], *, seed: int = 1, messy_rate: float = 0.0,
                 encoding: str = "utf-8") -> dict[str, int]:
    """Write bdc (a bad row is the owner's number); return counts as psb.write does."""
    with sink(path, TITLE_COLUMNS, TITLE_KINDS, rng=file_rng(seed, "bdc"), messy_rate=messy_rate,
              encoding=encoding, bad=bad_subject(1)) as out:
        for p in people:
            if p.title is not None:
                out.put([title_row(p)])
    return out.counts


def write_rentals(path: Path, people: Sequence[SynthPerson], *, seed: int = 1, messy_rate: float = 0.0,
                  encoding: str = "utf-8") -> dict[str, int]:
    """Write czfw (a bad row is the tenant's number); return counts as psb.write does."""
    with sink(path, RENTAL_COLUMNS, RENTAL_KINDS, rng=file_rng(seed, "czfw"), messy_rate=messy_rate,
              encoding=encoding, bad=bad_subject(2)) as out:
        for p in people:
            if p.rental is not None:
                out.put([rental_row(p)])
    return out.counts
