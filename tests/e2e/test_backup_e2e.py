"""End to end: tools/backup.py backs a running gateway up and restores it elsewhere, on PostgreSQL and SQLite.

The gateway answers calls (so the log has entries and signed checkpoints), is backed up while it runs, then the
original database is dropped (PostgreSQL) or deleted (SQLite). The backup is restored into a new directory (and a
new database): `permitgw audit verify` passes on it and every table holds what the original held.
"""
from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.datadir import DataDir
from tests.conftest import init_with_people, run_cli
from tests.e2e.cluster import Replica, ask, cluster
from tests.e2e.conftest import issue_cert
from tests.pg import own_login

TOOL = Path(__file__).resolve().parents[2] / "tools" / "backup.py"


def tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=300,
                          check=False)


def counts(data: Path) -> dict[str, int]:
    store = DataDir(data).open_store()
    try:
        return {**store.counts(), "log": store.log_size(), "checkpoints": len(store.checkpoints())}
    finally:
        store.close()


def private(backup: Path) -> None:
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    for f in backup.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def answer_a_few(r: Replica, prefix: Path, who: str) -> None:
    for n in range(12):
        ask(r.address, prefix, who, f"B-{n}")


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_backup_restore_into_a_new_database(tmp_path: Path) -> None:
    with cluster(tmp_path, 1, checkpoint_entries=5, tag="pgb") as c:
        prefix = c.cert("school")
        c.start()
        answer_a_few(c.replicas[0], prefix, c.people[0].id_number)
        made = tool("backup", "--data", str(c.first), "--out", str(tmp_path / "bk"))  # while it serves
        assert made.returncode == 0, made.stderr
        c.stop()
        before = counts(c.first)
        assert before["log"] >= 12 and before["persons"] == len(c.people)
        c.login.admin.execute(f'DROP DATABASE "{c.login.role}" WITH (FORCE)')  # the database is lost
        private(tmp_path / "bk")
        with own_login("pgr") as fresh:
            refused = tool("restore", "--from", str(tmp_path / "bk"), "--data", str(tmp_path / "new"))
            assert refused.returncode == 1 and "--dsn" in refused.stderr and len(refused.stderr.splitlines()) == 1
            done = tool("restore", "--from", str(tmp_path / "bk"), "--data", str(tmp_path / "new"),
                        "--dsn", fresh.dsn)
            assert done.returncode == 0, done.stderr
            verified = run_cli("audit", "verify", "--data", str(tmp_path / "new"), check=False)
            assert verified.returncode == 0 and "OK" in verified.stdout, verified.stdout + verified.stderr
            assert counts(tmp_path / "new") == before


def test_sqlite_backup_while_serving_and_restore(tmp_path: Path) -> None:
    data, people = init_with_people(tmp_path, 10, seed=3)
    prefix = issue_cert(data, tmp_path, "school", "school", people[0].district)
    r = Replica("one", data, tmp_path / "one.err")
    r.start()
    try:
        answer_a_few(r, prefix, people[0].id_number)
        made = tool("backup", "--data", str(data), "--out", str(tmp_path / "bk"))
        assert made.returncode == 0, made.stderr
    finally:
        assert r.stop() == 0
    before = counts(data)
    (data / "gateway.db").unlink()  # the disk is lost
    private(tmp_path / "bk")
    damaged = tmp_path / "bk-damaged"
    subprocess.run(["cp", "-a", str(tmp_path / "bk"), str(damaged)], check=True)
    with (damaged / "gateway.db").open("r+b") as f:
        f.seek(200)
        f.write(b"\xff")
    bad = tool("restore", "--from", str(damaged), "--data", str(tmp_path / "never"))
    assert bad.returncode == 1 and "damaged" in bad.stderr and not (tmp_path / "never").exists()
    done = tool("restore", "--from", str(tmp_path / "bk"), "--data", str(tmp_path / "new"))
    assert done.returncode == 0, done.stderr
    verified = run_cli("audit", "verify", "--data", str(tmp_path / "new"), check=False)
    assert verified.returncode == 0 and "OK" in verified.stdout, verified.stdout + verified.stderr
    assert counts(tmp_path / "new") == before
