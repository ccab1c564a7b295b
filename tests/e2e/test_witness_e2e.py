"""Rewriting history with database access alone: each attack on a copy of a real gateway's data directory,
checked by a real witness process. `audit verify` must fail and `serve` must refuse to start on every one.

The gateway served calls with a witness (its own `permitgw witness serve` process); the copies keep pointing
at that witness, which remembers the largest checkpoint it cosigned.
"""
from __future__ import annotations

import json
import re
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from gateway.audit.entry import AccessEntry
from gateway.audit.rfc9162 import leaf_hash, node_hash
from gateway.client import channel
from gateway.store.sql_core import ACCESS_COLS as _ACCESS_COLS
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc
from tests.conftest import BIN, run_cli
from tests.e2e.conftest import serve
from tests.helpers import wait_until

CALLS = 12


def _witness_size(wdir: Path) -> int:
    state = wdir / "state.json"
    if not state.is_file():
        return 0
    return max((h["size"] for h in json.loads(state.read_text()).values()), default=0)


def _log_size(data: Path) -> int:
    db = sqlite3.connect(f"{(data / 'gateway.db').as_uri()}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM access_log").fetchone()[0])
    finally:
        db.close()


def _call(address: str, prefix: Path, case: str) -> None:
    req = permit_pb2.GetPermitStatusRequest(
        context=common_pb2.RequestContext(purpose="compulsory-education", case_id=case),
        id_number="330203199001011234")
    with channel(address, prefix) as ch:
        try:
            permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(req, timeout=10)
        except grpc.RpcError as err:  # a bad identity number: refused, and logged like any call
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


