"""The console's oversight pages: Overview, Alerts (with the acknowledgement form) and the Organisation report.

Each calls its use case in gateway/service (oversight_overview, oversight_alerts, oversight_orgs) with the officer's
scope (pages.scope: the callers' district and organisations it may see) and renders it; as every page, it is
decided by the policy and logged through the gate. Acknowledging an alert is itself an access-log entry
(AcknowledgeAlert, case `alert-<seq>`), and the stored acknowledgement names that entry. Times are shown in Beijing
time; the use cases count in UTC.
"""
from __future__ import annotations

import datetime as _dt

import grpc

from gateway.audit.entry import Decision
from gateway.console.app import Visit, beijing
from gateway.console.pages import TEXT, day_start, scope
from gateway.console.web import Answer
from gateway.domain import clock
from gateway.server import errors
from gateway.service import oversight_alerts, oversight_orgs, oversight_overview

ORG_DEFAULT_DAYS = 30


def _hour_label(rfc3339: str) -> str:
    """An hour's UTC start as its Beijing "MM-DD HH:00" (the chart's and the table's row label)."""
    return beijing(rfc3339)[5:16]


def age(seconds: int, visit: Visit) -> str:
    """A duration in the page's words, to the minute (seconds under one minute)."""
    t = visit.words.t
    if seconds < 60:
        return f"{seconds} {t('unit.seconds')}"
    days, rest = divmod(seconds // 60, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "unit.days"), (hours, "unit.hours"), (minutes, "unit.minutes")]
    return " ".join(f"{n} {t(k)}" for n, k in parts if n) or f"0 {t('unit.minutes')}"


def overview(visit: Visit) -> Answer:
    principal = visit.admit()
    within = scope(visit, principal)
    now = clock.rfc3339(clock.now())
    ov = oversight_overview.overview(visit.gate.store, now, within)
    labels = [_hour_label(h) for h in ov.hours]
    roles = ov.roles()
    series = [ov.series(r) for r in roles]
    chart = {"kind": "bar", "x": labels, "series": [{"name": r, "data": s} for r, s in zip(roles, series, strict=True)],
             "stack": True, "x_label": visit.words.t("overview.hour"), "y_label": visit.words.t("overview.calls")}
    rows = [(label, [s[i] for s in series], sum(s[i] for s in series)) for i, label in enumerate(labels)]
    return visit.page("overview.html", "overview", ov=ov, everywhere=within.district is None,
                      district=principal.district, chart=chart, roles=roles, rows=rows,
                      age=age(ov.checkpoint.age_seconds, visit) if ov.checkpoint else "",
                      rate=f"{ov.refusal_rate:.1%}" if ov.refusal_rate is not None else "")


def alerts(visit: Visit) -> Answer:
    principal = visit.admit()
    within = scope(visit, principal)
    raw = visit.query.get("page", "1")
    number = int(raw) if raw.isdigit() and len(raw) < 7 else 0
    open_only = visit.query.get("open", "") == "1"
    try:
        got = oversight_alerts.alerts(visit.gate.store, within, page=number, open_only=open_only)
    except oversight_alerts.BadPage as exc:
        raise errors.invalid_argument("page", str(exc)) from exc
    keep = {"open": "1" if open_only else ""}
    return visit.page(
        "alerts.html", "alerts", got=got, everywhere=within.district is None, district=principal.district,
        open_only=open_only, max_note=oversight_alerts.MAX_NOTE,
        prev_url=visit.url("/alerts", **keep, page=got.page - 1) if got.page > 1 else "",
        next_url=visit.url("/alerts", **keep, page=got.page + 1) if got.page < got.pages else "",
        all_url=visit.url("/alerts"), open_url=visit.url("/alerts", open="1"))


def _conflict(reason: str, message: str) -> errors.Refused:
    return errors.Refused(grpc.StatusCode.FAILED_PRECONDITION, message, reason)


def acknowledge(visit: Visit) -> Answer:
    """POST /alerts/ack: check, log the acknowledgement through the gate, store it naming that entry, see /alerts."""
    principal = visit.admit()
    fields = visit.form()  # a missing or foreign CSRF token: refused 403, and logged, before anything else
    raw = fields.get("alert", "")
    seq = int(raw) if raw.isdigit() and len(raw) < 19 else 0
    visit.call.case_id = f"alert-{seq}"
    within = scope(visit, principal)
    store = visit.gate.store
    try:
        note = oversight_alerts.check_acknowledgeable(store, seq, fields.get("note", ""), within)
    except oversight_alerts.BadNote as exc:
        raise errors.invalid_argument("note", str(exc)) from exc
    except oversight_alerts.NotAnAlert as exc:
        raise errors.invalid_argument("alert", str(exc)) from exc
    except oversight_alerts.AlreadyAcknowledged as exc:
        raise _conflict("ALREADY_ACKNOWLEDGED", str(exc)) from exc
    log_seq = visit.gate.log(visit.call, Decision.ALLOW, "ACKNOWLEDGED")
    try:
        oversight_alerts.acknowledge(store, seq, note, principal.id, log_seq, clock.rfc3339(clock.now()), within)
    except oversight_alerts.AlreadyAcknowledged as exc:  # another officer, in between: the log says so too
        visit.gate.log(visit.call, Decision.DENY, "ALREADY_ACKNOWLEDGED")
        raise _conflict("ALREADY_ACKNOWLEDGED", str(exc)) from exc
    return Answer(303, b"", extra=[("Location", visit.url("/alerts"))])


def _today() -> _dt.date:
    return clock.now().astimezone(clock.CHINA).date()


def org(visit: Visit) -> Answer:
    principal = visit.admit()
    within = scope(visit, principal)
    q = visit.query
    code = q.get("org", "").strip()
    until = q.get("until", "").strip() or _today().isoformat()
    since = q.get("since", "").strip() or (_today() - _dt.timedelta(days=ORG_DEFAULT_DAYS - 1)).isoformat()
    report = None
    if code:
        if not TEXT.fullmatch(code):
            raise errors.invalid_argument("org", "letters, digits and - _ . : / # ( )")
        lo, hi = day_start(since, "since"), day_start(until, "until", plus=1)
        assert lo is not None and hi is not None
        try:
            report = oversight_orgs.org_report(visit.gate.store, code, lo, hi, within)
        except oversight_orgs.BadReport as exc:
            raise errors.invalid_argument("period", str(exc)) from exc
    chart: dict[str, object] | None = None
    rows: list[tuple[str, list[int], int]] = []
    outcomes: tuple[str, ...] = ()
    if report is not None:
        outcomes = report.outcomes()
        series = [report.series(d) for d in outcomes]
        chart = {"kind": "bar", "x": list(report.days), "stack": True,
                 "series": [{"name": visit.words.t("decision." + d), "data": s}
                            for d, s in zip(outcomes, series, strict=True)],
                 "x_label": visit.words.t("org.day"), "y_label": visit.words.t("org.accesses")}
        rows = [(day, [s[i] for s in series], sum(s[i] for s in series)) for i, day in enumerate(report.days)]
    purposes = visit.gate.policy.table.catalogue.purposes
    return visit.page("org.html", "org", everywhere=within.district is None, district=principal.district,
                      form={"org": code, "since": since, "until": until}, report=report, chart=chart, rows=rows,
                      outcomes=outcomes, purposes=purposes)
