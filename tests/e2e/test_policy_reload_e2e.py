"""Policy changes without downtime: file edits and SIGHUP reload a running server under load; a bad edit
leaves the old policy in force; no request is dropped or half-decided; each log entry names its policy."""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import grpc

from gateway.client import channel
from gateway.synth import psb
from gateway.synth.people import residents
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc
from tests.conftest import run_cli
from tests.e2e.conftest import serve

SCHOOL_GPS = "p, school, *, compulsory-education, permitgw.v1.PermitService/GetPermitStatus, permit-status, *, allow"


def _wait(predicate: object, timeout: float = 8.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_reload_under_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli("init", "--data", str(data))
    people = residents(30, seed=3)
    psb.write(tmp_path / "jzdj.csv", people, seed=3)
    run_cli("import", "--data", str(data), "--bureau", "psb", "--json", str(tmp_path / "jzdj.csv"))
    prefix = tmp_path / "school"
    run_cli("cert", "issue", "--data", str(data), "--role", "school", "--org", "S1", "--name", "school",
            "--district", "330203", "--out", str(prefix))
    proc, address = serve(data)
    policy = data / "policies" / "policy.csv"
    original = policy.read_text()
    outcomes: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        req = permit_pb2.GetPermitStatusRequest(context=common_pb2.RequestContext(purpose="compulsory-education"),
                                                id_number=people[0].id_number)
        with channel(address, prefix) as ch:
            stub = permit_pb2_grpc.PermitServiceStub(ch)
            while not stop.is_set():
                try:
                    stub.GetPermitStatus(req, timeout=10)
                    outcomes.append("OK")
                except grpc.RpcError as err:
                    outcomes.append(err.code().name)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        assert _wait(lambda: "OK" in outcomes)
        # 1. an edit to the file takes effect by itself: schools lose permit status
        policy.write_text(original.replace(SCHOOL_GPS + "\n", ""))
        n = len(outcomes)
        assert _wait(lambda: "PERMISSION_DENIED" in outcomes[n:]), "file change not picked up"
        # 2. a bad edit is refused; the policy in force stays (still denying)
        policy.write_text(original + "p, teacher, *, x, y, z, *, allow\n")
        time.sleep(2.5)
        n = len(outcomes)
        assert _wait(lambda: len(outcomes) > n + 20)
        assert set(outcomes[n:]) == {"PERMISSION_DENIED"}
        # 3. SIGHUP reloads even when size and mtime look unchanged. "Skools" and ", deny" each make the file
        #    one character shorter than the original, so the two edits below have the same size.
        policy.write_text(original.replace("# Schools", "# Skools"))
        n = len(outcomes)
        assert _wait(lambda: "OK" in outcomes[n:]), "restored policy not picked up"
        stat = policy.stat()
        policy.write_text(original.replace(SCHOOL_GPS, SCHOOL_GPS.replace(", allow", ", deny")))
        os.utime(policy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert policy.stat().st_size == stat.st_size and policy.stat().st_mtime_ns == stat.st_mtime_ns
        time.sleep(2.5)
        n = len(outcomes)
        assert _wait(lambda: len(outcomes) > n + 20) and "PERMISSION_DENIED" not in outcomes[n:], "watcher saw it"
        proc.send_signal(signal.SIGHUP)
        assert _wait(lambda: "PERMISSION_DENIED" in outcomes[n:]), "SIGHUP did not reload"
    finally:
        stop.set()
        for t in threads:
            t.join()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert set(outcomes) <= {"OK", "PERMISSION_DENIED"}, set(outcomes)  # nothing dropped, nothing half-done
    assert "policy reload refused" in out and "policy reloaded" in out
    entries = [e for e in (json.loads(x) for x in run_cli("audit", "search", "--data", str(data), "--json").stdout
                           .splitlines()) if e["decision"] != "alert"]  # anomaly alerts depend on the hour
    versions = {e["policy_version"] for e in entries}
    assert len(versions) >= 3 and all(v.startswith("sha256:") for v in versions)
    assert len(entries) == len(outcomes), "every answer, allowed or refused, has its log entry"
    for e in entries:
        assert (e["decision"] == "allow") == (e["reason"] != "POLICY_DENIED")
