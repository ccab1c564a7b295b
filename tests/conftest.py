"""Shared fixtures: an initialised data directory, synthetic people, and CLI runners.

Tests run against the installed (non-editable) package, the way an operator would run it.
"""
from __future__ import annotations

import datetime as _dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import datadir
from gateway.datadir import DataDir

BIN = Path(sys.executable).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the PostgreSQL fixtures is marked `postgres`, so `-m "not postgres"` (make test-no-postgres)
    leaves out exactly the tests that need the server."""
    for item in items:
        if "pg_dsn" in getattr(item, "fixturenames", ()) and item.get_closest_marker("postgres") is None:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def _template_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "data"
    datadir.init(root)
    return root


@pytest.fixture
def data(tmp_path: Path, _template_data: Path) -> DataDir:
    """A fresh data directory (copied from one made by `init`, which is slow-ish because of key generation)."""
    root = tmp_path / "data"
    shutil.copytree(_template_data, root)
    return DataDir(root)


@pytest.fixture
def today() -> _dt.date:
    return _dt.date.today()


def run_cli(*args: str, check: bool = True, timeout: float = 60, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run the installed `permitgw` command as an operator would."""
    env = {**os.environ, **kw.pop("env", {}), "PYTHONUNBUFFERED": "1"}  # type: ignore[dict-item]
    proc = subprocess.run([str(BIN / "permitgw"), *args], capture_output=True, text=True, timeout=timeout,
                          env=env, **kw)  # type: ignore[call-overload]
    if check and proc.returncode != 0:
        raise AssertionError(f"permitgw {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc
