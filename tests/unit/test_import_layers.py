"""The import layers of pyproject.toml [tool.importlinter] hold, and the check bites.

`make test` runs `lint-imports` on the tree; here the same contracts run on a copy of the installed packages, first
as they are (kept), then with one upward import added per case in tests/vectors/import_violations.json (that
contract, run alone, broken), so a contract that silently stopped matching anything would fail this test.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import adapters
import gateway

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "pyproject.toml"
LINT = Path(sys.executable).parent / "lint-imports"
CASES = json.loads((ROOT / "tests" / "vectors" / "import_violations.json").read_text(encoding="utf-8"))["cases"]


def _copy(tmp: Path) -> Path:
    for pkg in (gateway, adapters):
        src = Path(pkg.__file__).parent
        shutil.copytree(src, tmp / src.name, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp


def _lint(tree: Path, *contract: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    only = [arg for c in contract for arg in ("--contract", c)]
    return subprocess.run([str(LINT), "--no-logo", "--no-cache", *only, str(CONFIG)], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint(_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("case", CASES, ids=[f"{c['module']}:{c['line']}" for c in CASES])
def test_an_upward_import_breaks_its_contract(tmp_path: Path, case: dict[str, str]) -> None:
    tree = _copy(tmp_path)
    module = tree / case["module"]
    module.write_text(module.read_text(encoding="utf-8") + f"\n{case['line']}  # noqa\n", encoding="utf-8")
    result = _lint(tree, case["contract"])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 kept, 1 broken" in result.stdout


def test_every_contract_has_a_violation_case() -> None:
    import tomllib

    contracts = tomllib.loads(CONFIG.read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
    assert {c["id"] for c in contracts} == {case["contract"] for case in CASES}