class Setup:
    def __init__(self, root: Path, data: Path, wdir: Path, witness: subprocess.Popen[str], prefix: Path) -> None:
        self.root, self.data, self.wdir, self.witness, self.prefix = root, data, wdir, witness, prefix
        self.latencies: list[float] = []
        self.entries = 0

    def copy(self, name: str) -> Path:
        target = self.root / name
        shutil.copytree(self.data, target)
        return target


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("witness")
    data, wdir = root / "data", root / "witness"
    run_cli("init", "--data", str(data))
    key = run_cli("audit", "verify", "--data", str(data), "--new-gateway").stdout.split("verifier key: ")[1].strip()
    run_cli("witness", "init", "--data", str(wdir), "--name", "audit.ningbo/w1", "--log", key)
    witness = subprocess.Popen([str(BIN / "permitgw"), "witness", "serve", "--data", str(wdir), "--listen",
                                "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m = re.search(r"serving on (\S+)", witness.stdout.readline() if witness.stdout else "")
    assert m, "the witness did not start"
    run_cli("witness", "add", "--data", str(data), "--verifier-key", (wdir / "witness.vkey").read_text().strip(),
            "--url", m.group(1))
    prefix = root / "school"
    run_cli("cert", "issue", "--data", str(data), "--role", "school", "--org", "S1", "--name", "school",
            "--district", "330203", "--out", str(prefix))
    s = Setup(root, data, wdir, witness, prefix)
    proc, address = serve(data)
    for i in range(CALLS):
        witnessed = _witness_size(wdir)
        _call(address, prefix, f"C-{i}")  # the answer left: how long until a witness vouches for its entry?
        s.latencies.append(wait_until(lambda w=witnessed: _witness_size(wdir) > w, f"the witness to cosign call {i}"))
    s.entries = _log_size(data)
    wait_until(lambda: _witness_size(wdir) == s.entries, "the witness to cosign the whole log")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    yield s
    witness.send_signal(signal.SIGTERM)
    witness.wait(timeout=15)


def _serve_refuses(data: Path) -> str:
    proc = subprocess.Popen([str(BIN / "permitgw"), "serve", "--data", str(data), "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("serve started on a rewritten log") from None
    assert proc.returncode != 0 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err


def _verify_fails(data: Path) -> str:
    result = run_cli("audit", "verify", "--data", str(data), check=False)
    assert result.returncode != 0, result.stdout
    assert "complete and unaltered" not in result.stdout
    return result.stdout + result.stderr


def _rebuild_merkle(db: sqlite3.Connection) -> None:
    """What an attacker with the database does after editing entries: relink leaves, recompute every node."""
    db.execute("DELETE FROM merkle")
    rows = db.execute(f"SELECT seq, {','.join(_ACCESS_COLS)} FROM access_log ORDER BY seq").fetchall()
    for index, row in enumerate(rows):
        leaf = leaf_hash(AccessEntry(*row[1:], seq=row[0]).canonical_bytes())
        db.execute("UPDATE access_log SET leaf=? WHERE seq=?", (leaf, row[0]))
        db.execute("INSERT INTO merkle VALUES (0, ?, ?)", (index, leaf))
        level, node, position = 0, leaf, index
        while position % 2 == 1:
            left = db.execute("SELECT hash FROM merkle WHERE level=? AND idx=?", (level, position - 1)).fetchone()[0]
            node, level, position = node_hash(left, node), level + 1, position // 2
            db.execute("INSERT INTO merkle VALUES (?, ?, ?)", (level, position, node))


def _attack(data: Path, sql: Callable[[sqlite3.Connection], None]) -> None:
    db = sqlite3.connect(data / "gateway.db", isolation_level=None)
    db.execute("BEGIN")
    sql(db)
    db.execute("COMMIT")
    db.close()


def test_an_answered_call_is_witnessed_within_seconds(setup: Setup) -> None:
    assert max(setup.latencies) < 10.0, setup.latencies
    print(f"answer → witnessed checkpoint: max {max(setup.latencies):.3f} s, "
          f"median {sorted(setup.latencies)[len(setup.latencies) // 2]:.3f} s")
    out = run_cli("audit", "verify", "--data", str(setup.data)).stdout
    n = setup.entries
    assert n >= CALLS and f"log: {n} entries, {n} covered by the witnessed checkpoint of size {n}" in out
    assert "0 not covered by any signature" in out


def test_edit_relink_rebuild_and_delete_checkpoints(setup: Setup) -> None:
    data = setup.copy("edited")

    def edit(db: sqlite3.Connection) -> None:
        db.execute("UPDATE access_log SET decision='deny', reason='POLICY_DENIED' WHERE seq=3")
        _rebuild_merkle(db)
        db.execute("DELETE FROM checkpoints")
    _attack(data, edit)
    assert "witness" in _verify_fails(data)
    assert "refusing" in _serve_refuses(data)


def test_delete_an_entry_and_renumber(setup: Setup) -> None:
    data = setup.copy("renumbered")

    def renumber(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM access_log WHERE seq=5")
        db.execute("UPDATE access_log SET seq=seq-1 WHERE seq>5")
        _rebuild_merkle(db)
        db.execute("DELETE FROM checkpoints")
    _attack(data, renumber)
    _verify_fails(data)
    _serve_refuses(data)


def test_truncate_and_delete_the_checkpoints_above(setup: Setup) -> None:
    data = setup.copy("truncated")

    def truncate(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM access_log WHERE seq>8")
        _rebuild_merkle(db)
        db.execute("DELETE FROM checkpoints WHERE size>8")
    _attack(data, truncate)
    assert "entries were removed" in _verify_fails(data)
    _serve_refuses(data)


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_missing_or_empty_database(setup: Setup, how: str) -> None:
    data = setup.copy(f"db-{how}")
    for suffix in ("", "-wal", "-shm"):
        (data / f"gateway.db{suffix}").unlink(missing_ok=True)
    if how == "emptied":
        (data / "gateway.db").write_bytes(b"")
    _verify_fails(data)
    assert (data / "gateway.db").exists() == (how == "emptied"), "verify must never create the database"
    _serve_refuses(data)


def test_forged_entry_appended_after_the_last_checkpoint(setup: Setup) -> None:
    data = setup.copy("appended")

    def append(db: sqlite3.Connection) -> None:
        cols = ",".join(_ACCESS_COLS)
        row = db.execute(f"SELECT {cols} FROM access_log WHERE seq=1").fetchone()
        db.execute(f"INSERT INTO access_log (seq, leaf, {cols}) VALUES (?, x'00', {','.join('?' * len(row))})",
                   (setup.entries + 1, *row))
        _rebuild_merkle(db)
    _attack(data, append)
    assert "1 not covered by any signature" in _verify_fails(data)
    assert "no signature covers" in _serve_refuses(data)


def test_lost_tail_after_a_crash(setup: Setup) -> None:
    """Answered, witnessed entries lost with the -wal file after a SIGKILL: the log is shorter than the witness's."""
    data = setup.copy("crashed")
    proc, address = serve(data)
    before = _witness_size(setup.wdir)
    for i in range(5):
        _call(address, setup.prefix, f"T-{i}")
    wait_until(lambda: _witness_size(setup.wdir) >= before + 5, "the witness to cosign the new calls")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (data / "gateway.db-wal").unlink()
    (data / "gateway.db-shm").unlink(missing_ok=True)
    assert "entries were removed" in _verify_fails(data)
    _serve_refuses(data)
