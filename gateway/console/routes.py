"""The console's routes: (HTTP verb, path) -> (the policy's method name under permitgw.console.v1.Console, page)."""
from __future__ import annotations

from gateway.console import oversight_pages, pages
from gateway.console.app import Page

ROUTES: dict[tuple[str, str], tuple[str, Page]] = {
    ("GET", "/"): ("Overview", oversight_pages.overview),
    ("GET", "/search"): ("Search", pages.search),
    ("POST", "/search"): ("Search", pages.search),
    ("GET", "/export"): ("Export", pages.export),
    ("GET", "/entry"): ("Entry", pages.entry),
    ("GET", "/person"): ("PersonReport", pages.person),
    ("POST", "/person"): ("PersonReport", pages.person),
    ("GET", "/alerts"): ("Alerts", oversight_pages.alerts),
    ("POST", "/alerts/ack"): ("AcknowledgeAlert", oversight_pages.acknowledge),
    ("GET", "/org"): ("OrgReport", oversight_pages.org),
}
