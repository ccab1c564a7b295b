"""The console's HTTP plumbing: a request as the pages see it, the answer, the security headers and bounds.

Every answer — pages, CSV, static files, refusals — carries the same headers: a strict CSP (no inline script or
style), no caching, no sniffing, no referrer, HSTS. Request bodies are read only up to a bound (POST forms are
small); query strings likewise.
"""
from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import GatewayError

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Strict-Transport-Security", "max-age=31536000"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
MAX_FORM_BYTES = 16 * 1024  # a console form is a few short fields
MAX_QUERY_BYTES = 4 * 1024
MAX_FIELD_CHARS = 200


class TooLarge(GatewayError, ValueError):
    """A form or query string beyond the console's bounds."""


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    extra: list[tuple[str, str]] = field(default_factory=list)

    def headers(self) -> list[tuple[str, str]]:
        return [("Content-Type", self.content_type), ("Content-Length", str(len(self.body))), *SECURITY_HEADERS,
                *self.extra]


STATUS_TEXT = {200: "OK", 303: "See Other", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
               405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large", 429: "Too Many Requests",
               500: "Internal Server Error", 503: "Service Unavailable"}


def status_line(code: int) -> str:
    return f"{code} {STATUS_TEXT.get(code, 'Unknown')}"


def parse_fields(raw: str) -> dict[str, str]:
    """A query string or urlencoded form: the first value of each name, each at most MAX_FIELD_CHARS."""
    out: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(raw, keep_blank_values=True, max_num_fields=40):
        if len(value) > MAX_FIELD_CHARS:
            raise TooLarge(name)
        out.setdefault(name, value)
    return out


def read_form(environ: Mapping[str, Any]) -> dict[str, str]:
    """The POSTed urlencoded form, refused beyond MAX_FORM_BYTES (the server bounds the body too)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if not 0 <= length <= MAX_FORM_BYTES:
        raise TooLarge("body")
    body = environ["wsgi.input"].read(length) if length else b""
    return parse_fields(body.decode("utf-8", "replace"))


def query_fields(environ: Mapping[str, Any]) -> dict[str, str]:
    raw = str(environ.get("QUERY_STRING", ""))
    if len(raw) > MAX_QUERY_BYTES:
        raise TooLarge("query")
    return parse_fields(raw)


def url(path: str, lang: str, params: Iterable[tuple[str, object]] = ()) -> str:
    """A console address with its parameters (never an identity number: callers pass blind indexes)."""
    pairs = [(k, str(v)) for k, v in params if v not in ("", None)]
    if lang != "zh":
        pairs.append(("lang", lang))
    return path + ("?" + urllib.parse.urlencode(pairs) if pairs else "")
