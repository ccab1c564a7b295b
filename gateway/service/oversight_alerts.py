"""The console's Alerts page: the log's alert entries (bulk lookups, off-hours bursts, denied storms, quota warnings
and quotas exceeded), newest first, a page at a time, each with an officer's acknowledgement if it has one.

Acknowledging is two writes made by two parts: the console logs the officer's AcknowledgeAlert call through the
gate (an access-log entry, like every console action), then `acknowledge` stores the acknowledgement naming that
entry's seq, so the two point at each other. `check_acknowledgeable` lets the console refuse a bad request before
it logs anything; `acknowledge` checks again (and the store keeps at most one acknowledgement per alert, so two
officers acknowledging at once cannot both succeed). The note is free text and may name a person: the store keeps
it encrypted, and no error here repeats it.
"""
from __future__ import annotations

from dataclasses import dataclass

from gateway.audit.entry import AccessEntry, Decision
from gateway.audit.oversight_rows import Acknowledgement
from gateway.audit.port import EVERYWHERE, EntryScope, LogStore
from gateway.errors import GatewayError
from gateway.service.oversight_time import instant, log_time

PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_PAGE = 100_000  # with MAX_PER_PAGE, far beyond any log's alerts; bounds the OFFSET the store is asked for
MAX_NOTE = 1000  # characters


class BadPage(GatewayError, ValueError):
    """A page number or page size out of range."""


class NotAnAlert(GatewayError, LookupError):
    """The entry to acknowledge does not exist, is not an alert, or lies outside the officer's scope."""


class AlreadyAcknowledged(GatewayError, ValueError):
    """The alert already has an acknowledgement: it is kept, never replaced."""


class BadNote(GatewayError, ValueError):
    """The acknowledgement's note is empty or too long (its text is never repeated)."""


class BadAcknowledgement(GatewayError, ValueError):
    """The acknowledgement names no officer, or an access-log entry that cannot be the one recording it."""


@dataclass(frozen=True, slots=True)
class AlertItem:
    entry: AccessEntry  # decision "alert"; reason is the kind (BULK_LOOKUP, QUOTA_WARNING, ...)
    acknowledgement: Acknowledgement | None


@dataclass(frozen=True, slots=True)
class AlertPage:
    items: tuple[AlertItem, ...]  # newest first
    page: int  # 1-based
    per_page: int
    total: int  # alerts matching, over all pages
    open_only: bool

    @property
    def pages(self) -> int:
        """How many pages the matching alerts fill (at least 1, an empty first page)."""
        return max(1, -(-self.total // self.per_page))


def alerts(store: LogStore, scope: EntryScope = EVERYWHERE, *, page: int = 1, per_page: int = PER_PAGE,
           open_only: bool = False) -> AlertPage:
    """A page of the alerts within `scope` (the officer's); a page past the last one is empty."""
    if not 1 <= page <= MAX_PAGE:
        raise BadPage(f"page: a number from 1 to {MAX_PAGE}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise BadPage(f"per_page: a number from 1 to {MAX_PER_PAGE}")
    total = store.alert_count(scope, open_only)
    rows = store.alerts(scope, open_only, (page - 1) * per_page, per_page) if total else []
    return AlertPage(tuple(AlertItem(e, a) for e, a in rows), page, per_page, total, open_only)


def _alert(store: LogStore, alert_seq: int, scope: EntryScope) -> AccessEntry:
    found = next(iter(store.access_entries_at(alert_seq)), None) if alert_seq >= 1 else None
    if found is None or found.seq != alert_seq or found.decision != Decision.ALERT:
        raise NotAnAlert(f"entry {alert_seq} is not an alert")
    if not scope.admits(found.district, found.org):
        raise NotAnAlert(f"entry {alert_seq} is not an alert within this officer's scope")
    return found


def check_acknowledgeable(store: LogStore, alert_seq: int, note: str, scope: EntryScope = EVERYWHERE) -> str:
    """Refuse (with the errors above) what `acknowledge` would refuse; the note, stripped, if all is well."""
    text = note.strip()
    if not text:
        raise BadNote("the note is empty: say what was looked at and found")
    if len(text) > MAX_NOTE:
        raise BadNote(f"the note has {len(text)} characters; at most {MAX_NOTE}")
    _alert(store, alert_seq, scope)
    if store.acknowledgement(alert_seq) is not None:
        raise AlreadyAcknowledged(f"alert {alert_seq} is already acknowledged")
    return text


def acknowledge(store: LogStore, alert_seq: int, note: str, officer: str, log_seq: int, now: str,
                scope: EntryScope = EVERYWHERE) -> Acknowledgement:
    """Store the acknowledgement of alert `alert_seq` by `officer` (a principal id), recorded by log entry
    `log_seq`, at `now` (RFC 3339); only an alert within `scope` (the officer's)."""
    text = check_acknowledgeable(store, alert_seq, note, scope)
    if not officer:
        raise BadAcknowledgement("the acknowledging officer's principal is missing")
    if not alert_seq < log_seq <= store.log_size():
        raise BadAcknowledgement(f"log entry {log_seq} cannot record the acknowledgement of alert {alert_seq}")
    ack = Acknowledgement(alert_seq, log_time(instant(now, "now")), officer, text, log_seq)
    if not store.add_acknowledgement(ack):
        raise AlreadyAcknowledged(f"alert {alert_seq} is already acknowledged")
    return ack
