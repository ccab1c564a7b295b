"""The console's Alerts use cases over the in-memory store: newest first, pages and their bounds, district scope,
and acknowledgements — stored once, linked to their log entry, refused for a non-alert, twice, or a bad note."""
from __future__ import annotations

import pytest

from gateway.audit.entry import AccessEntry, Decision
from gateway.audit.port import EVERYWHERE, EntryScope
from gateway.service.oversight_alerts import (
    MAX_NOTE,
    MAX_PAGE,
    MAX_PER_PAGE,
    AlreadyAcknowledged,
    BadAcknowledgement,
    BadNote,
    BadPage,
    NotAnAlert,
    acknowledge,
    alerts,
    check_acknowledgeable,
)
from gateway.service.oversight_time import BadTime
from tests.fakes import FakeStore

NOW = "2026-06-15T04:00:00Z"
OFFICER = "auditor/330200/city-audit"


def entry(i: int, *, decision: str = Decision.ALERT, district: str = "330203", reason: str = "BULK_LOOKUP"
          ) -> AccessEntry:
    return AccessEntry(f"2026-06-15T03:{i:02d}:00.000000Z", f"school/{district}/o1", "ab", "school", "o1", district,
                       "/permitgw.v1.Residence/GetStatus", "enrolment", "case", "op", "", decision, reason, "v1")


def log(*entries: AccessEntry) -> FakeStore:
    store = FakeStore()
    store.append_accesses(list(entries))
    return store


def officer_entry(store: FakeStore) -> int:
    """The access-log entry the console writes for the acknowledgement (through the gate, in the real thing)."""
    return store.append_access(entry(59, decision=Decision.ALLOW, reason="OK"))


def test_alerts_come_newest_first_with_only_alert_entries() -> None:
    store = log(entry(0), entry(1, decision=Decision.ALLOW), entry(2, reason="OFF_HOURS_BURST"),
                entry(3, decision=Decision.DENY), entry(4, reason="QUOTA_WARNING"))
    page = alerts(store)
    assert [(i.entry.seq, i.entry.reason, i.acknowledgement) for i in page.items] == [
        (5, "QUOTA_WARNING", None), (3, "OFF_HOURS_BURST", None), (1, "BULK_LOOKUP", None)]
    assert (page.total, page.pages, page.page, page.per_page) == (3, 1, 1, 50)


def test_pages_split_the_alerts_and_a_page_past_the_last_is_empty() -> None:
    store = log(*[entry(i) for i in range(5)])
    pages = [alerts(store, page=n, per_page=2) for n in (1, 2, 3, 4)]
    assert [[i.entry.seq for i in p.items] for p in pages] == [[5, 4], [3, 2], [1], []]
    assert {(p.total, p.pages) for p in pages} == {(5, 3)}
    assert alerts(FakeStore()).pages == 1  # no alerts: one empty page


@pytest.mark.parametrize(("page", "per_page"), [(0, 10), (-1, 10), (MAX_PAGE + 1, 10), (1, 0), (1, MAX_PER_PAGE + 1)])
def test_page_numbers_and_sizes_are_bounded(page: int, per_page: int) -> None:
    with pytest.raises(BadPage):
        alerts(log(entry(0)), page=page, per_page=per_page)


def test_the_largest_page_allowed_is_answered() -> None:
    assert alerts(log(entry(0)), page=MAX_PAGE, per_page=MAX_PER_PAGE).items == ()


def test_a_district_sees_the_alerts_of_its_own_callers_only() -> None:
    store = log(entry(0), entry(1, district="330205"), entry(2, district="330205"))
    assert [i.entry.seq for i in alerts(store, EntryScope("330205")).items] == [3, 2]
    assert [i.entry.seq for i in alerts(store, EntryScope("330203")).items] == [1]
    assert alerts(store, EntryScope("330281")).total == 0
    assert alerts(store, EVERYWHERE).total == 3


def test_an_acknowledgement_is_stored_linked_to_its_log_entry_and_shown_with_the_alert() -> None:
    store = log(entry(0), entry(1))
    recorded = officer_entry(store)
    ack = acknowledge(store, 2, "  looked at it: a school's admission day  ", OFFICER, recorded,
                      "2026-06-15T12:00:00+08:00")
    assert (ack.alert_seq, ack.time, ack.officer, ack.note, ack.log_seq) == (
        2, "2026-06-15T04:00:00.000000Z", OFFICER, "looked at it: a school's admission day", 3)
    page = alerts(store)
    assert [(i.entry.seq, i.acknowledgement) for i in page.items] == [(2, ack), (1, None)]
    assert [i.entry.seq for i in alerts(store, open_only=True).items] == [1]
    assert alerts(store, open_only=True).total == 1


def test_acknowledging_twice_is_refused_and_the_first_acknowledgement_kept() -> None:
    store = log(entry(0))
    first = acknowledge(store, 1, "first", OFFICER, officer_entry(store), NOW)
    with pytest.raises(AlreadyAcknowledged, match="alert 1"):
        check_acknowledgeable(store, 1, "second")
    with pytest.raises(AlreadyAcknowledged):
        acknowledge(store, 1, "second", "auditor/330203/d", officer_entry(store), NOW)
    assert store.acknowledgement(1) == first


@pytest.mark.parametrize("seq", [0, -1, 2, 3, 99])
def test_only_an_alert_entry_can_be_acknowledged(seq: int) -> None:
    store = log(entry(0), entry(1, decision=Decision.ALLOW, reason="OK"), entry(2, decision=Decision.DENY))
    with pytest.raises(NotAnAlert):
        acknowledge(store, seq, "note", OFFICER, officer_entry(store), NOW)
    assert store.acks == {}


def test_a_district_auditor_cannot_acknowledge_another_districts_alert() -> None:
    store = log(entry(0, district="330205"))
    with pytest.raises(NotAnAlert):
        acknowledge(store, 1, "note", OFFICER, officer_entry(store), NOW, scope=EntryScope("330203"))
    assert acknowledge(store, 1, "note", OFFICER, 2, NOW, scope=EntryScope("330205")).alert_seq == 1


def test_the_note_is_bounded_and_never_repeated_in_the_refusal() -> None:
    store = log(entry(0))
    secret = "110101199003077777 " + "x" * MAX_NOTE
    with pytest.raises(BadNote) as refused:
        acknowledge(store, 1, secret, OFFICER, officer_entry(store), NOW)
    assert "110101" not in str(refused.value) and str(MAX_NOTE) in str(refused.value)
    with pytest.raises(BadNote):
        acknowledge(store, 1, " \n ", OFFICER, 2, NOW)
    assert store.acks == {}
    assert len(acknowledge(store, 1, "y" * MAX_NOTE, OFFICER, 2, NOW).note) == MAX_NOTE


@pytest.mark.parametrize("log_seq", [0, 1, 3])
def test_the_recording_entry_must_follow_the_alert_and_exist(log_seq: int) -> None:
    store = log(entry(0))
    officer_entry(store)  # seq 2
    with pytest.raises(BadAcknowledgement):
        acknowledge(store, 1, "note", OFFICER, log_seq, NOW)


def test_an_acknowledgement_names_its_officer_and_a_time() -> None:
    store = log(entry(0))
    recorded = officer_entry(store)
    with pytest.raises(BadAcknowledgement):
        acknowledge(store, 1, "note", "", recorded, NOW)
    with pytest.raises(BadTime):
        acknowledge(store, 1, "note", OFFICER, recorded, "2026-06-15 04:00")
    assert store.acks == {}
