"""Several real `permitgw serve` replicas over one PostgreSQL database, as an operator deploys them.

One data directory is made with `permitgw init`, pointed at a database and role of the test's own
(tests/pg.py), given a synthetic population by `permitgw import`, and then copied once per replica: each replica
has its own copy of the directory (keys, config, policies, certs/revoked.txt) and they all share the schema.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gateway.client import channel
from gateway.synth import psb
from gateway.synth.people import SynthPerson, residents
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc
from tests.conftest import BIN, run_cli
from tests.e2e.conftest import ServerOutput, issue_cert
from tests.integration.test_store_backends import use_postgres
from tests.pg import OwnLogin, own_login


@dataclass
class Replica:
    """One `permitgw serve` process on its own copy of the data directory."""

    name: str
    data: Path
    err_file: Path
    proc: subprocess.Popen[str] | None = None
    address: str = ""
    out: ServerOutput | None = None

    def start(self) -> None:
        """Start serving on a free loopback port; stderr goes to a file (a pipe nobody reads could fill up)."""
        err = self.err_file.open("a")
        self.proc = subprocess.Popen([str(BIN / "permitgw"), "serve", "--data", str(self.data), "--listen",
                                      "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=err, text=True)
        err.close()
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        assert "serving on" in line, f"replica {self.name} did not start: {line!r} {self.stderr()[-2000:]}"
        self.address = line.split("serving on ", 1)[1].split()[0]
        assert self.proc.stdout is not None
        self.out = ServerOutput(self.proc.stdout)

    def stderr(self) -> str:
        return self.err_file.read_text("utf-8", errors="replace") if self.err_file.exists() else ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=20)

    def stop(self) -> int:
        """SIGTERM and wait (bounded); the exit code."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"replica {self.name} did not stop on SIGTERM\n{self.stderr()[-3000:]}") from None


@dataclass
class Cluster:
    root: Path
    login: OwnLogin
    people: list[SynthPerson]
    replicas: list[Replica] = field(default_factory=list)

    @property
    def first(self) -> Path:
        return self.replicas[0].data

    def cert(self, name: str, role: str = "school") -> Path:
        """A client certificate from the gateway CA (every replica has the same CA: one data directory, copied)."""
        return issue_cert(self.first, self.root, name, role, self.people[0].district)

    def start(self) -> None:
        for r in self.replicas:
            r.start()

    def stop(self) -> None:
        for r in self.replicas:
            if r.running():
                assert r.stop() == 0, f"replica {r.name} exited badly\n{r.stderr()[-3000:]}"


def make_data_dir(root: Path, login: OwnLogin, people: list[SynthPerson], *, checkpoint_entries: int = 1000) -> Path:
    """`permitgw init`, PostgreSQL in config.toml, the people imported from a PSB export: a gateway's directory."""
    data = root / "data-0"
    run_cli("init", "--data", str(data))
    use_postgres(data / "config.toml", login.dsn, "permitgw")
    config = data / "config.toml"
    text = config.read_text().replace("checkpoint_entries = 1000", f"checkpoint_entries = {checkpoint_entries}")
    text = text.replace("calls_per_principal = 8 ", "calls_per_principal = 32")  # the tests' load is one client's
    assert "calls_per_principal = 32" in text
    config.write_text(text)
    src = root / "jzdj.csv"
    psb.write(src, people, seed=17, messy_rate=0.0)
    run_cli("import", "--data", str(data), "--bureau", "psb", "--json", str(src))
    return data


@contextmanager
def cluster(root: Path, replicas: int, *, people: int = 20, checkpoint_entries: int = 1000,
            tag: str = "pgr") -> Iterator[Cluster]:
    """`replicas` copies of one data directory on one PostgreSQL schema (not started); killed at the end."""
    with own_login(tag) as login:
        population = residents(people, seed=17)
        first = make_data_dir(root, login, population, checkpoint_entries=checkpoint_entries)
        c = Cluster(root, login, population)
        for n in range(replicas):
            data = first if n == 0 else root / f"data-{n}"
            if n:
                shutil.copytree(first, data, symlinks=True)
            c.replicas.append(Replica(f"r{n}", data, root / f"r{n}.err"))
        try:
            yield c
        finally:
            for r in c.replicas:
                if r.running():
                    assert r.proc is not None
                    r.proc.kill()
                    r.proc.wait()


def ask(address: str, prefix: Path, who: str, case_id: str, timeout: float = 10
        ) -> permit_pb2.GetPermitStatusResponse:
    """GetPermitStatus as a school would, with a case id of the test's choosing (to find the call in the log)."""
    req = permit_pb2.GetPermitStatusRequest(
        context=common_pb2.RequestContext(purpose="compulsory-education", case_id=case_id, operator_id="OP-7"),
        id_number=who)
    with channel(address, prefix) as ch:
        return permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(req, timeout=timeout)
