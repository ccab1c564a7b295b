"""The server's Prometheus counters: each label set's series is looked up once and then reused; the counts and
timings are what prometheus_client reports."""
from __future__ import annotations

import pytest

from gateway.server.metrics import Metrics


def _value(m: Metrics, name: str, labels: dict[str, str]) -> float | None:
    return m.registry.get_sample_value(name, labels)


def test_counts_and_timings_per_label_set() -> None:
    m = Metrics()
    for _ in range(3):
        m.count("permitgw.v1.PermitService/GetPermitStatus", "allow", "S-1")
    m.count("permitgw.v1.PermitService/GetPermitStatus", "deny", "QUOTA_EXCEEDED")
    m.time("permitgw.v1.PermitService/GetPermitStatus", 0.003)
    m.time("permitgw.v1.PermitService/GetPermitStatus", 0.2)
    gps = "permitgw.v1.PermitService/GetPermitStatus"
    assert _value(m, "permitgw_requests_total", {"method": gps, "decision": "allow", "reason": "S-1"}) == 3
    assert _value(m, "permitgw_requests_total", {"method": gps, "decision": "deny", "reason": "QUOTA_EXCEEDED"}) == 1
    assert _value(m, "permitgw_request_seconds_count", {"method": gps}) == 2
    assert _value(m, "permitgw_request_seconds_bucket", {"method": gps, "le": "0.005"}) == 1
    assert _value(m, "permitgw_request_seconds_sum", {"method": gps}) == pytest.approx(0.203)
