"""Query the access log by subject, principal and time, and print it as a table or JSON.

A subject is given as an identity number and searched by its blind index: the log holds no number.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TextIO

from gateway.audit.entry import AccessEntry
from gateway.domain.dates import parse_date
from gateway.domain.idnumber import IdNumber, InvalidIdNumber
from gateway.store.crypto import FieldCipher
from gateway.store.port import AccessQuery, Store


def parse_time(text: str | None, name: str) -> str | None:
    if not text:
        return None
    if "T" in text:
        return text
    try:
        return parse_date(text).isoformat()
    except ValueError as exc:
        raise ValueError(f"--{name}: not a date or RFC 3339 time") from exc


def search(store: Store, cipher: FieldCipher, *, subject: str | None = None, principal: str | None = None,
           since: str | None = None, until: str | None = None) -> Iterator[AccessEntry]:
    subject_index = None
    if subject:
        try:
            subject_index = cipher.blind(IdNumber.parse(subject).value).hex()
        except InvalidIdNumber as exc:
            raise ValueError(f"--subject: {exc}") from exc
    yield from store.access_entries(AccessQuery(subject=subject_index, principal=principal,
                                                since=parse_time(since, "since"), until=parse_time(until, "until")))


_COLUMNS = ("seq", "time", "principal", "method", "purpose", "case_id", "operator_id", "subject", "decision",
            "reason")


def print_entries(entries: Iterable[AccessEntry], *, as_json: bool, out: TextIO) -> None:
    if as_json:
        for e in entries:
            out.write(json.dumps(e.as_dict(), ensure_ascii=False) + "\n")
        return
    rows = [[str(getattr(e, c)) for c in _COLUMNS] for e in entries]
    for r in rows:
        r[3] = r[3].rsplit(".", 1)[-1]  # short method name
        r[7] = r[7][:12]  # subject blind index, shortened for the terminal
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(_COLUMNS)]
    out.write("  ".join(c.ljust(w) for c, w in zip(_COLUMNS, widths, strict=True)).rstrip() + "\n")
    for r in rows:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")
    out.write(f"({len(rows)} entries)\n")
