"""`permitgw audit verify` on a real log: clean passes; every kind of tampering under a checkpoint fails.

The tampering is done as an operator with database access would: SQL on the file, including re-forging the
stored leaf hash so that only the signed checkpoints can give it away.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.audit.entry import AccessEntry
from gateway.audit.log import AuditLog, log_origin
from gateway.audit.rfc9162 import leaf_hash
from gateway.datadir import DataDir
from tests.conftest import run_cli

N = 50


def _entry(i: int) -> AccessEntry:
    return AccessEntry(f"2026-11-21T08:{i // 60:02d}:{i % 60:02d}.000000Z", "school/330203/S1", "ab", "school",
                       "S1", "330203", "permitgw.v1.PermitService/GetPermitStatus", "compulsory-education",
                       f"C-{i}", "O-1", f"{i:064x}", "allow", "S-1..S-6", "sha256:0")


@pytest.fixture
def logged(data: DataDir) -> DataDir:
    store = data.open_store()
    log = AuditLog(store, log_origin((data.keys / "ca.crt").read_bytes()), data.signing_key(), every_entries=10,
                   every_seconds=60)
    threads = [threading.Thread(target=lambda k=k: [log.append(_entry(k * 10 + j)) for j in range(10)])
               for k in range(N // 10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    assert store.log_size() == N and store.checkpoints()[-1][0] == N
    store.close()
    return data


def _sql(data: DataDir, *statements: str) -> None:
    db = sqlite3.connect(data.database)
    for st in statements:
        db.execute(st)
    db.commit()
    db.close()


def _verify(data: DataDir, *extra: str) -> tuple[int, str]:
    proc = run_cli("audit", "verify", "--data", str(data.root), *extra, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_a_clean_log_verifies(logged: DataDir) -> None:
    code, out = _verify(logged)
    assert code == 0 and f"log: {N} entries" in out and "0 not covered by any signature" in out
    # no witness, no saved checkpoint: agreeing with itself is all the log can show, and verify says so
    assert "WARNING: no independent checkpoint" in out and "complete and unaltered" not in out


def _forge_leaf(data: DataDir, seq: int) -> None:
    store = data.open_store()
    entry = next(store.access_entries_at(seq))
    store.close()
    db = sqlite3.connect(data.database)
    db.execute("UPDATE access_log SET leaf=? WHERE seq=?", (leaf_hash(entry.canonical_bytes()), seq))
    db.commit()
    db.close()


TAMPERING: dict[str, tuple[Callable[[DataDir], None], str]] = {
    "modified": (lambda d: _sql(d, "UPDATE access_log SET reason='FORGED' WHERE seq=7"), "entry 7 was altered"),
    "modified, leaf re-forged": (lambda d: (_sql(d, "UPDATE access_log SET decision='deny' WHERE seq=7"),
                                            _forge_leaf(d, 7)), "no longer hash to its root"),
    "deleted": (lambda d: _sql(d, "DELETE FROM access_log WHERE seq=7"), "missing"),
    "inserted": (lambda d: (_sql(d, *[f"UPDATE access_log SET seq=seq+1 WHERE seq={s}" for s in range(N, 6, -1)],
                                 "INSERT INTO access_log SELECT 7, leaf, time, principal, serial, role, org, district, "
                                 "method, purpose, 'C-inserted', operator_id, subject, decision, reason, "
                                 "policy_version FROM access_log WHERE seq=8"),
                            _forge_leaf(d, 7)), "no longer hash to its root"),
    "reordered": (lambda d: _sql(d, "UPDATE access_log SET seq=-3 WHERE seq=3",
                                 "UPDATE access_log SET seq=3 WHERE seq=4", "UPDATE access_log SET seq=4 WHERE seq=-3"),
                  "no longer hash to its root"),
    "truncated": (lambda d: _sql(d, f"DELETE FROM access_log WHERE seq > {N - 10}"), "entries were removed"),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_tampering_is_found(logged: DataDir, kind: str) -> None:
    tamper, finding = TAMPERING[kind]
    tamper(logged)
    code, out = _verify(logged)
    assert code == 2 and "FAILED" in out and finding in out, out


def test_a_checkpoint_saved_earlier_checks_todays_log_offline(logged: DataDir, tmp_path: Path) -> None:
    store = logged.open_store()
    size, note = next((size, n) for size, _, n in store.checkpoints() if 20 <= size < N)  # sizes follow batching
    store.close()
    saved = tmp_path / "cp.note"
    saved.write_text(note, "utf-8")
    assert _verify(logged, "--checkpoint", str(saved))[0] == 0
    # an operator rewrites the log AND every stored checkpoint from the gateway's own key; the copy an
    # auditor kept elsewhere is not in the database, and it still tells
    _sql(logged, "UPDATE access_log SET case_id='X' WHERE seq=5", "DELETE FROM checkpoints")
    _forge_leaf(logged, 5)
    code, out = _verify(logged, "--checkpoint", str(saved))
    assert code == 2 and f"the saved checkpoint of size {size}" in out
    forged = tmp_path / "forged.note"
    forged.write_text(note.replace(f"\n{size}\n", f"\n{size + 1}\n"), "utf-8")
    code, out = _verify(logged, "--checkpoint", str(forged))
    assert code == 2 and "does not verify" in out
