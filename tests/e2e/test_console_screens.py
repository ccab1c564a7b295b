"""Every page of the officers' console, as the city's auditor sees it in a real Chromium: the checks every page
must pass, and (with PERMITGW_SCREENSHOTS=FOLDER) a full-page picture of each for docs/console.md.

One real `permitgw serve --console` with a synthetic population and a few calls made (a school, a hospital, and
the hospital refused for a purpose its role may not state). For each page: HTTP 200; no Content-Security-Policy
violation (the securitypolicyviolation event and the browser console's reports); no request to any host but the
console's own; every <table> has header cells; every form control has a label; the keyboard reaches every
navigation link with Tab. The entry page is shown after the officer pinned the log's verifier key — taken from
the data directory, outside the server's pages, as an officer would — and its proof verified in the browser.

Regenerate the pictures: PERMITGW_SCREENSHOTS=docs/console .venv/bin/pytest -q -p no:cacheprovider
--import-mode=importlib tests/e2e/test_console_screens.py
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, Route

from gateway.datadir import DataDir
from tests.browser import chromium
from tests.conftest import init_with_people
from tests.e2e.console_site import ConsoleSite, running_console, sign_often
from tests.helpers import wait_until

pytestmark = pytest.mark.slow
SHOTS = os.environ.get("PERMITGW_SCREENSHOTS", "")
DEADLINE_MS = 15_000
STORAGE_KEY = "permitgw.verifierKey"
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI));
"""
UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea")]
  .filter((el) => el.type !== "hidden" && el.labels.length === 0 && !el.getAttribute("aria-label")
                  && !el.getAttribute("aria-labelledby"))
  .map((el) => el.outerHTML)
  .concat([...document.querySelectorAll("button")].filter((b) => !b.textContent.trim()
           && !b.getAttribute("aria-label")).map((b) => b.outerHTML))"""
HEADLESS_TABLES = """() => [...document.querySelectorAll("table")]
  .filter((t) => t.querySelector("thead th, th[scope]") === null).map((t) => t.id || t.outerHTML.slice(0, 80))"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    root = tmp_path_factory.mktemp("screens")
    data, people = init_with_people(root, 30, seed=17)
    sign_often(data)
    with running_console(root, data, people) as s:
        school, hospital = s.cert("school", "school", "330203"), s.cert("hospital", "health", "330212")
        for who in people[:3]:
            assert s.ask(school, who, "compulsory-education") is grpc.StatusCode.OK
            assert s.ask(hospital, who, "public-health") is grpc.StatusCode.OK
        assert s.ask(hospital, people[0], "compulsory-education") is grpc.StatusCode.PERMISSION_DENIED
        yield s


@pytest.fixture(scope="module")
def browser(site: ConsoleSite) -> Iterator[Browser]:
    with chromium() as b:
        yield b


@dataclass
class Visit:
    """One signed-in tab, and everything it saw that a page must not cause."""

    page: Page
    console: list[str]
    requests: list[str]
    outside: list[str]


@pytest.fixture
def tab(site: ConsoleSite, browser: Browser) -> Iterator[Visit]:
    prefix = site.cert("city", "auditor", "330200")
    context = browser.new_context(  # type: ignore[arg-type]  # Playwright types client_certificates as a TypedDict list
        client_certificates=[{"origin": site.url, "certPath": f"{prefix}.crt", "keyPath": f"{prefix}.key"}],
        locale="zh-CN", viewport={"width": 1280, "height": 800})
    outside: list[str] = []

    def stay_home(route: Route) -> None:
        url = route.request.url
        if url.startswith(site.url + "/") or url.startswith("data:"):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", stay_home)
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    console: list[str] = []
    requests: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        console.append(msg.text)

    def on_request(request: Request) -> None:
        requests.append(request.url)

    page.on("console", on_console)
    page.on("request", on_request)
    try:
        yield Visit(page, console, requests, outside)
    finally:
        context.close()


def submitted(page: Page, form: str, id_number: str) -> Response | None:
    page.fill(f"#{form} #id_number", id_number)
    with page.expect_navigation() as nav:
        page.click(f"#{form} button[type=submit]")
    return nav.value


