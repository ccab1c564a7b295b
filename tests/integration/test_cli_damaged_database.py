"""Every `permitgw` command given a damaged SQLite database says so in one line on stderr and exits non-zero.

Damage: the file truncated to half its size, its pages after the header overwritten with garbage, emptied to
0 bytes, or missing. Never a Python traceback, never an identity number in what is printed.
"""
from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.synth import psb
from gateway.synth.people import SynthPerson, residents
from tests.conftest import run_cli

PAGE = 4096


def truncate_half(db: Path) -> None:
    with db.open("r+b") as f:
        f.truncate(db.stat().st_size // 2)


def garbage_after_header(db: Path) -> None:
    size = db.stat().st_size
    noise = random.Random(7).randbytes(size - PAGE)
    with db.open("r+b") as f:
        f.seek(PAGE)
        f.write(noise)


def empty(db: Path) -> None:
    db.write_bytes(b"")


def missing(db: Path) -> None:
    db.unlink()


DAMAGE: dict[str, Callable[[Path], None]] = {"truncated": truncate_half, "garbage": garbage_after_header,
                                             "empty": empty, "missing": missing}


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SynthPerson]]:
    """A data directory with people imported and a few entries in the access log (made once, copied per test)."""
    root = tmp_path_factory.mktemp("damaged")
    data = root / "data"
    run_cli("init", "--data", str(data))
    people = residents(40, seed=3)
    src = root / "jzdj.csv"
    psb.write(src, people, seed=3)
    run_cli("import", "--data", str(data), "--bureau", "psb", "--json", str(src))
    for p in people[:3]:
        run_cli("explain", "--data", str(data), "--id", p.id_number, "--json")
    return data, people


def commands(data: Path, tmp: Path, who: str) -> dict[str, list[str]]:
    src = tmp / "jzdj.csv"
    psb.write(src, residents(5, seed=9), seed=9)
    attestation = tmp / "attestation.txt"
    attestation.write_text("not an attestation\n", "utf-8")
    d = ["--data", str(data)]
    return {
        "import": ["import", *d, "--bureau", "psb", "--json", str(src)],
        "explain": ["explain", *d, "--id", who],
        "audit verify": ["audit", "verify", *d],
        "audit search": ["audit", "search", *d, "--subject", who],
        "attest verify": ["attest", "verify", str(attestation), *d],
        "serve": ["serve", *d, "--listen", "127.0.0.1:0"],
        "migrate": ["migrate", *d],
    }


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_every_command_reports_a_damaged_database_in_one_line(
        damage: str, populated: tuple[Path, list[SynthPerson]], tmp_path: Path) -> None:
    template, people = populated
    data = tmp_path / "data"
    shutil.copytree(template, data)
    DAMAGE[damage](data / "gateway.db")
    who = people[0].id_number
    for name, argv in commands(data, tmp_path, who).items():
        proc = run_cli(*argv, check=False, timeout=60)
        said = proc.stdout + proc.stderr
        assert proc.returncode != 0, f"{name} on a {damage} database exited 0:\n{said}"
        assert "Traceback" not in said, f"{name} on a {damage} database printed a traceback:\n{said}"
        lines = proc.stderr.strip().splitlines()
        verdict = proc.stdout.strip().splitlines()  # a verifier may instead give its verdict: FAILED, exit 2
        if not lines and proc.returncode == 2 and len(verdict) == 1 and verdict[0].startswith("FAILED: "):
            continue
        assert len(lines) == 1 and lines[0].startswith("permitgw: "), f"{name} ({damage}): {said!r}"
        assert not any(p.id_number in said for p in people), f"{name} ({damage}) printed an identity number"
        if damage in ("empty", "missing"):
            assert "gateway.db" in lines[0] and "backup" in lines[0], f"{name} ({damage}): {lines[0]}"


def test_an_intact_database_still_works(populated: tuple[Path, list[SynthPerson]], tmp_path: Path) -> None:
    """The checks that refuse a damaged file let a sound one through (and init still makes a missing one)."""
    template, people = populated
    data = tmp_path / "data"
    shutil.copytree(template, data)
    verified = run_cli("audit", "verify", "--data", str(data))
    assert "OK" in verified.stdout
    found = run_cli("audit", "search", "--data", str(data), "--json", "--subject", people[0].id_number).stdout
    assert [json.loads(line)["method"] for line in found.splitlines()] == ["permitgw explain"]
    (data / "gateway.db").unlink()
    assert "gateway.db" in run_cli("init", "--data", str(data)).stdout
