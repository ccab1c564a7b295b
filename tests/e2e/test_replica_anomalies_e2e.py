"""End to end: three `permitgw serve` replicas on one PostgreSQL database raise anomaly alerts on their combined
traffic — one alert for a storm spread over all three, although each replica alone sees too few calls to alert.

The data directory's policies/anomalies.toml sets a low denied-storm threshold (6 in 5 minutes; the other kinds
off, so the hour the test runs at does not matter). A client's refused calls go round robin to the replicas, two
each; the sixth crosses the threshold in whichever replica gets it, and the log holds exactly one alert entry.
"""
from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from gateway.synth import psb
from gateway.synth.people import residents
from tests.conftest import run_cli
from tests.e2e.conftest import Gateway, issue_cert, serve
from tests.integration.test_store_backends import use_postgres
from tests.pg import own_login

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
THRESHOLD = 6
REPLICAS = 3
ANOMALIES = f"""\
cooldown_minutes = 30

[bulk_lookup]
subjects = -1
window_minutes = 10

[off_hours]
requests = -1
window_minutes = 30
office_days = ["mon", "tue", "wed", "thu", "fri"]
office_start = "07:30"
office_end = "19:30"
holidays = []
workdays = []

[denied_storm]
requests = {THRESHOLD}
window_minutes = 5
"""


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[Gateway]]:
    with own_login("anomrep") as login:
        data = tmp_path / "data"
        run_cli("init", "--data", str(data))
        use_postgres(data / "config.toml", login.dsn, "permitgw")
        (data / "policies" / "anomalies.toml").write_text(ANOMALIES, "utf-8")
        people = residents(10, seed=13)
        src = tmp_path / "jzdj.csv"
        psb.write(src, people, seed=13, messy_rate=0.0)
        run_cli("import", "--data", str(data), "--bureau", "psb", "--json", str(src))
        gateways: list[Gateway] = []
        try:
            for _ in range(REPLICAS):  # one after the other: the first makes the schema
                proc, address = serve(data)
                gateways.append(Gateway(tmp_path, address, proc, people))
            yield gateways
        finally:
            for g in gateways:
                if g.proc.poll() is None:
                    g.proc.send_signal(signal.SIGTERM)
            for g in gateways:
                try:
                    g.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    g.proc.kill()
                    g.proc.wait()


def refused(g: Gateway, prefix: Path, who: str) -> None:
    """A call the policy refuses (a school may not ask for permit administration), answered PERMISSION_DENIED."""
    with pytest.raises(grpc.RpcError) as err:
        g.ask(prefix, who, "permit-administration")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, (err.value.code(), err.value.details())


def test_a_storm_spread_over_replicas_raises_one_alert(replicas: list[Gateway]) -> None:
    first = replicas[0]
    prober = issue_cert(first.data, first.root, "prober", "school", first.people[0].district)
    who = first.people[0].id_number
    for n in range(THRESHOLD - 1):  # 5 refusals: 2, 2 and 1 per replica; the cluster is one short
        refused(replicas[n % REPLICAS], prober, who)
    assert [e for e in first.log() if e["decision"] == "alert"] == []
    refused(replicas[(THRESHOLD - 1) % REPLICAS], prober, who)  # the sixth, 2 at each replica: below 6 each
    alerts = [e for e in first.log() if e["decision"] == "alert"]
    principal = f"school/{first.people[0].district}/ORG-prober"
    assert [(a["reason"], a["principal"]) for a in alerts] == [("DENIED_STORM", principal)]
    for n in range(2 * THRESHOLD):  # the storm goes on, at every replica: cooling down for 30 minutes
        refused(replicas[n % REPLICAS], prober, who)
    log = first.log()
    assert [e["reason"] for e in log if e["decision"] == "alert"] == ["DENIED_STORM"]
    assert sum(e["decision"] == "deny" for e in log) == 3 * THRESHOLD  # every call logged, once
    for g in replicas:
        assert g.proc.poll() is None  # all three still serving
    verified = run_cli("audit", "verify", "--data", str(first.data), check=False)
    assert verified.returncode == 0 and "OK" in verified.stdout, verified.stdout + verified.stderr