def overview(site: ConsoleSite, page: Page) -> Response | None:
    return page.goto(site.url + "/")


def search(site: ConsoleSite, page: Page) -> Response | None:
    page.goto(site.url + "/search")
    answer = submitted(page, "search-form", site.people[0].id_number)
    page.wait_for_selector("#results")
    return answer


def search_en(site: ConsoleSite, page: Page) -> Response | None:
    page.goto(site.url + "/search?lang=en")
    answer = submitted(page, "search-form", site.people[0].id_number)
    page.wait_for_selector("#results")
    assert page.locator("h1").inner_text() == "Search"
    return answer


def entry(site: ConsoleSite, page: Page) -> Response | None:
    """Entry 1 (the school's first call) once a checkpoint covers it, verified with the pinned verifier key."""
    answers: list[Response | None] = []

    def proven() -> bool:
        answers.append(page.goto(site.url + "/entry?seq=1"))
        return page.locator("#proof-data").count() == 1

    wait_until(proven, "a signed checkpoint covering entry 1", seconds=30, poll=0.2)
    key = DataDir(site.data).log_verifier()  # from the data directory, never from the server's pages
    page.fill("#pin-key input[name=verifier_key]", key)
    page.press("#pin-key input[name=verifier_key]", "Enter")
    page.wait_for_selector('#proof-result[data-outcome="ok"]', timeout=DEADLINE_MS)
    assert page.evaluate(f"localStorage.getItem({json.dumps(STORAGE_KEY)})") == key
    assert page.locator('#proof-steps li[data-ok="false"]').count() == 0
    page.locator("#pin-key input[name=verifier_key]").blur()
    return answers[-1]


def person(site: ConsoleSite, page: Page) -> Response | None:
    page.goto(site.url + "/person")
    answer = submitted(page, "person-form", site.people[0].id_number)
    page.wait_for_selector("#report")
    return answer


def alerts(site: ConsoleSite, page: Page) -> Response | None:
    return page.goto(site.url + "/alerts")


def org(site: ConsoleSite, page: Page) -> Response | None:
    return page.goto(site.url + "/org")


PAGES: dict[str, Callable[[ConsoleSite, Page], Response | None]] = {
    "overview": overview, "search": search, "entry": entry, "person": person, "alerts": alerts, "org": org,
    "search-en": search_en}


def reaches_every_navigation_link_by_tab(page: Page) -> None:
    wanted = page.eval_on_selector_all("header nav a", "(links) => links.map((a) => a.getAttribute('href'))")
    assert wanted, "the page has its navigation"
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    page.locator("body").focus()
    reached: list[str | None] = []
    for _ in range(len(wanted) + 6):  # the skip link, the brand, then the navigation: a few more than its links
        page.keyboard.press("Tab")
        reached.append(page.evaluate("() => document.activeElement.closest('header nav') ? "
                                     "document.activeElement.getAttribute('href') : null"))
    assert set(wanted) <= set(reached), (wanted, reached)


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_is_clean_accessible_and_pictured(name: str, site: ConsoleSite, tab: Visit) -> None:
    answer = PAGES[name](site, tab.page)
    assert answer is not None and answer.status == 200, answer and answer.status
    assert tab.page.locator("#principal").inner_text() == "auditor/330200/ORG-city"
    assert tab.page.evaluate(HEADLESS_TABLES) == []
    assert tab.page.evaluate(UNLABELLED) == []
    if SHOTS:  # before the keyboard walk, so the picture shows the page as it loaded
        folder = Path(SHOTS)
        folder.mkdir(parents=True, exist_ok=True)
        tab.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    reaches_every_navigation_link_by_tab(tab.page)
    violations = tab.page.evaluate("window.__cspViolations")
    reports = [m for m in tab.console if "Content Security Policy" in m or "Refused to" in m]
    assert violations == [] and reports == [], (violations, reports)
    assert tab.outside == [] and all(u.startswith((site.url + "/", "data:")) for u in tab.requests), tab.requests
    assert all(p.id_number not in u for p in site.people for u in tab.requests)  # no number in any address
