"""The console's browser code in a real Chromium under the console's strict CSP: proof checks and charts.

Every vector of tests/vectors/console_proofs.json (made by tools/console_vectors.py with the log's own code) is
filled into a harness page (tests/e2e/console_harness/entry.html) and served with the real static/verify.js; the
test waits, with a deadline, for #proof-result to leave "pending" and checks the outcome, the failing step and the
reason. Every page load also proves that no CSP violation was reported and that no request left 127.0.0.1.
The small stdlib HTTP server here is test infrastructure, not the console.
"""
from __future__ import annotations

import html
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Route

from tests.browser import chromium

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "gateway" / "console" / "static"
HARNESS = Path(__file__).resolve().parent / "console_harness"
VECTORS = json.loads((ROOT / "tests" / "vectors" / "console_proofs.json").read_text(encoding="utf-8"))
CASES: list[dict[str, object]] = VECTORS["cases"]
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
DEADLINE_MS = 15_000
STORAGE_KEY = "permitgw.verifierKey"
TYPES = {".js": "text/javascript", ".html": "text/html; charset=utf-8", ".css": "text/css"}
ZH_LABELS = {"step.root": "计算的根哈希等于签名的根哈希", "result.ok": "已验证：此条目在日志中。",
             "result.failed": "验证失败：{step}（{reason}）", "reason.field-mismatch": "页面显示的字段未被证明覆盖"}


def script_json(value: object) -> str:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' that could end or confuse it."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def entry_page(case: dict[str, object], lang: str, labels: dict[str, str]) -> str:
    fields = case["fields"]
    assert isinstance(fields, dict)
    rows = "\n".join(
        f'<tr><th scope="row">{html.escape(k)}</th><td data-entry-field="{html.escape(k)}">{html.escape(v)}</td></tr>'
        for k, v in fields.items()
    )
    page = (HARNESS / "entry.html").read_text(encoding="utf-8")
    return (page.replace("{{LANG}}", lang).replace("{{LABELS}}", script_json(labels))
            .replace("{{FIELDS}}", rows).replace("{{PROOF_DATA}}", script_json(case["proof_data"])))


@dataclass
class Site:
    """The harness server: what it served, so a test can prove the pinned key never reached it."""

    base: str
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            site.requests.append(("POST", self.path, body))
            self._send(405, b"no", "text/plain")

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            site.requests.append(("GET", self.path, b""))
            path = urlsplit(self.path).path
            if path.startswith("/case/"):
                number, _, variant = path.removeprefix("/case/").partition("/")
                zh = variant == "zh"
                page = entry_page(CASES[int(number)], "zh-CN" if zh else "en", ZH_LABELS if zh else {})
                self._send(200, page.encode("utf-8"), TYPES[".html"])
                return
            for prefix, root in (("/static/", STATIC), ("/harness/", HARNESS)):
                if path.startswith(prefix):
                    target = (root / path.removeprefix(prefix)).resolve()
                    if target.is_relative_to(root) and target.is_file():
                        self._send(200, target.read_bytes(), TYPES.get(target.suffix, "application/octet-stream"))
                        return
            self._send(404, b"not found", "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    s = Site("")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(s))
    s.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield s
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


# Records CSP violations the page itself sees (the event fires for blocked scripts, styles, eval, …).
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI));
"""


@dataclass
class Tab:
    context: BrowserContext
    page: Page
    console: list[str]
    outside: list[str]

    def assert_clean(self) -> None:
        """No CSP violation (event or console report) and no request to anywhere but the harness server."""
        violations = self.page.evaluate("window.__cspViolations")
        reports = [m for m in self.console if "Content Security Policy" in m or "Refused to" in m]
        assert violations == [] and reports == [], (violations, reports)
        assert self.outside == [], self.outside


@pytest.fixture
def tab(browser: Browser, site: Site) -> Iterator[Tab]:
    context = browser.new_context()
    outside: list[str] = []

    def only_local(route: Route) -> None:
        if route.request.url.startswith(site.base + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    console: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        console.append(msg.text)

    page.on("console", on_console)
    try:
        yield Tab(context, page, console, outside)
    finally:
        context.close()


def pin(tab: Tab, key: object) -> None:
    """Put the officer's pinned key into localStorage before any page script runs."""
    if key is not None:
        tab.context.add_init_script(f"localStorage.setItem({json.dumps(STORAGE_KEY)}, {json.dumps(key)});")


def settled_result(page: Page) -> dict[str, str | None]:
    page.wait_for_function(
        "document.getElementById('proof-result').dataset.outcome !== 'pending'", timeout=DEADLINE_MS)
    result: dict[str, str | None] = page.evaluate(
        """() => { const r = document.getElementById('proof-result');
                   return {outcome: r.dataset.outcome, step: r.dataset.failedStep || null,
                           reason: r.dataset.reason || null, text: r.textContent}; }""")
    return result


