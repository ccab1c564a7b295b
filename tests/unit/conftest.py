"""Fixtures the unit tests share."""
from __future__ import annotations

from pathlib import Path

import pytest

from gateway.datadir import shipped_policies
from gateway.policy.decisions import PolicyTable, build_table


@pytest.fixture(scope="module")
def shipped_table(tmp_path_factory: pytest.TempPathFactory) -> PolicyTable:
    """The decision table of the policy files the wheel ships (a copy, so no test can alter them)."""
    d: Path = tmp_path_factory.mktemp("policies")
    for item in shipped_policies().iterdir():
        if item.name.endswith((".conf", ".csv", ".toml")):
            (d / item.name).write_bytes(item.read_bytes())
    return build_table(d)
