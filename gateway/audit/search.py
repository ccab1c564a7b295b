"""Query the access log by subject, principal and time, and print it as a table or JSON.

A subject is given as an identity number and searched by its blind index: the log holds no number.
"""
from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Iterator
from typing import TextIO

from gateway.audit.entry import AccessEntry
from gateway.audit.port import AccessQuery, Blinder, LogStore
from gateway.domain.dates import parse_date
from gateway.domain.idnumber import IdNumber, InvalidIdNumber
from gateway.errors import GatewayError


class BadSearch(GatewayError, ValueError):
    """A search option that cannot be understood; the message names the option, never the value."""


def parse_time(text: str | None, name: str) -> str | None:
    if not text:
        return None
    if "T" in text:
        return text
    try:
        return parse_date(text).isoformat()
    except ValueError as exc:
        raise BadSearch(f"--{name}: not a date or RFC 3339 time") from exc


def search(store: LogStore, cipher: Blinder, *, subject: str | None = None, principal: str | None = None,
           since: str | None = None, until: str | None = None) -> Iterator[AccessEntry]:
    subject_index = None
    if subject:
        try:
            subject_index = cipher.blind(IdNumber.parse(subject).value).hex()
        except InvalidIdNumber as exc:
            raise BadSearch(f"--subject: {exc}") from exc
    yield from store.access_entries(AccessQuery(subject=subject_index, principal=principal,
                                                since=parse_time(since, "since"), until=parse_time(until, "until")))


_COLUMNS = ("seq", "time", "principal", "method", "purpose", "case_id", "operator_id", "subject", "decision",
            "reason")


def _unsafe(ch: str) -> bool:
    """Characters a terminal acts on or that reorder text: C0/C1 controls, format characters (bidi overrides,
    zero-width), line and paragraph separators."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def terminal_safe(text: str) -> str:
    """`text` with every unsafe character (and the backslash) written as a visible escape: one field, one line."""
    if not any(ch == "\\" or _unsafe(ch) for ch in text):
        return text
    return "".join("\\\\" if ch == "\\" else _escape(ch) if _unsafe(ch) else ch for ch in text)


def _escape(ch: str) -> str:
    """A \\uXXXX escape, as a UTF-16 surrogate pair beyond the BMP (as JSON spells it)."""
    units = ch.encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04x}" for i in range(0, len(units), 2))


def json_line(value: object) -> str:
    """One JSON line in which no character a terminal acts on appears raw (json escapes only C0 and quotes)."""
    text = json.dumps(value, ensure_ascii=False)
    return "".join(_escape(ch) if _unsafe(ch) else ch for ch in text)


def print_entries(entries: Iterable[AccessEntry], *, as_json: bool, out: TextIO) -> None:
    """Print entries; every field is escaped, so what bureaus sent can neither forge a row nor drive the terminal."""
    if as_json:
        for e in entries:
            out.write(json_line(e.as_dict()) + "\n")
        return
    rows = [[terminal_safe(str(getattr(e, c))) for c in _COLUMNS] for e in entries]
    for r in rows:
        r[3] = r[3].rsplit(".", 1)[-1]  # short method name
        r[7] = r[7][:12]  # subject blind index, shortened for the terminal
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(_COLUMNS)]
    out.write("  ".join(c.ljust(w) for c, w in zip(_COLUMNS, widths, strict=True)).rstrip() + "\n")
    for r in rows:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")
    out.write(f"({len(rows)} entries)\n")
