"""`permitgw serve --metrics`: Prometheus text with calls by method, decision and reason — and no personal data."""
from __future__ import annotations

import contextlib
import signal
import socket
import urllib.request
from pathlib import Path

import grpc

from gateway.client import channel
from gateway.synth import psb
from gateway.synth.people import residents
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc
from tests.conftest import BIN, run_cli


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_metrics_count_calls_without_personal_data(tmp_path: Path) -> None:
    import re
    import subprocess

    data = tmp_path / "data"
    run_cli("init", "--data", str(data))
    people = residents(5, seed=2)
    psb.write(tmp_path / "jzdj.csv", people, seed=2)
    run_cli("import", "--data", str(data), "--bureau", "psb", "--json", str(tmp_path / "jzdj.csv"))
    prefix = tmp_path / "school"
    run_cli("cert", "issue", "--data", str(data), "--role", "school", "--org", "S1", "--name", "school",
            "--district", "330203", "--out", str(prefix))
    metrics = f"127.0.0.1:{_free_port()}"
    proc = subprocess.Popen([str(BIN / "permitgw"), "serve", "--data", str(data), "--listen", "127.0.0.1:0",
                             "--metrics", metrics], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        m = re.search(r"serving on (\S+)", proc.stdout.readline() if proc.stdout else "")
        assert m
        with channel(m.group(1), prefix) as ch:
            stub = permit_pb2_grpc.PermitServiceStub(ch)
            for purpose in ("compulsory-education", "compulsory-education", "public-health"):
                req = permit_pb2.GetPermitStatusRequest(context=common_pb2.RequestContext(purpose=purpose),
                                                        id_number=people[0].id_number)
                with contextlib.suppress(grpc.RpcError):
                    stub.GetPermitStatus(req, timeout=10)
        text = urllib.request.urlopen(f"http://{metrics}/metrics", timeout=10).read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    from prometheus_client.parser import text_string_to_metric_families

    counts = {(smp.labels["method"], smp.labels["decision"], smp.labels["reason"]): smp.value
              for fam in text_string_to_metric_families(text) if fam.name == "permitgw_requests"
              for smp in fam.samples if smp.name == "permitgw_requests_total"}
    gps = "permitgw.v1.PermitService/GetPermitStatus"
    assert counts[(gps, "allow", "S-1..S-6")] == 2.0
    assert counts[(gps, "deny", "PURPOSE_NOT_ALLOWED")] == 1.0
    assert "permitgw_request_seconds_bucket" in text
    for p in people:
        assert p.id_number not in text and p.name not in text
    assert "S1" not in text and "school/330203" not in text


def test_metrics_port_in_use_fails_clearly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli("init", "--data", str(data))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = run_cli("serve", "--data", str(data), "--listen", "127.0.0.1:0", "--metrics", f"127.0.0.1:{port}",
                       check=False, timeout=30)
    assert proc.returncode == 1 and "cannot serve metrics" in proc.stderr
    assert "Traceback" not in proc.stderr


