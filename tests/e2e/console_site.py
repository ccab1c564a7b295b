"""One running `permitgw serve --console` for the console's browser tests, written once for all of them.

`running_console` starts the server on free ports with its console, waits for both addresses to be printed,
lets Playwright's TLS client trust the gateway CA (NODE_EXTRA_CA_CERTS, restored afterwards) and stops the
server with SIGTERM at the end, requiring a clean exit. `ConsoleSite` issues certificates, makes gRPC calls as
a bureau would, and reads the access log as `permitgw audit search` prints it.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc

from gateway.client import channel
from gateway.synth.people import SynthPerson
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc
from tests.conftest import BIN, run_cli
from tests.e2e.conftest import ServerOutput, issue_cert


@dataclass
class ConsoleSite:
    root: Path
    data: Path
    url: str  # https://127.0.0.1:PORT, no trailing slash
    grpc: str
    people: list[SynthPerson]
    out: ServerOutput
    err: ServerOutput

    def cert(self, name: str, role: str, district: str) -> Path:
        """PREFIX of a certificate for organisation ORG-<name> (issued once)."""
        return issue_cert(self.data, self.root, name, role, district)

    def log(self) -> list[dict[str, object]]:
        out = run_cli("audit", "search", "--data", str(self.data), "--json").stdout
        return [json.loads(line) for line in out.splitlines()]

    def ask(self, prefix: Path, who: SynthPerson, purpose: str) -> grpc.StatusCode:
        """GetPermitStatus about `who` as the certificate PREFIX; the status it ended with."""
        req = permit_pb2.GetPermitStatusRequest(
            context=common_pb2.RequestContext(purpose=purpose, case_id="CASE-1", operator_id="OP-7"),
            id_number=who.id_number)
        with channel(self.grpc, prefix) as ch:
            try:
                permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(req, timeout=10)
            except grpc.RpcError as err:
                return err.code()
        return grpc.StatusCode.OK


def sign_often(data: Path) -> None:
    """A checkpoint every 2 entries, so that an entry page has its proof soon."""
    config = data / "config.toml"
    config.write_text(config.read_text().replace("checkpoint_entries = 1000", "checkpoint_entries = 2"))


@contextmanager
def running_console(root: Path, data: Path, people: list[SynthPerson]) -> Iterator[ConsoleSite]:
    proc = subprocess.Popen([str(BIN / "permitgw"), "serve", "--data", str(data), "--listen", "127.0.0.1:0",
                             "--console", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    before = os.environ.get("NODE_EXTRA_CA_CERTS")
    try:
        out, err = ServerOutput(proc.stdout), ServerOutput(proc.stderr)
        grpc_address = re.search(r"serving on (\S+)", out.wait_for("serving on"))
        console = re.search(r"console on (https://\S+)", out.wait_for("console on"))
        assert grpc_address and console
        os.environ["NODE_EXTRA_CA_CERTS"] = str(data / "keys" / "ca.crt")  # Playwright's TLS client trusts our CA
        yield ConsoleSite(root, data, console.group(1).rstrip("/"), grpc_address.group(1), people, out, err)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert "permitgw: stopped" in out.text()
    finally:
        if before is None:
            os.environ.pop("NODE_EXTRA_CA_CERTS", None)
        else:
            os.environ["NODE_EXTRA_CA_CERTS"] = before
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=15)
