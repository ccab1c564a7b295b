"""The console's log pages: Search (with CSV export), Entry (with the proof the browser verifies), Person report.
(Overview, Alerts and the Organisation report are in oversight_pages.py; the routes in routes.py.)

An identity number is only ever POSTed: it becomes the blind index at once (the log records that, never the
number), is shown masked, and paging and export links carry the blind index — no number in any address.
"""
from __future__ import annotations

import base64
import csv
import datetime as _dt
import io
import re

from gateway.audit.entry import AccessEntry, Decision
from gateway.audit.port import AccessQuery, EntryScope
from gateway.console.app import Visit, beijing
from gateway.console.web import Answer
from gateway.domain import clock
from gateway.identity.principal import Principal
from gateway.policy.decisions import CITY, IN, OUT
from gateway.server import errors
from gateway.service import audit_queries

PAGE_SIZE = 50
EXPORT_LIMIT = 10_000
DECISIONS = (Decision.ALLOW, Decision.DENY, Decision.INVALID, Decision.ERROR, Decision.ALERT)
ENTRY_FIELDS = ("time", "principal", "serial", "role", "org", "district", "method", "purpose", "case_id",
                "operator_id", "subject", "decision", "reason", "policy_version")
# the label keys static/verify.js reads from #proof-labels (its comment block); each is messages' "verify.<key>"
VERIFY_LABELS = (*(f"step.{s}" for s in ("key", "data", "signature", "checkpoint", "leaf", "path", "root", "fields")),
                 *(f"result.{r}" for r in ("pending", "ok", "failed", "no-key")),
                 *(f"reason.{r}" for r in ("key-malformed", "key-id", "data-malformed", "note-malformed",
                                           "no-signature", "bad-signature", "body-malformed", "origin", "size",
                                           "entry-malformed", "proof-malformed", "proof-length", "root-mismatch",
                                           "entry-not-json", "field-mismatch", "no-webcrypto", "error")))
