"""Write market regulation's `yyzz_*.csv` (business licences) for the synthetic self-employed (R-EMP-2).

Credit codes are valid GB 32100 unified social credit codes, so an adapter may check them.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.synth.mess import DATE, ID, bad_subject, file_rng, sink
from gateway.synth.people import SynthPerson

COLUMNS = ("TYSHXYDM", "FDDBRZJH", "DJRQ", "ZXRQ", "LX")
KINDS = ("", ID, DATE, DATE, "")


def row(p: SynthPerson) -> list[str]:
    lic = p.licence
    assert lic is not None
    return [lic.code, p.id_number, lic.registered.isoformat(),
            lic.deregistered.isoformat() if lic.deregistered else "", lic.kind]


def write(path: Path, people: Sequence[SynthPerson], *, seed: int = 1, messy_rate: float = 0.0,
          encoding: str = "utf-8") -> dict[str, int]:
    """Write yyzz (a bad row is the representative's number); return counts as psb.write does."""
    with sink(path, COLUMNS, KINDS, rng=file_rng(seed, "yyzz"), messy_rate=messy_rate, encoding=encoding,
              bad=bad_subject(1)) as out:
        for p in people:
            if p.licence is not None:
                out.put([row(p)])
    return out.counts
