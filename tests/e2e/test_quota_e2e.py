"""Anti-harvesting end to end: a school over its hourly quota of distinct people is refused with
QUOTA_EXCEEDED and an alert entry; re-asking about someone already asked is not a new person; a restart
does not reset the count."""
from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import grpc
import pytest

from gateway.client import channel
from gateway.synth import psb
from gateway.synth.people import residents
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc
from tests.conftest import run_cli
from tests.e2e.conftest import error_info, serve


def _ask(address: str, prefix: Path, who: str) -> None:
    with channel(address, prefix) as ch:
        permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(permit_pb2.GetPermitStatusRequest(
            context=common_pb2.RequestContext(purpose="compulsory-education"), id_number=who), timeout=10)


def test_quota_of_distinct_people(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli("init", "--data", str(data))
    quotas = data / "policies" / "quotas.toml"
    text = quotas.read_text()
    school = re.search(r"\[school\][^\[]*", text)
    assert school
    quotas.write_text(text.replace(school.group(0), "[school]\nper_hour = 3\nper_day = 10\n\n"))
    people = residents(10, seed=4)
    psb.write(tmp_path / "jzdj.csv", people, seed=4)
    run_cli("import", "--data", str(data), "--bureau", "psb", "--json", str(tmp_path / "jzdj.csv"))
    prefix = tmp_path / "school"
    run_cli("cert", "issue", "--data", str(data), "--role", "school", "--org", "S1", "--name", "school",
            "--district", "330203", "--out", str(prefix))
    proc, address = serve(data)
    try:
        for p in people[:3]:
            _ask(address, prefix, p.id_number)
        _ask(address, prefix, people[0].id_number)  # asked before: not a new person
        with pytest.raises(grpc.RpcError) as exc:
            _ask(address, prefix, people[3].id_number)
        assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_info(exc.value).reason == "QUOTA_EXCEEDED"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    proc, address = serve(data)  # restart: the count is rebuilt from the access log
    try:
        with pytest.raises(grpc.RpcError) as exc:
            _ask(address, prefix, people[4].id_number)
        assert error_info(exc.value).reason == "QUOTA_EXCEEDED"
        _ask(address, prefix, people[1].id_number)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    entries = [json.loads(x) for x in run_cli("audit", "search", "--data", str(data), "--json").stdout.splitlines()]
    alerts = [e for e in entries if e["decision"] == "alert" and e["reason"].startswith("QUOTA")]
    assert [a["reason"] for a in alerts] == ["QUOTA_WARNING", "QUOTA_EXCEEDED", "QUOTA_EXCEEDED"]
    assert all(a["principal"] == "school/330203/S1" and len(a["subject"]) == 64 for a in alerts)
    denied = [e for e in entries if e["decision"] == "deny"]
    assert [d["reason"] for d in denied] == ["QUOTA_EXCEEDED", "QUOTA_EXCEEDED"]
