"""The officers' console end to end: `permitgw serve --console` with a real browser presenting client certificates.

Chromium (through Playwright's `client_certificates`) signs in with certificates from `permitgw cert issue`; the
gateway CA is trusted by Playwright's TLS client (NODE_EXTRA_CA_CERTS), no certificate error is ignored. Every
page view must be an access-log entry under the officer's principal; identity numbers appear in no address,
history entry or server log line.
"""
from __future__ import annotations

import base64
import csv
import io
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from playwright.sync_api import Browser, BrowserContext, Error, Page

from gateway.audit.rfc9162 import leaf_hash, verify_inclusion
from tests.browser import chromium
from tests.conftest import init_with_people, run_cli
from tests.e2e.console_site import ConsoleSite, running_console, sign_often
from tests.helpers import wait_until

CONSOLE = "permitgw.console.v1.Console"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    root = tmp_path_factory.mktemp("console")
    data, people = init_with_people(root, 30, seed=11)
    sign_often(data)
    with running_console(root, data, people) as s:
        school, health = s.cert("school", "school", "330203"), s.cert("health", "health", "330212")
        for who in people[:3]:  # accesses by callers of two districts
            assert s.ask(school, who, "compulsory-education") is grpc.StatusCode.OK
            assert s.ask(health, who, "public-health") is grpc.StatusCode.OK
        yield s


@pytest.fixture(scope="module")
def browser(site: ConsoleSite) -> Iterator[Browser]:
    with chromium() as b:
        yield b


def officer(browser: Browser, site: ConsoleSite, prefix: Path | None) -> BrowserContext:
    certs = [{"origin": site.url, "certPath": f"{prefix}.crt", "keyPath": f"{prefix}.key"}] if prefix else []
    return browser.new_context(client_certificates=certs, locale="zh-CN")  # type: ignore[arg-type]


def console_entries(site: ConsoleSite, principal: str) -> list[dict[str, object]]:
    return [e for e in site.log() if str(e["method"]).startswith(CONSOLE) and e["principal"] == principal]


def test_sign_in_and_see_the_search_page_with_its_headers(site: ConsoleSite, browser: Browser) -> None:
    ctx = officer(browser, site, site.cert("city", "auditor", "330200"))
    page = ctx.new_page()
    response = page.goto(site.url + "/search")
    assert response is not None and response.status == 200
    headers = response.headers
    assert headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer" and "max-age" in headers["strict-transport-security"]
    assert page.locator("h1").inner_text() == "检索"
    assert page.locator("#principal").inner_text() == "auditor/330200/ORG-city"
    css = page.request.get(site.url + "/static/console.css")
    assert css.status == 200 and css.headers["cache-control"] == "no-store"
    page.goto(site.url + "/search?lang=en")
    assert page.locator("h1").inner_text() == "Search"
    ctx.close()


def test_search_a_person_masked_and_never_in_an_address(site: ConsoleSite, browser: Browser) -> None:
    ctx = officer(browser, site, site.cert("city", "auditor", "330200"))
    page = ctx.new_page()
    page.goto(site.url + "/search")
    who = site.people[0]
    page.fill("#id_number", who.id_number)
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#results")
    rows = page.locator("#results tbody tr")
    assert rows.count() == 2  # the school's and the health centre's
    assert page.locator("#searched-for .masked").inner_text() == who.id_number[:6] + "*" * 8 + who.id_number[14:]
    assert who.id_number not in page.content()
    assert who.id_number not in page.url
    history = page.evaluate("() => [location.href, document.referrer, history.length]")
    assert who.id_number not in json.dumps(history)
    export_href = page.locator("#export").get_attribute("href") or ""
    assert who.id_number not in export_href and "subject=" in export_href
    with page.expect_download() as dl:
        page.click("#export")
    text = Path(dl.value.path()).read_text("utf-8-sig")
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == 3 and who.id_number not in text  # the two accesses and the officer's own search
    assert table[-1]["principal"] == "auditor/330200/ORG-city" and table[-1]["method"] == f"{CONSOLE}/Search"
    logged = console_entries(site, "auditor/330200/ORG-city")
    assert any(e["method"] == f"{CONSOLE}/Search" and e["subject"] for e in logged)
    assert any(e["method"] == f"{CONSOLE}/Export" and e["decision"] == "allow" for e in logged)
    assert not any(p.id_number in "".join(site.err.lines) for p in site.people)  # the server log has no numbers
    ctx.close()


