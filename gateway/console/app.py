"""The console as a WSGI application: every request walks the gate before its answer leaves.

For each page: authenticate by the verified client certificate the HTTPS server put in the environ
(SSL_CLIENT_CERT), decide by the policy table (purpose `access-audit`, method permitgw.console.v1.Console/<Page>),
build the page, log the view in the access log under the officer's principal, then answer. A refusal (`Refused`)
is logged and answered with its HTTP status; if the log cannot take the entry, 503 and no content. Static files
(the console's own stylesheet and scripts, no data) need an accepted, unrevoked certificate but are not logged.
"""
from __future__ import annotations

import datetime as _dt
import importlib.resources
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import jinja2

from gateway.audit.entry import Decision
from gateway.audit.log import AuditLog, LogUnavailable
from gateway.audit.port import EntryScope
from gateway.console import messages, scoping
from gateway.console.csrf import CsrfTokens
from gateway.console.web import Answer, TooLarge, query_fields, read_form, status_line, url
from gateway.domain import clock
from gateway.identity.principal import Principal
from gateway.policy.decisions import PolicyTable
from gateway.server import errors
from gateway.server.gate import Call, Gate
from gateway.settings.organisations import Organisations
from gateway.store.port import StoreUnavailable

log = logging.getLogger("permitgw.console")
access_log = logging.getLogger("permitgw.console.access")
SERVICE = "permitgw.console.v1.Console"
PURPOSE = "access-audit"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json", ".woff2": "font/woff2"}
_STATIC_PATH = re.compile(r"/static/((?:[A-Za-z0-9_-][A-Za-z0-9_.-]*/)*[A-Za-z0-9_-][A-Za-z0-9_.-]*)")
NAV = (("overview", "/"), ("search", "/search"), ("person", "/person"), ("alerts", "/alerts"), ("org", "/org"))
# gRPC status of a refusal -> (HTTP status, the refusal page's kind)
HTTP_OF = {grpc.StatusCode.UNAUTHENTICATED: (403, "certificate"), grpc.StatusCode.PERMISSION_DENIED: (403, "denied"),
           grpc.StatusCode.INVALID_ARGUMENT: (400, "invalid"), grpc.StatusCode.UNAVAILABLE: (503, "unavailable"),
           grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "busy"), grpc.StatusCode.NOT_FOUND: (404, "notfound"),
           grpc.StatusCode.FAILED_PRECONDITION: (409, "conflict")}


@dataclass(frozen=True, slots=True)
class Stated:
    """What every console request states: the purpose is always access audit; there is no case or operator id."""

    purpose: str = PURPOSE
    case_id: str = ""
    operator_id: str = ""


CONSOLE_CONTEXT = Stated()


def beijing(rfc3339: str) -> str:
    """An entry's UTC time as Beijing time, to the second."""
    try:
        at = _dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    except ValueError:
        return rfc3339
    return at.astimezone(clock.CHINA).strftime("%Y-%m-%d %H:%M:%S")


def not_found() -> errors.Refused:
    return errors.Refused(grpc.StatusCode.NOT_FOUND, "no such page", "NO_SUCH_PAGE")


