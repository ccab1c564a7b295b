"""The scale benchmark's population (bench/scale.py): residents made in chunks keep unique, valid identity numbers.

Chunks are made with their own seeds, so two chunks can draw the same number; the bench re-draws it. bench/ is not a
package, so the module is loaded from its file (with bench/ on the path for the helpers it imports).
"""
from __future__ import annotations

import random
from pathlib import Path
from types import ModuleType

from gateway.domain.idnumber import IdNumber
from gateway.synth import psb
from gateway.synth.people import residents
from tests.helpers import script_module

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    return script_module(ROOT / "bench" / "scale.py", "bench_scale")


scale = _load()


def test_a_number_given_in_an_earlier_chunk_is_drawn_again_valid_and_alike() -> None:
    scale._SEEN.clear()
    first, second = residents(60, seed=4), residents(60, seed=4)  # the same seed: every number collides
    assert [p.id_number for p in first] == [p.id_number for p in second]
    before = [(p.id_number[:14], p.id_number[16]) for p in second]
    assert sum(scale._unique(p) for p in first) == 0
    assert sum(scale._unique(p) for p in second) == 60
    ids = [p.id_number for p in first + second]
    assert len(set(ids)) == 120
    for p in second:
        assert IdNumber.parse(p.id_number).value == p.id_number  # the check character is right
    # same home region and birth date (the first 14 characters), and the same sex (parity of the 17th)
    assert [(p.id_number[:14], int(p.id_number[16]) % 2) for p in second] == [(a, int(b) % 2) for a, b in before]


def test_a_child_s_psb_row_names_its_guardian_by_the_guardian_s_new_number() -> None:
    scale._SEEN.clear()
    first = residents(80, seed=6)
    for p in first:
        scale._unique(p)
    again = residents(80, seed=6)
    for p in again:
        scale._unique(p)
    taken = {p.id_number for p in first}
    children = [p for p in again if p.guardian is not None]
    assert children
    for child in children:
        named = psb.row(child, random.Random(0), messy=False)["JHRGMSFHM"]
        assert named not in taken  # not the first population's guardian of the same draw
        assert named in {p.id_number for p in again if p.guardian is None}