def test_entry_page_carries_a_proof_that_verifies(site: ConsoleSite, browser: Browser) -> None:
    ctx = officer(browser, site, site.cert("city", "auditor", "330200"))
    page = ctx.new_page()
    wait_until(lambda: page.goto(site.url + "/entry?seq=1") is not None
               and page.locator("#proof-data").count() == 1, "a checkpoint covering entry 1", seconds=30, poll=0.2)
    proof = json.loads(page.locator("#proof-data").inner_text())
    assert proof["index"] == 0 and proof["size"] >= 1
    note = proof["checkpoint"].split("\n")
    size, root = int(note[1]), base64.b64decode(note[2])
    assert size == proof["size"] and note[0] == proof["origin"]
    leaf = leaf_hash(base64.b64decode(proof["entry"]))
    assert verify_inclusion(leaf, proof["index"], size, [bytes.fromhex(h) for h in proof["proof"]], root)
    entry = json.loads(base64.b64decode(proof["entry"]))
    for key, value in entry.items():
        if isinstance(value, str):
            assert page.locator(f'[data-entry-field="{key}"]').inner_text() == value
    assert page.locator("#pin-key input[name=verifier_key]").count() == 1
    assert page.locator("#proof-steps").count() == 1 and page.locator("#proof-result").count() == 1
    assert page.locator('script[src="/static/verify.js"]').count() == 1
    assert page.locator("#policy-lines tbody tr").count() >= 1
    ctx.close()


def verifier_key(site: ConsoleSite) -> str:
    """The log's verifier key as `permitgw audit verify` prints it: what the officer compares with the published one."""
    out = run_cli("audit", "verify", "--data", str(site.data), "--offline").stdout
    found = re.search(r"^verifier key: (\S+)$", out, re.MULTILINE)
    assert found, out
    return found.group(1)


def proof_outcome(page: Page) -> str:
    page.wait_for_function("() => document.getElementById('proof-result').dataset.outcome !== 'pending'",
                           timeout=15_000)
    return page.locator("#proof-result").get_attribute("data-outcome") or ""


def test_the_browser_verifies_the_entry_and_catches_a_changed_one(site: ConsoleSite, browser: Browser) -> None:
    ctx = officer(browser, site, site.cert("city", "auditor", "330200"))
    page = ctx.new_page()
    wait_until(lambda: page.goto(site.url + "/entry?seq=1") is not None
               and page.locator("#proof-data").count() == 1, "a checkpoint covering entry 1", seconds=30, poll=0.2)
    key = verifier_key(site)
    assert page.locator("#log-verifier-key").input_value() == key  # shown to copy…
    assert page.locator("#verifier-warning").inner_text()  # …with the warning to compare it out of band
    labels = json.loads(page.locator("#proof-labels").inner_text())
    assert labels["step.root"] == "计算的根哈希等于签名的根哈希" and "{step}" in labels["result.failed"]
    assert proof_outcome(page) == "no-key"
    page.fill("#pin-key input[name=verifier_key]", key)
    page.click("#pin-key button[type=submit]")
    assert proof_outcome(page) == "ok"
    steps = page.locator("#proof-steps li")
    assert steps.count() >= 7
    assert set(steps.evaluate_all("(items) => items.map((li) => li.dataset.ok)")) == {"true"}
    assert page.evaluate("() => localStorage.getItem('permitgw.verifierKey')") == key
    db = sqlite3.connect(site.data / "gateway.db", timeout=10)
    try:
        (reason,) = db.execute("SELECT reason FROM access_log WHERE seq = 1").fetchone()
        with db:
            db.execute("UPDATE access_log SET reason = 'NOTHING_TO_SEE' WHERE seq = 1")
        page.reload()
        assert proof_outcome(page) == "failed"  # the server now shows (and proves) an entry the log never signed
        result = page.locator("#proof-result")
        assert result.get_attribute("data-failed-step") == "root"
        assert result.get_attribute("data-reason") == "root-mismatch"
        assert "验证失败" in result.inner_text()
    finally:
        with db:
            db.execute("UPDATE access_log SET reason = ? WHERE seq = 1", (reason,))
        db.close()
    page.reload()
    assert proof_outcome(page) == "ok"  # put back, the entry proves again
    ctx.close()


