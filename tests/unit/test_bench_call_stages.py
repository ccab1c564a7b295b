"""bench/call_stages.py wraps the gateway's functions by name: every stage it names must exist, or the benchmark
would stop (or, worse, measure nothing) after a rename. bench/ is not a package: the module is loaded from its file."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from tests.helpers import script_module

ROOT = Path(__file__).resolve().parents[2]
stages = script_module(ROOT / "bench" / "call_stages.py", "bench_call_stages")


@pytest.mark.parametrize(("module", "owner", "name", "label"), stages.STAGES)
def test_every_stage_names_a_function_of_the_gateway(module: str, owner: str, name: str, label: str) -> None:
    found = importlib.import_module(module)
    holder = getattr(found, owner) if owner else found
    assert callable(getattr(holder, name)), label


def test_each_measured_method_has_its_handler_stage_and_labels_are_distinct() -> None:
    labels = [label for *_, label in stages.STAGES]
    assert len(labels) == len(set(labels))
    assert set(stages.METHODS.values()) <= set(labels)
