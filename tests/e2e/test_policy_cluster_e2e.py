"""End to end: one policy for a cluster. Three `permitgw serve` replicas share one PostgreSQL database (each with
its own copy of the data directory); an official pushes a policy once with `permitgw policy push`, and every
replica refuses what the new policy denies within 5 s of the push's return, each log entry naming the version
it was decided under. A bad policy is refused by the CLI and every replica stays on the one in force.
"""
from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from gateway.client import channel
from gateway.synth import psb
from gateway.synth.people import residents
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc
from tests.conftest import BIN, run_cli
from tests.e2e.conftest import ServerOutput, issue_cert
from tests.helpers import wait_until
from tests.integration.test_store_backends import use_postgres
from tests.pg import own_login

SCHOOL_GPS = "p, school, *, compulsory-education, permitgw.v1.PermitService/GetPermitStatus, permit-status, *, allow"
DEADLINE = 5.0  # seconds from the push's return until every replica decides under the new policy


@dataclass
class Replica:
    data: Path
    proc: subprocess.Popen[str]
    address: str
    output: ServerOutput
    err: Path


def start_replica(data: Path) -> Replica:
    err = data.parent / f"{data.name}.err"
    proc = subprocess.Popen([str(BIN / "permitgw"), "serve", "--data", str(data), "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=err.open("w"), text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    m = re.search(r"serving on (\S+)", line)
    assert m, f"replica did not start: {line!r} {err.read_text()}"
    assert proc.stdout is not None
    return Replica(data, proc, m.group(1), ServerOutput(proc.stdout), err)


@dataclass
class Cluster:
    root: Path
    data: Path
    who: str
    school: Path
    replicas: list[Replica]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with own_login("pgclu") as login:
        data = tmp_path / "data"
        run_cli("init", "--data", str(data))
        use_postgres(data / "config.toml", login.dsn, "permitgw")
        people = residents(10, seed=21)
        psb.write(tmp_path / "jzdj.csv", people, seed=21, messy_rate=0.0)
        run_cli("import", "--data", str(data), "--bureau", "psb", "--json", str(tmp_path / "jzdj.csv"))
        school = issue_cert(data, tmp_path, "school", "school", people[0].district)
        copies = [data]
        for n in (2, 3):  # each replica has its own copy of the one data directory
            shutil.copytree(data, tmp_path / f"replica{n}")
            copies.append(tmp_path / f"replica{n}")
        replicas: list[Replica] = []
        try:
            for d in copies:
                replicas.append(start_replica(d))
            yield Cluster(tmp_path, data, people[0].id_number, school, replicas)
        finally:
            for r in replicas:
                if r.proc.poll() is None:
                    r.proc.send_signal(signal.SIGTERM)
                    try:
                        r.proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        r.proc.kill()
                        r.proc.wait()


def ask(c: Cluster, r: Replica, case_id: str) -> str:
    """The outcome of a school's GetPermitStatus at one replica: OK or the status code's name."""
    req = permit_pb2.GetPermitStatusRequest(
        context=common_pb2.RequestContext(purpose="compulsory-education", case_id=case_id, operator_id="OP-1"),
        id_number=c.who)
    try:
        with channel(r.address, c.school) as ch:
            permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(req, timeout=10)
    except grpc.RpcError as err:
        return str(err.code().name)
    return "OK"


def policy_dir(c: Cluster, name: str, policy_csv: str) -> Path:
    """A copy of the shipped policies with its own policy.csv, as an official would prepare it."""
    d = c.root / name
    shutil.copytree(c.data / "policies", d)
    (d / "policy.csv").write_text(policy_csv, "utf-8")
    return d


def in_force(c: Cluster) -> str:
    out = run_cli("policy", "show", "--data", str(c.data)).stdout
    m = re.search(r"policy in force: (sha256:[0-9a-f]{16})", out)
    assert m, out
    return m.group(1)


@pytest.mark.postgres
@pytest.mark.slow
def test_a_push_reaches_every_replica_within_5_s_and_a_bad_one_changes_nothing(cluster: Cluster) -> None:
    c = cluster
    version_a = in_force(c)  # the first replica to start pushed its files as the first version
    for n, r in enumerate(c.replicas):
        r.output.wait_for(f"cluster policy {version_a}")
        assert ask(c, r, f"A-{n}") == "OK"

    original = (c.data / "policies" / "policy.csv").read_text("utf-8")
    assert SCHOOL_GPS in original
    policy_b = policy_dir(c, "policy-b", original.replace(SCHOOL_GPS, SCHOOL_GPS.replace(", allow", ", deny")))
    marks = [r.output.mark() for r in c.replicas]
    pushed = run_cli("policy", "push", "--data", str(c.data), "--from", str(policy_b), "--by", "official-zhang")
    returned = time.monotonic()
    m = re.search(r"pushed policy (sha256:[0-9a-f]{16})", pushed.stdout)
    assert m, pushed.stdout
    version_b = m.group(1)
    assert version_b != version_a and "changed since" in pushed.stdout and "policy.csv" in pushed.stdout

    tries = iter(range(10**6))
    for n, r in enumerate(c.replicas):
        left = DEADLINE - (time.monotonic() - returned)
        assert left > 0, f"replicas before {n} took the whole {DEADLINE} s"
        wait_until(lambda r=r, n=n: ask(c, r, f"B-{n}-{next(tries)}") == "PERMISSION_DENIED",
                   f"replica {n} refusing under policy B", left)
    taken = time.monotonic() - returned
    assert taken < DEADLINE, taken
    for r, mark in zip(c.replicas, marks, strict=True):
        r.output.wait_for(f"policy reloaded: {version_a} -> {version_b}", after=mark)

    garbled = run_cli("policy", "push", "--data", str(c.data), "--from", str(policy_b), "--by", "x\x1b[2J", check=False)
    assert garbled.returncode == 1 and "--by must be 1 to 100 printable characters" in garbled.stderr
    again = run_cli("policy", "push", "--data", str(c.data), "--from", str(policy_b))
    assert f"policy {version_b} is already in force" in again.stdout and "nothing pushed" in again.stdout

    policy_c = policy_dir(c, "policy-c", original + "p, teacher, *, x, y, z, *, allow\n")
    refused = run_cli("policy", "push", "--data", str(c.data), "--from", str(policy_c), check=False)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("permitgw: policy refused, nothing pushed:")
    assert "unknown role 'teacher'" in refused.stderr
    assert in_force(c) == version_b
    for n, r in enumerate(c.replicas):
        assert ask(c, r, f"C-{n}") == "PERMISSION_DENIED"

    for r in c.replicas:
        r.proc.send_signal(signal.SIGTERM)
        assert r.proc.wait(timeout=20) == 0, r.err.read_text()[-3000:]
    out = "".join(r.output.text() for r in c.replicas)
    assert "policy reload refused" not in out
    entries = [json.loads(x) for x in run_cli("audit", "search", "--data", str(c.data), "--json").stdout.splitlines()]
    by_case = {e["case_id"]: e for e in entries if e["method"].endswith("GetPermitStatus")}
    for n in range(len(c.replicas)):
        assert (by_case[f"A-{n}"]["decision"], by_case[f"A-{n}"]["policy_version"]) == ("allow", version_a)
        assert (by_case[f"C-{n}"]["decision"], by_case[f"C-{n}"]["policy_version"]) == ("deny", version_b)
    denied_b = [e for case, e in by_case.items() if case.startswith("B-") and e["decision"] == "deny"]
    assert len(denied_b) >= len(c.replicas) and {e["policy_version"] for e in denied_b} == {version_b}
    assert {e["policy_version"] for e in by_case.values()} == {version_a, version_b}
    verified = run_cli("audit", "verify", "--data", str(c.data), check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_policy_push_is_refused_on_sqlite(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli("init", "--data", str(data))
    refused = run_cli("policy", "push", "--data", str(data), check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("permitgw: policy push is for the PostgreSQL backend; on SQLite edit ")
    shown = run_cli("policy", "show", "--data", str(data)).stdout
    assert "SQLite backend" in shown and "sha256:" in shown