def test_person_report_and_its_print_layout(site: ConsoleSite, browser: Browser) -> None:
    ctx = officer(browser, site, site.cert("city", "auditor", "330200"))
    page = ctx.new_page()
    page.goto(site.url + "/person?lang=en")
    who = site.people[1]
    page.fill("#id_number", who.id_number)
    page.click("#person-form button[type=submit]")
    page.wait_for_selector("#report")
    assert page.locator("#report-table tbody tr").count() == 2
    assert page.locator("#checkpoint-size").count() == 1 and page.locator("#checkpoint-root").inner_text()
    assert who.id_number not in page.content() and who.id_number not in page.url
    page.emulate_media(media="print")
    # waited for, not read at once: the print styles apply with the page's next style recalculation, and a check made
    # straight after emulate_media() found the header still visible once in ~4,000 tests
    page.wait_for_selector("header.top", state="hidden", timeout=10_000)
    page.wait_for_selector("#person-form", state="hidden", timeout=10_000)
    assert page.locator("#report-table").is_visible()
    ctx.close()


def test_refused_without_a_certificate_at_the_handshake(site: ConsoleSite, browser: Browser) -> None:
    ctx = officer(browser, site, None)
    with pytest.raises(Error):
        ctx.new_page().goto(site.url + "/search")
    ctx.close()


def test_a_school_is_refused_and_the_refusal_is_logged(site: ConsoleSite, browser: Browser) -> None:
    ctx = officer(browser, site, site.cert("school", "school", "330203"))
    page = ctx.new_page()
    response = page.goto(site.url + "/search")
    assert response is not None and response.status == 403
    assert response.headers["cache-control"] == "no-store"
    assert page.locator("#refusal").get_attribute("data-reason") == "PURPOSE_NOT_ALLOWED"
    refused = console_entries(site, "school/330203/ORG-school")
    assert refused and refused[-1]["decision"] == "deny" and refused[-1]["method"] == f"{CONSOLE}/Search"
    ctx.close()


def test_a_revoked_auditor_is_refused_within_5_seconds(site: ConsoleSite, browser: Browser) -> None:
    prefix = site.cert("gone", "auditor", "330200")
    ctx = officer(browser, site, prefix)
    page = ctx.new_page()
    first = page.goto(site.url + "/search")
    assert first is not None and first.status == 200
    run_cli("cert", "revoke", "--data", str(site.data), "--serial", _serial(prefix))

    def refused() -> bool:
        r = page.goto(site.url + "/search")
        return r is not None and r.status == 403 and (
            page.locator("#refusal").get_attribute("data-reason") == "CERTIFICATE_REVOKED")

    assert wait_until(refused, "the revocation to be in force", seconds=5, poll=0.2) < 5
    ctx.close()


def _serial(prefix: Path) -> str:
    from cryptography import x509
    return format(x509.load_pem_x509_certificate(Path(f"{prefix}.crt").read_bytes()).serial_number, "x")


