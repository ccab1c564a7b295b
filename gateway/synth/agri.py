"""Write agriculture's `tdcb_*.csv` (land-transfer and aquaculture contracts) for synthetic farmers (R-EMP-3).

Some contracts began under twelve months ago and a few have ended, so the rule has both answers to give.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.synth.mess import DATE, ID, bad_subject, file_rng, sink
from gateway.synth.people import SynthPerson

COLUMNS = ("HTBH", "CBFZJH", "LX", "QSRQ", "ZZRQ")
KINDS = ("", ID, "", DATE, DATE)


def row(p: SynthPerson) -> list[str]:
    land = p.land
    assert land is not None
    return [land.number, p.id_number, land.kind, land.start.isoformat(), land.end.isoformat() if land.end else ""]


def write(path: Path, people: Sequence[SynthPerson], *, seed: int = 1, messy_rate: float = 0.0,
          encoding: str = "utf-8") -> dict[str, int]:
    """Write tdcb (a bad row is the contractor's number); return counts as psb.write does."""
    with sink(path, COLUMNS, KINDS, rng=file_rng(seed, "tdcb"), messy_rate=messy_rate, encoding=encoding,
              bad=bad_subject(1)) as out:
        for p in people:
            if p.land is not None:
                out.put([row(p)])
    return out.counts
