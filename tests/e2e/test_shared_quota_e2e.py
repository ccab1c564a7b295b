"""End to end: three `permitgw serve` replicas on one PostgreSQL database count a certificate's quota as one gateway.

Each replica runs from its own copy of one data directory (same keys, same policies, same DSN and schema), as
replicas behind a load balancer do. A school's quota of 6 distinct people per hour must hold across them: asked
in turn through two replicas, the 7th and 8th people are refused; asked about 20 people at once, spread over all
three, exactly 6 are answered and 14 refused with QUOTA_EXCEEDED — and the one access log holds all 20.
"""
from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from gateway.client import channel
from gateway.synth import psb
from gateway.synth.people import SynthPerson, residents
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc
from tests.conftest import run_cli
from tests.e2e.conftest import error_info, issue_cert, serve
from tests.integration.test_store_backends import use_postgres
from tests.pg import own_login

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
PER_HOUR = 6
REPLICAS = 3


@dataclass
class Replicas:
    root: Path
    data: Path  # the first copy; `audit search` reads the shared database through it
    people: list[SynthPerson]
    procs: list[subprocess.Popen[str]]
    addresses: list[str]


def _set_school_quota(policies: Path, per_hour: int, per_day: int) -> None:
    quotas = policies / "quotas.toml"
    text = quotas.read_text("utf-8")
    school = re.search(r"\[school\][^\[]*", text)
    assert school, "the shipped quotas.toml has a [school] table"
    quotas.write_text(text.replace(school.group(0), f"[school]\nper_hour = {per_hour}\nper_day = {per_day}\n\n"),
                      "utf-8")


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    root = tmp_path_factory.mktemp("replicas")
    with own_login("pgq") as login:
        data = root / "data0"
        run_cli("init", "--data", str(data))
        use_postgres(data / "config.toml", login.dsn, "permitgw")
        _set_school_quota(data / "policies", PER_HOUR, 100)
        people = residents(30, seed=17)
        src = root / "jzdj.csv"
        psb.write(src, people, seed=17, messy_rate=0.0)
        run_cli("import", "--data", str(data), "--bureau", "psb", "--json", str(src))
        copies = [data] + [root / f"data{n}" for n in range(1, REPLICAS)]
        for copy in copies[1:]:
            shutil.copytree(data, copy)
        procs: list[subprocess.Popen[str]] = []
        try:
            addresses = []
            for copy in copies:
                proc, address = serve(copy)
                procs.append(proc)
                addresses.append(address)
            yield Replicas(root, data, people, procs, addresses)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _ask(address: str, prefix: Path, who: str, case_id: str) -> str:
    """'allow', or the ErrorInfo reason of a PERMISSION_DENIED (any other outcome fails the test)."""
    req = permit_pb2.GetPermitStatusRequest(
        context=common_pb2.RequestContext(purpose="compulsory-education", case_id=case_id, operator_id="OP-1"),
        id_number=who)
    try:
        with channel(address, prefix) as ch:
            permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(req, timeout=20)
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED, (err.code(), err.details())
        return error_info(err).reason
    return "allow"


def _entries(r: Replicas, org: str) -> list[dict[str, object]]:
    out = run_cli("audit", "search", "--data", str(r.data), "--json").stdout
    return [e for e in (json.loads(line) for line in out.splitlines()) if e["org"] == org]


def test_asking_in_turn_through_two_replicas_does_not_double_the_quota(replicas: Replicas) -> None:
    r = replicas
    prefix = issue_cert(r.data, r.root, "turns", "school", r.people[0].district)
    outcomes = [_ask(r.addresses[n % 2], prefix, p.id_number, f"TURN-{n}") for n, p in enumerate(r.people[:8])]
    assert outcomes == ["allow"] * PER_HOUR + ["QUOTA_EXCEEDED"] * 2
    # someone already counted stays answerable through either replica
    assert _ask(r.addresses[1], prefix, r.people[0].id_number, "TURN-AGAIN") == "allow"


def test_twenty_people_at_once_over_three_replicas_exactly_six_answered(replicas: Replicas) -> None:
    r = replicas
    prefix = issue_cert(r.data, r.root, "burst", "school", r.people[0].district)
    people = r.people[8:28]
    start = threading.Barrier(len(people))
    outcomes: dict[str, str] = {}

    def fire(n: int, who: str) -> None:
        start.wait(timeout=30)
        outcomes[who] = _ask(r.addresses[n % REPLICAS], prefix, who, f"BURST-{n}")

    threads = [threading.Thread(target=fire, args=(n, p.id_number)) for n, p in enumerate(people)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == len(people), "every call came back"
    results = sorted(outcomes.values())
    assert results.count("allow") == PER_HOUR, results
    assert results.count("QUOTA_EXCEEDED") == len(people) - PER_HOUR, results

    entries = _entries(r, "ORG-burst")
    calls = [e for e in entries if e["decision"] in ("allow", "deny")]
    assert len(calls) == len(people)  # every answer and every refusal is in the one log
    assert sorted(str(e["decision"]) for e in calls) == ["allow"] * PER_HOUR + ["deny"] * (len(people) - PER_HOUR)
    assert all(e["reason"] == "QUOTA_EXCEEDED" for e in calls if e["decision"] == "deny")
    assert len({e["subject"] for e in calls}) == len(people)
    assert all(re.fullmatch(r"[0-9a-f]{64}", str(e["subject"])) for e in calls)  # blind indexes, never numbers
    allowed_cases = {e["case_id"] for e in calls if e["decision"] == "allow"}
    assert allowed_cases == {f"BURST-{n}" for n, p in enumerate(people) if outcomes[p.id_number] == "allow"}
    alerts = [e["reason"] for e in entries if e["decision"] == "alert"]
    assert alerts.count("QUOTA_EXCEEDED") == len(people) - PER_HOUR
    assert alerts.count("QUOTA_WARNING") == 1  # one warning for the one certificate, whichever replica raised it