def test_every_page_view_is_logged_under_the_officer(site: ConsoleSite, browser: Browser) -> None:
    prefix = site.cert("viewer", "auditor", "330200")
    ctx = officer(browser, site, prefix)
    page = ctx.new_page()
    paths = ["/", "/search", "/person", "/alerts", "/org", "/entry?seq=2"]
    for path in paths:
        r = page.goto(site.url + path)
        assert r is not None and r.status == 200, path
    # (a static file the page asks for that is not there yet, verify.js, is a refusal of its own: not a page view)
    methods = [e["method"] for e in console_entries(site, "auditor/330200/ORG-viewer") if e["reason"] != "NO_SUCH_PAGE"]
    assert methods == [f"{CONSOLE}/{m}" for m in ("Overview", "Search", "PersonReport", "Alerts", "OrgReport",
                                                  "Entry")]
    ctx.close()


def test_a_district_auditor_sees_only_its_district(site: ConsoleSite, browser: Browser) -> None:
    ctx = officer(browser, site, site.cert("haishu", "auditor", "330203"))
    page = ctx.new_page()
    page.goto(site.url + "/search?decision=allow")
    districts = set(page.locator("#results tbody tr td:nth-of-type(4)").all_inner_texts())
    assert districts == {"330203"}
    other = next(e for e in site.log() if e["district"] == "330212")
    r = page.goto(site.url + f"/entry?seq={other['seq']}")
    assert r is not None and r.status == 403
    assert page.locator("#refusal").get_attribute("data-reason") == "OUT_OF_DISTRICT"
    city = officer(browser, site, site.cert("city", "auditor", "330200")).new_page()
    city.goto(site.url + "/search?decision=allow")
    assert {"330203", "330212"} <= set(city.locator("#results tbody tr td:nth-of-type(4)").all_inner_texts())
    ctx.close()


def test_a_bureaus_auditor_sees_only_its_organisations(site: ConsoleSite, browser: Browser) -> None:
    # the shipped policies/organisations.toml: the bureau ORG-education has ORG-school (330203) among its members,
    # not ORG-health (330212); its auditor is a city-level one, so no district limit applies
    ctx = officer(browser, site, site.cert("education", "auditor", "330200"))
    page = ctx.new_page()
    page.goto(site.url + "/search?decision=allow")
    assert "宁波市教育局" in page.locator("#scope").inner_text()
    orgs = {p.rsplit("/", 1)[-1] for p in page.locator("#results tbody tr td:nth-of-type(2)").all_inner_texts()}
    assert "ORG-school" in orgs and orgs <= {"ORG-school", "ORG-education"}
    page.goto(site.url + "/search?org=ORG-health")  # a filter never widens the scope
    assert page.locator("#results tbody tr").count() == 0
    page.goto(site.url + "/org?org=ORG-school")
    assert int(page.locator("#report-total").inner_text()) >= 3
    page.goto(site.url + "/org?org=ORG-health")
    assert page.locator("#no-accesses").count() == 1
    city = officer(browser, site, site.cert("city", "auditor", "330200")).new_page()
    city.goto(site.url + "/org?org=ORG-health")
    assert int(city.locator("#report-total").inner_text()) >= 3
    page.goto(site.url + "/")
    roles = set(page.locator("#calls-table thead th").all_text_contents())
    assert "school" in roles and "health" not in roles
    city.goto(site.url + "/")
    assert {"school", "health"} <= set(city.locator("#calls-table thead th").all_text_contents())
    assert int(page.locator("#calls-total").inner_text()) < int(city.locator("#calls-total").inner_text())
    other = next(e for e in site.log() if e["org"] == "ORG-health")
    r = page.goto(site.url + f"/entry?seq={other['seq']}")
    assert r is not None and r.status == 403
    assert page.locator("#refusal").get_attribute("data-reason") == "OUT_OF_SCOPE"
    refusals = [e for e in console_entries(site, "auditor/330200/ORG-education") if e["reason"] == "OUT_OF_SCOPE"]
    assert [(e["method"], e["decision"]) for e in refusals] == [(f"{CONSOLE}/Entry", "deny")]
    mine = next(e for e in site.log() if e["org"] == "ORG-school")
    assert page.goto(site.url + f"/entry?seq={mine['seq']}").status == 200  # type: ignore[union-attr]
    ctx.close()