class Visit:
    """One request: who asks (once admitted), in which language, with which parameters."""

    def __init__(self, console: Console, environ: Mapping[str, Any], call: Call) -> None:
        self.console, self.environ, self.call = console, environ, call
        pem = environ.get("SSL_CLIENT_CERT")
        self.pems = [pem.encode("ascii")] if isinstance(pem, str) and pem else []
        self.verb = str(environ.get("REQUEST_METHOD", "GET"))
        self.query = query_fields(environ)
        self.lang = messages.choose(self.query.get("lang", ""), str(environ.get("HTTP_ACCEPT_LANGUAGE", "")))
        self.words = messages.for_language(self.lang)
        self.principal: Principal | None = None

    @property
    def gate(self) -> Gate:
        return self.console.gate

    def admit(self, scope: str | None = None) -> Principal:
        """Authenticate and decide this page for this officer (Refused if not); `scope` as Gate.admit_peer."""
        self.principal = self.gate.admit_peer(self.call, self.pems, CONSOLE_CONTEXT, scope=scope)
        return self.principal

    def everywhere(self, principal: Principal) -> bool:
        """May this officer see entries by callers of every district? The city's auditor is in-district
        everywhere; any other only where the policy grants the page out of district too."""
        return scoping.sees_every_district(principal, self.table, PURPOSE, self.call.method)

    @property
    def table(self) -> PolicyTable:
        """The policy table deciding this request (the one of its call, even if a reload lands meanwhile)."""
        return self.call.table or self.gate.policy.table

    def scope(self, principal: Principal) -> EntryScope:
        """Whose accesses this officer sees (gateway/console/scoping.py)."""
        return scoping.entry_scope(principal, self.table, PURPOSE, self.call.method, self.console.organisations)

    def form(self) -> dict[str, str]:
        """The POSTed form, its CSRF token checked against the officer's certificate (after `admit`)."""
        if self.verb != "POST":
            return {}
        fields = read_form(self.environ)
        assert self.principal is not None, "admit first"
        if not self.console.csrf.valid(self.principal.serial, fields.get("csrf", "")):
            raise errors.permission_denied("CSRF_TOKEN_INVALID", "the form's token does not belong to this "
                                           "certificate or this server run; reload the page")
        return fields

    def url(self, path: str, **params: object) -> str:
        return url(path, self.lang, params.items())

    def page(self, template: str, page: str, **context: object) -> Answer:
        """Render a page, log the view, and answer (nothing is sent if the view cannot be logged)."""
        assert self.principal is not None, "admit first"
        other = "en" if self.lang == "zh" else "zh"
        body = self.console.templates.get_template(template).render(
            t=self.words.t, page=page, nav=NAV, url=self.url, beijing=beijing, principal=self.principal.id,
            other_lang_url=url(str(self.environ.get("PATH_INFO", "/")), other,
                               [(k, v) for k, v in self.query.items() if k != "lang"]),
            now=clock.now().astimezone(clock.CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            csrf=self.console.csrf.token(self.principal.serial),
            bureau=self.console.organisations.name_of(self.principal.org), **context).encode("utf-8")
        self.gate.answered(self.call, "OK")
        return Answer(200, body)

    def download(self, body: bytes, content_type: str, filename: str) -> Answer:
        self.gate.answered(self.call, "OK")
        return Answer(200, body, content_type, [("Content-Disposition", f'attachment; filename="{filename}"')])


Page = Callable[[Visit], Answer]


class Console:
    """The WSGI application: routes, the gate, the access log, the store (through the gate), the CSRF secret and
    the bureaus whose auditors see only their members' accesses."""

    def __init__(self, gate: Gate, audit: AuditLog, routes: Mapping[tuple[str, str], tuple[str, Page]],
                 csrf: CsrfTokens | None = None, organisations: Organisations | None = None) -> None:
        self.gate, self.audit, self.routes = gate, audit, routes
        self.organisations = organisations or Organisations()  # the bureaus (policies/organisations.toml)
        self.csrf = csrf or CsrfTokens()
        self.templates = jinja2.Environment(loader=jinja2.PackageLoader("gateway.console", "templates"),
                                            autoescape=True, undefined=jinja2.StrictUndefined)
        messages.catalogue()  # a broken message file stops the start, not a page

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", "/"))
        verb = str(environ.get("REQUEST_METHOD", "GET"))
        route = self.routes.get((verb, path))
        call = Call(method=f"{SERVICE}/{route[0]}" if route else f"{SERVICE}/(unknown)", known_method=bool(route))
        answer = self.handle(environ, call, path, route[1] if route else None)
        start_response(status_line(answer.status), answer.headers())
        principal = call.principal.id if call.principal else "-"
        access_log.info("%s %s %s %d %s", environ.get("REMOTE_ADDR", "-"), verb, path, answer.status, principal)
        return [answer.body] if verb != "HEAD" else []

    def handle(self, environ: Mapping[str, Any], call: Call, path: str, page: Page | None) -> Answer:
        lang = "zh"
        refused: errors.Refused | None = None
        try:
            visit = Visit(self, environ, call)
            lang = visit.lang
            if path.startswith("/static/"):
                return self.static(visit, path)
            if page is None:
                raise not_found()
            return page(visit)
        except errors.Refused as exc:
            refused, outcome = exc, Decision.INVALID if exc.code is grpc.StatusCode.INVALID_ARGUMENT else Decision.DENY
        except TooLarge as exc:
            refused = errors.invalid_argument(str(exc), "too long")
            outcome = Decision.INVALID
        except LogUnavailable:
            return self.refusal(lang, 503, "unavailable", "LOG_UNAVAILABLE")
        except StoreUnavailable as exc:
            log.warning("console %s: %s", call.method, exc)
            refused = errors.unavailable("UNAVAILABLE", "the gateway's database is unavailable")
            outcome = Decision.ERROR
        except Exception:
            log.exception("console %s failed", call.method)
            refused, outcome = None, Decision.ERROR
        try:
            if not call.logged:
                self.gate.log(call, outcome, refused.reason if refused else "INTERNAL")
        except Exception:
            log.exception("access log unavailable")
            return self.refusal(lang, 503, "unavailable", "LOG_UNAVAILABLE")
        if refused is None:
            return self.refusal(lang, 500, "error", "INTERNAL")
        status, kind = HTTP_OF.get(refused.code, (500, "error"))
        return self.refusal(lang, status, kind, refused.reason)

    def refusal(self, lang: str, status: int, kind: str, reason: str) -> Answer:
        words = messages.for_language(lang)
        body = self.templates.get_template("refused.html").render(t=words.t, kind=kind, reason=reason)
        return Answer(status, body.encode("utf-8"))

    def static(self, visit: Visit, path: str) -> Answer:
        """A file of the package's static/ folder, to an accepted and unrevoked certificate."""
        self.gate.authenticate_peer(visit.pems, visit.call)
        m = _STATIC_PATH.fullmatch(path)
        if m is None or ".." in m.group(1):
            raise not_found()
        resource = importlib.resources.files("gateway.console") / "static"
        for part in m.group(1).split("/"):
            resource = resource / part
        kind = STATIC_TYPES.get("." + m.group(1).rsplit(".", 1)[-1]) if "." in m.group(1) else None
        if kind is None or not resource.is_file():
            raise not_found()
        visit.call.logged = True  # the package's own files: not an access to anyone's data
        return Answer(200, resource.read_bytes(), kind)
