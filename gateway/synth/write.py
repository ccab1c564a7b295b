"""`permitgw synth`: write each bureau's files for one synthetic population into a directory.

One population, every bureau's dialect (docs/bureau-files.md), so imports can be cross-checked person by person.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from pathlib import Path

from gateway.errors import GatewayError
from gateway.synth import agri, education, housing, hrss, market, psb
from gateway.synth.mess import pick_encoding
from gateway.synth.people import SynthPerson
from gateway.synth.people import residents as make_residents

Writer = Callable[..., dict[str, int]]

# bureau (as `permitgw import --bureau`) → its files and their writers
BUREAU_FILES: dict[str, tuple[tuple[str, Writer], ...]] = {
    "psb": (("jzdj_synth.csv", psb.write),),
    "hrss": (("sbjf_synth.csv", hrss.write_contributions), ("ldht_synth.csv", hrss.write_contracts)),
    "housing": (("bdc_synth.csv", housing.write_titles), ("czfw_synth.csv", housing.write_rentals)),
    "market": (("yyzz_synth.csv", market.write),),
    "agri": (("tdcb_synth.csv", agri.write),),
    "education": (("xj_synth.csv", education.write),),
}


class InvalidSynthOption(GatewayError, ValueError):
    """A number of residents or a messy rate `permitgw synth` cannot make files for."""


def write_bureaus(out: Path, people: Sequence[SynthPerson], *, seed: int = 1,
                  messy_rate: float = 0.0) -> dict[Path, dict[str, int]]:
    """Every bureau's files for `people`; each file's counts (rows, messy, duplicates, bad_id) by path."""
    counts: dict[Path, dict[str, int]] = {}
    for files in BUREAU_FILES.values():
        for name, writer in files:
            path = out / name
            counts[path] = writer(path, people, seed=seed, messy_rate=messy_rate,
                                  encoding=pick_encoding(seed, name, messy_rate))
    return counts


def write_all(out: Path, *, residents: int, seed: int = 1, messy_rate: float = 0.0,
              as_of: _dt.date | None = None) -> dict[Path, int]:
    """Make `residents` people and write every bureau's files into `out`; rows written per file."""
    if residents < 1:
        raise InvalidSynthOption("--residents must be at least 1")
    if not 0.0 <= messy_rate <= 1.0:
        raise InvalidSynthOption("--messy-rate must be between 0 and 1")
    out.mkdir(parents=True, exist_ok=True)
    people = make_residents(residents, seed, as_of)
    return {path: c["rows"] for path, c in write_bureaus(out, people, seed=seed, messy_rate=messy_rate).items()}
