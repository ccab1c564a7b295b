"""`permitgw synth`: write each bureau's files for one synthetic population into a directory.

Stage 1 writes the PSB's registrations and permits; the other bureaus' files join in Stage 2.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

from gateway.synth import psb
from gateway.synth.people import residents as make_residents


def write_all(out: Path, *, residents: int, seed: int = 1, messy_rate: float = 0.0,
              as_of: _dt.date | None = None) -> dict[Path, int]:
    if residents < 1:
        raise ValueError("--residents must be at least 1")
    if not 0.0 <= messy_rate <= 1.0:
        raise ValueError("--messy-rate must be between 0 and 1")
    out.mkdir(parents=True, exist_ok=True)
    people = make_residents(residents, seed, as_of)
    path = out / "jzdj_synth.csv"
    counts = psb.write(path, people, seed=seed, messy_rate=messy_rate)
    return {path: counts["rows"]}