def steps(page: Page) -> list[list[str]]:
    found: list[list[str]] = page.evaluate(
        "Array.from(document.querySelectorAll('#proof-steps > li'), li => [li.dataset.step, li.dataset.ok])")
    return found


@pytest.mark.parametrize("number", range(len(CASES)), ids=[str(c["name"]) for c in CASES])
def test_vector(number: int, site: Site, tab: Tab) -> None:
    case = CASES[number]
    expect = case["expect"]
    assert isinstance(expect, dict)
    pin(tab, case["pinned_key"])
    tab.page.goto(f"{site.base}/case/{number}")
    result = settled_result(tab.page)
    assert (result["outcome"], result["step"], result["reason"]) == (
        expect["outcome"], expect["step"], expect["reason"]), result
    shown = steps(tab.page)
    if expect["outcome"] == "ok":
        assert shown and all(ok == "true" for _, ok in shown), shown
        names = [name for name, _ in shown]
        assert names[:5] == ["key", "data", "signature", "checkpoint", "leaf"] and names[-2:] == ["root", "fields"]
        proof = case["proof_data"]
        assert isinstance(proof, dict)
        assert names.count("path") == len(proof["proof"])
    elif expect["outcome"] == "failed":
        assert shown[-1] == [expect["step"], "false"], shown  # the failing step is shown, and nothing after it
        assert all(ok == "true" for _, ok in shown[:-1]), shown
    else:
        assert shown == []
    tab.assert_clean()


def test_labels_come_from_the_page_language(site: Site, tab: Tab) -> None:
    ok = next(i for i, c in enumerate(CASES) if c["expect"] == {"outcome": "ok", "step": None, "reason": None})
    bad = next(i for i, c in enumerate(CASES) if c["name"] == "altered field value shown in the page")
    pin(tab, VECTORS["verifier_key"])
    tab.page.goto(f"{site.base}/case/{ok}/zh")
    assert settled_result(tab.page)["text"] == ZH_LABELS["result.ok"]
    assert "计算的根哈希等于签名的根哈希" in tab.page.inner_text("#proof-steps")
    tab.page.goto(f"{site.base}/case/{bad}/zh")
    failed = settled_result(tab.page)["text"]  # a label the page does not give falls back to English
    assert failed == "验证失败：Fields shown equal the proven entry（页面显示的字段未被证明覆盖）"
    tab.assert_clean()


def test_pinning_a_key_keeps_it_in_the_browser(site: Site, tab: Tab) -> None:
    number = next(i for i, c in enumerate(CASES) if c["name"] == "no key pinned")
    key = str(VECTORS["verifier_key"])
    tab.page.goto(f"{site.base}/case/{number}")
    assert settled_result(tab.page)["outcome"] == "no-key"
    seen = len(site.requests)
    tab.page.fill("input[name=verifier_key]", key)
    tab.page.press("input[name=verifier_key]", "Enter")  # keyboard: the form's own submit
    assert settled_result(tab.page)["outcome"] == "ok"
    assert tab.page.evaluate(f"localStorage.getItem({json.dumps(STORAGE_KEY)})") == key
    assert site.requests[seen:] == []  # verifying fetched nothing and the form went nowhere
    assert all(key not in path and method == "GET" for method, path, _ in site.requests)
    assert tab.page.url == f"{site.base}/case/{number}"
    tab.page.reload()  # pinned once: the next page verifies by itself
    assert settled_result(tab.page)["outcome"] == "ok"
    tab.assert_clean()


def test_charts_render_svg_under_the_csp(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.base}/harness/charts.html")
    for chart in ("calls-per-hour", "org-outcomes"):
        tab.page.wait_for_selector(f"#{chart}[data-chart-state]", timeout=DEADLINE_MS, state="attached")
        state = tab.page.get_attribute(f"#{chart}", "data-chart-state")
        assert state == "drawn", tab.page.get_attribute(f"#{chart}", "data-chart-error")
        assert tab.page.locator(f"#{chart} svg").count() == 1
        assert tab.page.locator(f"#{chart} svg path").count() > 3
    legend = tab.page.inner_text("#calls-per-hour")  # SVG text: the series names are drawn
    assert "公安" in tab.page.locator("#calls-per-hour svg").inner_html() or "公安" in legend
    tab.assert_clean()


def test_the_csp_watch_sees_violations(site: Site, tab: Tab) -> None:
    """The clean-page check above would pass vacuously if violations went unseen: a page that breaks the CSP."""
    tab.page.goto(f"{site.base}/harness/csp_bait.html")
    tab.page.wait_for_function("window.__cspViolations.length >= 2", timeout=DEADLINE_MS)
    assert tab.page.title() == "harness: CSP bait"  # the inline script was refused
    with pytest.raises(AssertionError):
        tab.assert_clean()