_BLIND = re.compile(r"[0-9a-f]{16,128}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TEXT = re.compile(r"[A-Za-z0-9_.:/#()-]{0,120}")


def scope(visit: Visit, principal: Principal) -> EntryScope:
    """Whose accesses this officer sees, by the caller recorded in each entry (gateway/console/scoping.py)."""
    return visit.scope(principal)


def day_start(value: str, name: str, plus: int = 0) -> str | None:
    """A YYYY-MM-DD date (Beijing) as the RFC 3339 UTC instant its day starts (+ `plus` days)."""
    if not value:
        return None
    try:
        day = _dt.date.fromisoformat(value) if _DATE.fullmatch(value) else None
    except ValueError:
        day = None
    if day is None:
        raise errors.invalid_argument(name, "a date YYYY-MM-DD")
    at = _dt.datetime.combine(day + _dt.timedelta(days=plus), _dt.time(), clock.CHINA)
    return clock.rfc3339(at.astimezone(_dt.UTC))


def _filters(fields: dict[str, str], visit: Visit) -> dict[str, str]:
    """The search's filters (never an identity number), validated; the subject is a blind index."""
    table = visit.gate.policy.table
    out = {k: fields.get(k, "").strip() for k in ("subject", "principal", "org", "role", "purpose", "decision",
                                                   "since", "until", "after")}
    if out["subject"] and not _BLIND.fullmatch(out["subject"]):
        raise errors.invalid_argument("subject", "a blind index")
    for name in ("principal", "org"):
        if not TEXT.fullmatch(out[name]):
            raise errors.invalid_argument(name, "letters, digits and - _ . : / # ( )")
    if out["role"] and out["role"] not in table.catalogue.roles:
        raise errors.invalid_argument("role", "a role of the policy")
    if out["purpose"] and out["purpose"] not in table.catalogue.purposes:
        raise errors.invalid_argument("purpose", "a purpose of the policy")
    if out["decision"] and out["decision"] not in DECISIONS:
        raise errors.invalid_argument("decision", "allow, deny, invalid, error or alert")
    if out["after"] and not out["after"].isdigit():
        raise errors.invalid_argument("after", "a sequence number")
    return out


def _query(f: dict[str, str], within: EntryScope, limit: int) -> AccessQuery:
    return AccessQuery(subject=f["subject"] or None, principal=f["principal"] or None, org=f["org"] or None,
                       role=f["role"] or None, purpose=f["purpose"] or None, decision=f["decision"] or None,
                       since=day_start(f["since"], "since"), until=day_start(f["until"], "until", plus=1),
                       scope=within, after=int(f["after"]) if f["after"] else None, limit=limit)


def _person(visit: Visit, fields: dict[str, str]) -> str:
    """The POSTed identity number as the blind index the log and the search use; noted as the call's subject.
    Returns the number masked, the only way it is ever shown."""
    raw = fields.get("id_number", "").strip()
    if not raw:
        return ""
    who = visit.gate.subject(visit.call, raw, "id_number")
    return who.masked()


def search(visit: Visit) -> Answer:
    principal = visit.admit()
    fields = visit.form() if visit.verb == "POST" else visit.query
    person = ""
    if visit.verb == "POST":
        person = _person(visit, fields)
        fields = {**{k: v for k, v in fields.items() if k != "id_number"}, "subject": visit.call.subject,
                  "after": ""}
    f = _filters(fields, visit)
    if f["subject"] and not visit.call.subject:
        visit.call.subject = f["subject"]  # the log says whom a paged search was about
    searched = visit.verb == "POST" or any(v for k, v in visit.query.items() if k != "lang")
    within = scope(visit, principal)
    entries = list(visit.gate.store.access_entries(_query(f, within, PAGE_SIZE + 1))) if searched else []
    more, entries = len(entries) > PAGE_SIZE, entries[:PAGE_SIZE]
    keep = {k: v for k, v in f.items() if k != "after"}
    table = visit.gate.policy.table
    return visit.page(
        "search.html", "search", everywhere=within.district is None, district=principal.district, filters=f,
        roles=table.catalogue.roles, purposes=sorted(table.catalogue.purposes), decisions=DECISIONS,
        searched=searched, person=person, entries=entries,
        next_url=visit.url("/search", **keep, after=entries[-1].seq) if more and entries else "",
        export_url=visit.url("/export", **keep))


def export(visit: Visit) -> Answer:
    principal = visit.admit()
    f = _filters(visit.query, visit)
    visit.call.subject = f["subject"]
    entries = visit.gate.store.access_entries(_query(f, scope(visit, principal), EXPORT_LIMIT))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("seq", "beijing_time", *ENTRY_FIELDS, "subjects"))
    for e in entries:
        writer.writerow((e.seq, beijing(e.time), *(getattr(e, k) for k in ENTRY_FIELDS), " ".join(e.subjects)))
    stamp = clock.now().astimezone(clock.CHINA).strftime("%Y%m%d-%H%M%S")
    return visit.download(out.getvalue().encode("utf-8-sig"), "text/csv; charset=utf-8",
                          f"permitgw-access-log-{stamp}.csv")


def _in_district(entry: AccessEntry, principal: Principal) -> bool:
    return principal.district == CITY or entry.district == principal.district


def entry(visit: Visit) -> Answer:
    raw = visit.query.get("seq", "")
    seq = int(raw) if raw.isdigit() and len(raw) < 19 else 0
    found = next(visit.gate.store.access_entries_at(seq), None) if seq > 0 else None
    found = found if found is not None and found.seq == seq else None
    # an entry made by a caller of another district is out of this officer's district: the policy decides
    pems_principal = visit.gate.authenticate_peer(visit.pems, visit.call)
    principal = visit.admit(scope=IN if found is None or _in_district(found, pems_principal) else OUT)
    if found is None:
        raise errors.invalid_argument("seq", "the sequence number of an entry in the log")
    if not scope(visit, principal).admits(found.district, found.org):  # a bureau's auditor: not its members' entry
        raise errors.permission_denied("OUT_OF_SCOPE", "the entry was made by an organisation outside this "
                                       "officer's scope")
    table = visit.gate.policy.table
    proof = None
    cps = visit.gate.store.checkpoints()
    if cps and cps[-1][0] >= seq:
        inc = audit_queries.inclusion(visit.gate.store, visit.console.audit, seq - 1, 0)
        proof = {"entry": base64.b64encode(inc.entry.canonical_bytes()).decode("ascii"), "index": inc.index,
                 "size": inc.size, "proof": [p.hex() for p in inc.proof], "checkpoint": inc.checkpoint,
                 "origin": visit.console.audit.origin}
    labels = {k: visit.words.t(f"verify.{k}") for k in VERIFY_LABELS}
    return visit.page("entry.html", "entry", entry=found, fields=ENTRY_FIELDS, proof=proof, labels=labels,
                      verifier=visit.console.audit.verifier,
                      lines=table.lines_for(found.role, found.district, found.purpose, found.method),
                      policy_current=found.policy_version == table.version, current_version=table.version)


def person(visit: Visit) -> Answer:
    principal = visit.admit()
    fields = visit.form()
    masked = _person(visit, fields) if visit.verb == "POST" else ""
    entries: list[AccessEntry] = []
    within = scope(visit, principal)
    if masked:
        entries = [e for e in audit_queries.subject_accesses(visit.gate.store, visit.call.subject)
                   if within.admits(e.district, e.org)]
    cps = visit.gate.store.checkpoints()
    checkpoint = {"size": cps[-1][0], "root": cps[-1][1].hex()} if cps else None
    table = visit.gate.policy.table
    return visit.page("person.html", "person", searched=bool(masked), person=masked, entries=entries,
                      everywhere=within.district is None, district=principal.district, checkpoint=checkpoint,
                      purposes=table.catalogue.purposes)
