"""Durable before answered: under load the server is killed with SIGKILL at random moments, ten times, and
restarted. Every answer a client received has its log entry, and `permitgw audit verify` passes."""
from __future__ import annotations

import json
import random
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

KILLS = 10


def test_every_answer_survives_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli("init", "--data", str(data))
    people = residents(20, seed=8)
    psb.write(tmp_path / "jzdj.csv", people, seed=8)
    run_cli("import", "--data", str(data), "--bureau", "psb", "--json", str(tmp_path / "jzdj.csv"))
    prefix = tmp_path / "school"
    run_cli("cert", "issue", "--data", str(data), "--role", "school", "--org", "S1", "--name", "school",
            "--district", "330203", "--out", str(prefix))
    (data / "config.toml").write_text((data / "config.toml").read_text().replace(
        "checkpoint_entries = 1000", "checkpoint_entries = 25"))
    rng = random.Random(20261121)
    answered: list[str] = []
    lock = threading.Lock()
    counter = iter(range(10**9))

    def client(address: str, stop: threading.Event) -> None:
        with channel(address, prefix) as ch:
            stub = permit_pb2_grpc.PermitServiceStub(ch)
            while not stop.is_set():
                case = f"K-{next(counter)}"
                req = permit_pb2.GetPermitStatusRequest(
                    context=common_pb2.RequestContext(purpose="compulsory-education", case_id=case),
                    id_number=rng.choice(people).id_number)
                try:
                    stub.GetPermitStatus(req, timeout=5)
                except grpc.RpcError:
                    continue  # no answer: nothing is promised
                with lock:
                    answered.append(case)

    for _ in range(KILLS):
        proc, address = serve(data)
        stop = threading.Event()
        threads = [threading.Thread(target=client, args=(address, stop)) for _ in range(4)]
        for t in threads:
            t.start()
        # kill once this round has seen a random number of answers: an observed point under load, whatever
        # the machine's speed (a fixed delay may land before the first answer, or long after on a fast one)
        target = len(answered) + rng.randint(10, 40)
        deadline = time.monotonic() + 60
        while len(answered) < target:
            assert time.monotonic() < deadline, "no answers under load within 60 s"
            assert proc.poll() is None, "the server died before the kill"
            stop.wait(0.01)  # polling interval
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stop.set()
        for t in threads:
            t.join()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert len(answered) >= 10 * KILLS, "every round was killed only after its answers were seen"
    logged = {json.loads(x)["case_id"] for x in run_cli("audit", "search", "--data", str(data), "--json").stdout
              .splitlines()}
    lost = [c for c in answered if c not in logged]
    assert not lost, f"{len(lost)} answered calls have no log entry, e.g. {lost[:3]}"
    verify = run_cli("audit", "verify", "--data", str(data), check=False)
    assert verify.returncode == 0, verify.stdout
