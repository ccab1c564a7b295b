"""The bureau contract (adapters/contract.py): the registry maps each name to its module's Bureau, whose file kinds
say everything the importer and the CLI need; a malformed Bureau fails when its module is imported."""
from __future__ import annotations

import pytest

from adapters import agri, education, housing, hrss, market, psb
from adapters.contract import Bureau, FileKind
from adapters.registry import BUREAUS
from gateway.domain.records import Record


def _nothing(fields: dict[str, str]) -> tuple[Record, ...]:
    return ()


def test_the_registry_maps_each_name_to_its_modules_bureau() -> None:
    modules = (psb, hrss, housing, market, agri, education)
    assert {m.BUREAU.name: m.BUREAU for m in modules} == BUREAUS
    assert list(BUREAUS) == ["psb", "hrss", "housing", "market", "agri", "education"]
    assert all(isinstance(b, Bureau) for b in BUREAUS.values())


def test_file_globs_come_from_the_kinds() -> None:
    assert {name: b.file_globs for name, b in BUREAUS.items()} == {
        "psb": ("jzdj_*",), "hrss": ("sbjf_*", "ldht_*"), "housing": ("bdc_*", "czfw_*"), "market": ("yyzz_*",),
        "agri": ("tdcb_*",), "education": ("xj_*",),
    }
    assert [k.prefix for k in hrss.BUREAU.kinds] == ["sbjf_", "ldht_"]


@pytest.mark.parametrize("glob", ["sbjf_", "*_sbjf", "sb*jf_*"])
def test_a_pattern_is_a_prefix_and_one_star(glob: str) -> None:
    with pytest.raises(ValueError, match="prefix followed by one"):
        FileKind(glob, _nothing, ())


def test_a_bureau_needs_a_kind_and_several_kinds_need_markers() -> None:
    with pytest.raises(ValueError, match="no file kinds"):
        Bureau("x", ())
    two = (FileKind("a_*", _nothing, ()), FileKind("b_*", _nothing, (), marker="B", label="bees"))
    with pytest.raises(ValueError, match="several file kinds"):
        Bureau("x", two, title="an X")
