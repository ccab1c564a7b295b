"""Prometheus metrics for `permitgw serve --metrics HOST:PORT`: requests by method, decision and reason,
and request latency. Labels never carry a principal or a subject: no personal data, bounded cardinality."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("permitgw_requests", "Calls answered or refused, as logged",
                                ("method", "decision", "reason"), registry=self.registry)
        self.latency = Histogram("permitgw_request_seconds", "Time from call to logged answer", ("method",),
                                 registry=self.registry,
                                 buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0))
        # Each label set's series, looked up once: prometheus_client's labels() validates and locks on every call,
        # and every call of the gateway counts itself. Bounded as the labels are (methods, decisions, reasons).
        self._counted: dict[tuple[str, str, str], Counter] = {}
        self._timed: dict[str, Histogram] = {}

    def count(self, method: str, decision: str, reason: str) -> None:
        """One logged call."""
        series = self._counted.get((method, decision, reason))
        if series is None:
            series = self._counted[(method, decision, reason)] = self.requests.labels(method, decision, reason)
        series.inc()

    def time(self, method: str, seconds: float) -> None:
        """How long a call took until its answer was logged."""
        series = self._timed.get(method)
        if series is None:
            series = self._timed[method] = self.latency.labels(method)
        series.observe(seconds)

    def serve(self, listen: str) -> None:
        host, _, port = listen.rpartition(":")
        start_http_server(int(port), addr=host or "127.0.0.1", registry=self.registry)
