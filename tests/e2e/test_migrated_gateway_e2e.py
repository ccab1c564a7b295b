"""End to end: the data directory of the last release (SQLite schema 5, tests/vectors/migrations) is refused by
`serve` until `permitgw migrate` has run; then the migrated gateway answers the people imported before, over mTLS,
logs the calls on top of the old log, and the whole log verifies."""
from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

from gateway.datadir import DataDir
from gateway.domain.idnumber import IdNumber
from permitgw.v1 import permit_pb2
from tests.conftest import run_cli
from tests.e2e.conftest import Gateway, serve

FIXTURE = Path(__file__).resolve().parent.parent / "vectors" / "migrations"


def test_the_last_releases_gateway_serves_after_migrate(tmp_path: Path) -> None:
    facts = json.loads((FIXTURE / "fixture.json").read_text("utf-8"))
    data = tmp_path / "data"
    shutil.copytree(FIXTURE / "datadir", data)
    for path in [data, *data.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    refused = run_cli("serve", "--data", str(data), "--listen", "127.0.0.1:0", check=False)
    assert refused.returncode == 1 and "run `permitgw migrate --data" in refused.stderr
    assert run_cli("migrate", "--data", str(data)).stdout.startswith("schema 5 -> 8 (sqlite ")
    store = DataDir(data).open_store()
    try:  # each person's permit as the last release stored it
        permits = {p["id"]: store.permits(IdNumber.parse(p["id"])) for p in facts["people"]}
    finally:
        store.close()
    assert any(permits.values()), "the fixture must hold a permit among the people it names"

    proc, address = serve(data)
    try:
        gw = Gateway(tmp_path, address, proc, [])
        police = gw.cert("police", "police", "330203")
        for p in facts["people"]:
            answer = gw.ask(police, p["id"], "permit-administration")
            assert answer.id_number == IdNumber.parse(p["id"]).value
            if permits[p["id"]]:
                assert answer.status != permit_pb2.PERMIT_STATUS_NONE
                assert answer.district == permits[p["id"]][0].district.code
            else:
                assert answer.status == permit_pb2.PERMIT_STATUS_NONE
        log = gw.log()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    old = facts["sqlite"]["counts"]["access_log"]
    assert len(log) >= old + len(facts["people"])
    assert [e["method"] for e in log[:old]] == ["permitgw explain"] * old, "the old entries come first, unchanged"
    verified = run_cli("audit", "verify", "--data", str(data))
    assert f"log: {len(log)} entries" in verified.stdout and "OK" in verified.stdout
