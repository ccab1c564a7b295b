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
from hypothesis import settings

from gateway import datadir
from gateway.datadir import DataDir
from gateway.domain import clock
from gateway.synth import psb
from gateway.synth.people import SynthPerson, residents

BIN = Path(sys.executable).parent

# Property tests are judged by their examples, not by the speed of the machine running them: hypothesis's default
# 200 ms deadline per example failed a file-parsing test on a loaded machine. Each test still bounds its examples.
settings.register_profile("any-machine", deadline=None)
settings.load_profile("any-machine")

# The suite runs on one instant, whatever the machine's date, hour or time zone: a Monday at noon in Ningbo,
# mid-month, far from the day, month and office-hours boundaries. Every process the tests start inherits it,
# so the gateway and the tests agree on "today" (gateway.domain.clock). A run may choose another instant by
# setting PERMITGW_CLOCK itself; tests that are about a boundary start their own server on their own instant.
SUITE_INSTANT = "2026-06-15T12:00:00+08:00"
os.environ.setdefault(clock.ENV, SUITE_INSTANT)
clock.install(None)


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
    return clock.today()


def run_cli(*args: str, check: bool = True, timeout: float = 60, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run the installed `permitgw` command as an operator would."""
    env = {**os.environ, **kw.pop("env", {}), "PYTHONUNBUFFERED": "1"}  # type: ignore[dict-item]
    proc = subprocess.run([str(BIN / "permitgw"), *args], capture_output=True, text=True, timeout=timeout,
                          env=env, **kw)  # type: ignore[call-overload]
    if check and proc.returncode != 0:
        raise AssertionError(f"permitgw {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def init_with_people(root: Path, n: int, seed: int, messy_rate: float = 0.0) -> tuple[Path, list[SynthPerson]]:
    """`permitgw init` in root/data, then n synthetic residents imported from a PSB export, as an operator would."""
    data = root / "data"
    run_cli("init", "--data", str(data))
    people = residents(n, seed=seed)
    src = root / "jzdj.csv"
    psb.write(src, people, seed=seed, messy_rate=messy_rate)
    run_cli("import", "--data", str(data), "--bureau", "psb", "--json", str(src))
    return data, people
