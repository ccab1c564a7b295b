"""The shared anomaly detector's own work, with fake counters: what each entry is counted towards, alerts built
as the in-memory detector builds them, failures that cost alerts but never the call, pruning now and then, and
the choice between the shared and the in-memory detector. The SQL itself is tested on both databases in
tests/integration/test_shared_anomalies.py.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from gateway.audit.entry import AccessEntry, Decision
from gateway.identity.ca import init_ca, issue_client
from gateway.identity.principal import Principal
from gateway.server.permit_service import PermitService
from gateway.watch.anomalies import BULK_LOOKUP, DENIED_STORM, KINDS, OFF_HOURS_BURST, AnomalyDetector, alert_message
from gateway.watch.shared_anomalies import (
    PRUNE_BATCH,
    PRUNE_EVERY_SECONDS,
    SharedAnomalyDetector,
    SharedAnomalyError,
    Tally,
    anomaly_watch,
)
from tests.unit.test_anomalies import SCHOOL, WED_10, WED_22, entry, make_settings, rules, subj
from tests.unit.test_gate import ADULT, Rig, _rig, _status_request


@dataclass
class Recording:
    """Remembers what it was asked to count; fires the kinds it is told to; can be told to fail."""

    fire: dict[str, int] = field(default_factory=dict)  # kind -> count to report
    fail: Exception | None = None
    prune_result: int = 0
    calls: list[tuple[str, float, list[Tally], float]] = field(default_factory=list)
    prunes: list[tuple[float, int]] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)  # sizes of the count_anomalies_many calls

    def count_anomalies(self, principal: str, now: float, tallies: Sequence[Tally],
                        cooldown: float) -> list[tuple[str, int]]:
        if self.fail is not None:
            raise self.fail
        self.calls.append((principal, now, list(tallies), cooldown))
        return [(kind, self.fire[kind]) for kind, *_ in tallies if kind in self.fire]

    def count_anomalies_many(self, principal: str, observations: Sequence[tuple[float, Sequence[Tally]]],
                             cooldown: float) -> list[list[tuple[str, int]]]:
        self.batches.append(len(observations))
        return [self.count_anomalies(principal, now, tallies, cooldown) for now, tallies in observations]

    def prune_anomalies(self, idle_before: float, limit: int) -> int:
        self.prunes.append((idle_before, limit))
        return self.prune_result


def shared(counter: Recording, **settings: object) -> SharedAnomalyDetector:
    return SharedAnomalyDetector(make_settings(**settings), counter)  # type: ignore[arg-type]


def with_others(e: AccessEntry, *others: str) -> AccessEntry:
    return replace(e, subjects=others)


def test_an_entry_is_counted_towards_the_kinds_it_belongs_to_with_its_rules() -> None:
    counter = Recording()
    d = shared(counter, cooldown_min=20, default=rules(bulk=5, off=3, storm=4, bulk_min=10, off_min=30, storm_min=5))
    d.observe(with_others(entry(WED_22, subject=subj(1), decision="deny"), subj(2), subj(1)))
    [(principal, now, tallies, cooldown)] = counter.calls
    assert (principal, now, cooldown) == (SCHOOL, WED_22, 1200)
    assert tallies == [(BULK_LOOKUP, (subj(1), subj(2)), 5, 600), (OFF_HOURS_BURST, None, 3, 1800),
                       (DENIED_STORM, None, 4, 300)]  # every person once, the main subject first


def test_only_what_counts_reaches_the_database() -> None:
    counter = Recording()
    d = shared(counter, default=rules(bulk=5, off=3, storm=4), statistics=rules(bulk=None, off=None, storm=None))
    d.observe(entry(WED_10))  # office hours, about nobody, allowed: nothing to count
    d.observe(entry(WED_22, decision="alert", subject=subj(1)))  # alert entries are never counted
    d.observe(entry(WED_22, principal="", role="school", decision="deny"))  # no principal: not attributed
    d.observe(entry(WED_22, principal="statistics/330200/TJJ", decision="deny"))  # never alerts for this role
    assert counter.calls == []
    d.observe(entry(WED_10, subject=subj(3)))
    assert [t[0] for t in counter.calls[0][2]] == [BULK_LOOKUP]


def test_alerts_read_as_the_in_memory_detectors_in_the_order_of_kinds() -> None:
    counter = Recording(fire={BULK_LOOKUP: 2, OFF_HOURS_BURST: 2, DENIED_STORM: 2})
    d = shared(counter, default=rules(bulk=2, off=2, storm=2))
    memory = AnomalyDetector(make_settings(default=rules(bulk=2, off=2, storm=2)))
    entries = [entry(WED_22 + i, subject=subj(i), decision="deny") for i in range(2)]
    expected = [a for e in entries for a in memory.observe(e)]
    got = d.observe(entries[-1])
    assert [a.kind for a in got] == list(KINDS) and got == expected
    assert got[0].message == alert_message(BULK_LOOKUP, SCHOOL, 2, 600)


def test_a_failing_database_is_logged_and_the_entry_sets_off_nothing(caplog: pytest.LogCaptureFixture) -> None:
    counter = Recording(fire={DENIED_STORM: 4}, fail=ConnectionError("server closed the connection\nunexpectedly"))
    d = shared(counter)
    with caplog.at_level(logging.ERROR, logger="permitgw.watch"):
        assert d.observe(entry(WED_10, decision="deny")) == []
    assert d.failures == 1
    assert "anomaly counts unavailable" in caplog.text and "server closed the connection unexpectedly" in caplog.text
    counter.fail = None  # the database is back: counting goes on
    assert [a.kind for a in d.observe(entry(WED_10 + 1, decision="deny"))] == [DENIED_STORM]
    assert d.failures == 1


def test_a_bad_time_is_still_an_error() -> None:
    with pytest.raises(ValueError):
        shared(Recording()).observe(entry("yesterday", decision="deny"))


def test_idle_principals_are_pruned_now_and_then_by_entry_time() -> None:
    counter = Recording()
    d = shared(counter)  # horizon: the 30-minute cooldown and window
    d.observe(entry(WED_10, decision="deny"))
    d.observe(entry(WED_10 + PRUNE_EVERY_SECONDS - 1, decision="deny"))
    assert counter.prunes == [(WED_10 - 1800, PRUNE_BATCH)]
    counter.prune_result = PRUNE_BATCH  # a full batch: more are idle, prune again at the next entry
    d.observe(entry(WED_10 + PRUNE_EVERY_SECONDS, decision="deny"))
    d.observe(entry(WED_10 + PRUNE_EVERY_SECONDS + 1, decision="deny"))
    assert len(counter.prunes) == 3


def test_a_failing_prune_does_not_cost_the_alert(caplog: pytest.LogCaptureFixture) -> None:
    class PruneFails(Recording):
        def prune_anomalies(self, idle_before: float, limit: int) -> int:
            raise TimeoutError("lock wait")

    d = SharedAnomalyDetector(make_settings(), PruneFails(fire={DENIED_STORM: 10}))
    with caplog.at_level(logging.ERROR, logger="permitgw.watch"):
        assert [a.kind for a in d.observe(entry(WED_10, decision="deny"))] == [DENIED_STORM]
    assert "pruning idle principals failed" in caplog.text


# --- the choice ---------------------------------------------------------------------------------------------------
def test_postgres_counts_in_the_database_sqlite_in_memory_unless_forced() -> None:
    s = make_settings()
    assert isinstance(anomaly_watch(s, Recording(), backend="postgres"), SharedAnomalyDetector)
    assert isinstance(anomaly_watch(s, Recording(), backend="sqlite", force_shared=True), SharedAnomalyDetector)
    assert isinstance(anomaly_watch(s, Recording(), backend="sqlite"), AnomalyDetector)
    with pytest.raises(SharedAnomalyError, match="cannot keep anomaly counts"):
        anomaly_watch(s, object(), backend="postgres")


def test_the_in_memory_detector_is_warmed_with_the_recent_log() -> None:
    history = [entry(WED_10 + i, decision="deny") for i in range(9)]
    d = anomaly_watch(make_settings(default=rules(storm=10)), None, backend="sqlite", history=lambda: history)
    assert [a.kind for a in d.observe(entry(WED_10 + 10, decision="deny"))] == [DENIED_STORM]


# --- through the gate ---------------------------------------------------------------------------------------------
@pytest.fixture
def school_pem(tmp_path: Path) -> bytes:
    keys = tmp_path / "ca" / "keys"
    init_ca(keys)
    issue_client(keys, Principal("school", "org-1", "test school", "330203"), tmp_path / "school")
    return (tmp_path / "school.crt").read_bytes()


@pytest.fixture
def failing_rig(tmp_path: Path) -> Iterator[tuple[Rig, SharedAnomalyDetector]]:
    for rig in _rig(tmp_path):
        detector = SharedAnomalyDetector(make_settings(), Recording(fail=ConnectionError("database gone")))
        rig.gate.anomalies = detector
        yield rig, detector


def test_a_call_is_answered_and_logged_once_while_anomalies_cannot_be_counted(
        failing_rig: tuple[Rig, SharedAnomalyDetector], school_pem: bytes) -> None:
    rig, detector = failing_rig
    answer = PermitService(rig.gate).GetPermitStatus(_status_request(ADULT), rig.context(school_pem))
    assert answer.id_number and answer.valid_until  # answered, neither INTERNAL nor UNAVAILABLE
    assert [(e.decision, e.subject) for e in rig.store.entries] == [(Decision.ALLOW, rig.index(ADULT))]
    assert detector.failures == 1
