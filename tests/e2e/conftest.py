"""The e2e fixture: one real `permitgw serve` process over real mTLS, with a synthetic population imported.

Certificates come from `permitgw cert issue`; tests ask as the bureaus would, through gateway.client.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway.client import channel
from gateway.domain import clock
from gateway.synth import psb
from gateway.synth.people import SynthPerson, residents
from gateway.synth.write import BUREAU_FILES, write_bureaus
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc
from tests.conftest import BIN, run_cli
from tests.helpers import wait_until


class ServerOutput:
    """What a server prints on a stream, read on its own thread, so a test can wait for a line it expects
    (a reload, a refusal) with a deadline instead of guessing how long the server takes."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def mark(self) -> int:
        """Where the output stands now: wait_for(..., after=mark) looks only at what comes later."""
        with self._changed:
            return len(self.lines)

    def wait_for(self, text: str, after: int = 0, seconds: float = 30) -> str:
        def seen() -> str | None:
            return next((line for line in self.lines[after:] if text in line), None)

        with self._changed:
            assert self._changed.wait_for(lambda: seen() is not None, timeout=seconds), (
                f"the server did not print {text!r} within {seconds} s: {self.lines[after:][-5:]}")
            return seen() or ""

    def text(self) -> str:
        self._thread.join(timeout=15)
        return "".join(self.lines)


def issue_cert(data: Path, root: Path, name: str, role: str, district: str) -> Path:
    """PREFIX (root/name) of a certificate for organisation ORG-<name>, issued once by `permitgw cert issue`."""
    prefix = root / name
    if not Path(f"{prefix}.crt").exists():
        run_cli("cert", "issue", "--data", str(data), "--role", role, "--org", f"ORG-{name}",
                "--name", f"{name} 机构", "--district", district, "--out", str(prefix))
    return prefix


class Gateway:
    def __init__(self, root: Path, address: str, proc: subprocess.Popen[str], people: list[SynthPerson]) -> None:
        self.root, self.address, self.proc, self.people = root, address, proc, people
        self.data = root / "data"

    def cert(self, name: str, role: str, district: str) -> Path:
        return issue_cert(self.data, self.root, name, role, district)

    def ask(self, prefix: Path, id_number: str, purpose: str, metadata: tuple[tuple[str, str], ...] = ()
            ) -> permit_pb2.GetPermitStatusResponse:
        req = permit_pb2.GetPermitStatusRequest(
            context=common_pb2.RequestContext(purpose=purpose, case_id="CASE-1", operator_id="OP-7"),
            id_number=id_number)
        with channel(self.address, prefix) as ch:
            return permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(req, timeout=10, metadata=metadata)

    def log(self) -> list[dict[str, object]]:
        out = run_cli("audit", "search", "--data", str(self.data), "--json").stdout
        return [json.loads(line) for line in out.splitlines()]


def serve(data: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start `permitgw serve` on a free loopback port (with extra environment, e.g. its own clock)."""
    proc = subprocess.Popen([str(BIN / "permitgw"), "serve", "--data", str(data), "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    line = proc.stdout.readline() if proc.stdout else ""
    m = re.search(r"serving on (\S+)", line)
    assert m, f"server did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
    return proc, m.group(1)


@pytest.fixture(scope="session")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("e2e")
    data = root / "data"
    run_cli("init", "--data", str(data))
    people = residents(150, seed=5)
    src = root / "jzdj_e2e.csv"
    psb.write(src, people, seed=5, messy_rate=0.0, encoding="gb18030")
    summary = json.loads(run_cli("import", "--data", str(data), "--bureau", "psb", "--json", str(src)).stdout)
    assert summary["read"] == len(people) == summary["accepted"] and summary["rejected"] == 0
    files = root / "bureaus"
    files.mkdir()
    write_bureaus(files, people, seed=5)
    for bureau, kinds in BUREAU_FILES.items():  # every other bureau's records too: the rules read them
        if bureau != "psb":
            paths = [str(files / name) for name, _ in kinds]
            done = json.loads(run_cli("import", "--data", str(data), "--bureau", bureau, "--json", *paths).stdout)
            assert done["rejected"] == 0, (bureau, done)
    config = data / "config.toml"  # sign checkpoints often, so that proofs are there to ask for
    config.write_text(config.read_text().replace("checkpoint_entries = 1000", "checkpoint_entries = 20"))
    proc, address = serve(data)
    g = Gateway(root, address, proc, people)
    yield g
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def valid_holder(g: Gateway) -> SynthPerson:
    today = clock.today()
    return next(p for p in g.people if p.permit_state == "1" and p.permit_valid_until >= today)


def error_info(err: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    st = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert st is not None, "the error must carry google.rpc details"
    for d in st.details:
        info = error_details_pb2.ErrorInfo()
        if d.Unpack(info):
            return info
    raise AssertionError("no ErrorInfo in the error details")




def wait_until_revoked(call: Callable[[], object], seconds: float) -> float:
    """Repeat a call until it is refused as CERTIFICATE_REVOKED (anything else is a failure); the time it took."""
    def refused() -> bool:
        try:
            call()
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED, (err.code(), err.details())
            assert error_info(err).reason == "CERTIFICATE_REVOKED"
            return True
        return False

    return wait_until(refused, "the revocation to be in force", seconds, poll=0.2)
