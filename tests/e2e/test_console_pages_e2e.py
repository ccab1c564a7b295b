"""The console's oversight pages end to end in Chromium: Overview (with the full verification the console runs at
start, and its chart), Alerts (a quota alert acknowledged with a note: the acknowledgement is an access-log entry
under the officer; a forged form without the CSRF token is refused and logged) and the Organisation report.

A school with a quota of 3 people an hour asks about 4: the 4th is refused with QUOTA_EXCEEDED and an alert entry.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

import grpc
import pytest
from playwright.sync_api import Browser, Page

from tests.browser import chromium
from tests.conftest import init_with_people
from tests.e2e.console_site import ConsoleSite, running_console
from tests.e2e.test_console_e2e import CONSOLE, console_entries, officer
from tests.helpers import wait_until

pytestmark = pytest.mark.slow
CITY = "auditor/330200/ORG-city"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    root = tmp_path_factory.mktemp("console-pages")
    data, people = init_with_people(root, 10, seed=5)
    quotas = data / "policies" / "quotas.toml"
    text = quotas.read_text()
    school = re.search(r"\[school\][^\[]*", text)
    assert school
    quotas.write_text(text.replace(school.group(0), "[school]\nper_hour = 3\nper_day = 10\n\n"))
    with running_console(root, data, people) as s:
        prefix = s.cert("school", "school", "330203")
        for who in people[:3]:
            assert s.ask(prefix, who, "compulsory-education") is grpc.StatusCode.OK
        # a 4th person within the hour: over the quota, and an alert
        assert s.ask(prefix, people[3], "compulsory-education") is grpc.StatusCode.PERMISSION_DENIED
        yield s


@pytest.fixture(scope="module")
def browser(site: ConsoleSite) -> Iterator[Browser]:
    with chromium() as b:
        yield b


def city_page(browser: Browser, site: ConsoleSite) -> Page:
    return officer(browser, site, site.cert("city", "auditor", "330200")).new_page()


def test_overview_shows_the_log_its_verification_and_the_calls(site: ConsoleSite, browser: Browser) -> None:
    page = city_page(browser, site)

    def verified() -> bool:
        r = page.goto(site.url + "/")
        return r is not None and r.status == 200 and page.locator("#verification-outcome").count() == 1

    wait_until(verified, "the full verification the console runs at start", seconds=30, poll=0.2)
    assert page.locator("#verification").get_attribute("data-ok") == "true", page.locator("#verification").inner_text()
    assert int(page.locator("#log-size").inner_text()) >= 5
    assert page.locator("#checkpoint-root").count() == 1 or page.locator("#checkpoint").inner_text()
    total = int(page.locator("#calls-total").inner_text())
    assert total >= 4  # the school's four calls (and the console's own page views, by role auditor)
    assert int(page.locator("#refused").inner_text()) >= 1
    assert page.locator("#refusal-rate").inner_text().endswith("%")
    assert int(page.locator("#open-alerts").inner_text()) >= 1
    headers = page.locator("#calls-table thead th").all_text_contents()  # in a closed <details>
    assert "school" in headers
    totals = [int(x) for x in page.locator("#calls-table tbody tr td:last-child").all_text_contents()]
    assert len(totals) == 168 and sum(totals) == total
    assert page.locator("#calls-table tbody th[scope=row]").count() == 168
    page.wait_for_selector("#calls-chart[data-chart-state=drawn]", timeout=15_000)
    assert page.locator("#calls-chart svg").count() >= 1
    page.context.close()


def test_acknowledge_an_alert_with_a_note(site: ConsoleSite, browser: Browser) -> None:
    page = city_page(browser, site)
    page.goto(site.url + "/alerts")
    row = page.locator("#alerts tbody tr", has=page.locator("td.kind", has_text="QUOTA_EXCEEDED")).first
    seq = int(row.get_attribute("data-seq") or 0)
    assert seq > 0 and row.locator("form.ack-form").count() == 1
    row.locator("textarea[name=note]").fill("核查：学校超出每小时查询人数，已电话确认为正常招生工作。")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    assert page.url.endswith("/alerts")
    done = page.locator(f'#alerts tbody tr[data-seq="{seq}"]')
    assert done.locator(".acknowledged .officer").inner_text() == CITY
    assert "已电话确认" in done.locator(".note").inner_text()
    acks = [e for e in console_entries(site, CITY) if e["method"] == f"{CONSOLE}/AcknowledgeAlert"]
    assert len(acks) == 1
    assert acks[0]["decision"] == "allow" and acks[0]["reason"] == "ACKNOWLEDGED"
    assert acks[0]["case_id"] == f"alert-{seq}"
    log_link = done.locator(".acknowledged a").get_attribute("href") or ""
    assert log_link.endswith(f"seq={acks[0]['seq']}")
    assert "已电话确认" not in "".join(site.err.lines)  # the note is in no server log line
    page.context.close()


def test_a_forged_acknowledgement_is_refused_and_logged(site: ConsoleSite, browser: Browser) -> None:
    page = city_page(browser, site)
    page.goto(site.url + "/alerts?open=1")
    seq = page.locator("#alerts tbody tr").first.get_attribute("data-seq")
    forged = page.request.post(site.url + "/alerts/ack", form={"alert": str(seq), "note": "forged"},
                               max_redirects=0)
    assert forged.status == 403
    assert forged.headers["cache-control"] == "no-store"
    refused = [e for e in console_entries(site, CITY) if e["method"] == f"{CONSOLE}/AcknowledgeAlert"
               and e["reason"] == "CSRF_TOKEN_INVALID"]
    assert len(refused) == 1 and refused[0]["decision"] == "deny"
    page.goto(site.url + "/alerts?open=1")
    assert page.locator(f'#alerts tbody tr[data-seq="{seq}"] form.ack-form').count() == 1  # still open
    wrong = page.request.post(site.url + "/alerts/ack", form={"alert": str(seq), "note": "x", "csrf": "0" * 64},
                              max_redirects=0)
    assert wrong.status == 403
    page.context.close()


def test_the_organisation_report_counts_the_schools_calls(site: ConsoleSite, browser: Browser) -> None:
    page = city_page(browser, site)
    page.goto(site.url + "/org?lang=en")
    page.fill("#org", "ORG-school")
    page.click("#org-form button[type=submit]")
    page.wait_for_selector("#report")
    assert page.locator("#report-total").inner_text() == "4"  # 3 allowed, 1 over the quota; alerts not counted
    cells = {tuple(r.locator("th, td").all_inner_texts()) for r in page.locator("#by-purpose tbody tr").all()}
    assert ("School enrolment (compulsory-education)", "allowed", "3") in cells or any(
        c[-1] == "3" and "compulsory-education" in c[0] for c in cells)
    assert any(c[-1] == "1" and "compulsory-education" in c[0] for c in cells)
    day_totals = [int(x) for x in page.locator("#by-day tbody tr td:last-child").all_inner_texts()]
    assert sum(day_totals) == 4
    page.wait_for_selector("#org-chart[data-chart-state=drawn]", timeout=15_000)
    entries = console_entries(site, CITY)
    assert entries[-1]["method"] == f"{CONSOLE}/OrgReport" and entries[-1]["decision"] == "allow"
    bad = page.goto(site.url + "/org?org=ORG-school&since=2026-13-01")
    assert bad is not None and bad.status == 400
    page.context.close()


def test_a_district_auditor_sees_no_other_districts_alerts(site: ConsoleSite, browser: Browser) -> None:
    page = officer(browser, site, site.cert("jiangbei", "auditor", "330205")).new_page()
    r = page.goto(site.url + "/alerts")
    assert r is not None and r.status == 200
    assert page.locator("#no-alerts").count() == 1
    r = page.goto(site.url + "/org?org=ORG-school")
    assert r is not None and r.status == 200 and page.locator("#report-total").inner_text() == "0"
    page.context.close()

