"""Anomaly alerts: bulk lookups, off-hours bursts and denied storms per principal; cooldown, overrides, replay.

Expectations come from what auditors need ("alert entries auditors can search; thresholds in policies/").
"""
from __future__ import annotations

import datetime as _dt
import random
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.audit.entry import AccessEntry
from gateway.identity.principal import ROLES
from gateway.policy.catalogue import PolicyError
from gateway.settings.anomalies import ANOMALIES_FILE, load_anomalies
from gateway.settings.quotas import load_quotas
from gateway.watch.anomalies import (
    BULK_LOOKUP,
    DENIED_STORM,
    KINDS,
    OFF_HOURS_BURST,
    Alert,
    AnomalyDetector,
    AnomalySettings,
    OfficeHours,
    RoleRules,
    Rule,
    alert_entry,
    china_time,
    entry_seconds,
)

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies"
UTC = _dt.UTC
WED_10 = _dt.datetime(2025, 6, 11, 2, 0, tzinfo=UTC).timestamp()  # Wednesday 10:00 in China: office hours
WED_22 = WED_10 + 12 * 3600  # Wednesday 22:00 in China: off hours
SCHOOL = "school/330203/S1"
OFFICE = OfficeHours(frozenset(range(5)), 7 * 60 + 30, 19 * 60 + 30)  # Mon-Fri 07:30-19:30


def rfc3339(seconds: float) -> str:
    return _dt.datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def cst(local: str) -> str:
    """A China-local wall time ("2025-06-13T07:29") as the log's UTC RFC 3339."""
    t = _dt.datetime.fromisoformat(local).replace(tzinfo=_dt.timezone(_dt.timedelta(hours=8)))
    return rfc3339(t.timestamp())


def entry(when: float | str, *, principal: str = SCHOOL, role: str = "", subject: str = "",
          decision: str = "allow") -> AccessEntry:
    return AccessEntry(
        time=when if isinstance(when, str) else rfc3339(when), principal=principal, serial="0a",
        role=role or principal.split("/", 1)[0], org="S1", district="330203",
        method="permitgw.v1.PermitService/GetPermitStatus", purpose="compulsory-education", case_id="",
        operator_id="", subject=subject, decision=decision, reason="", policy_version="v1")


def rules(bulk: int | None = 5, off: int | None = 3, storm: int | None = 4, office: OfficeHours = OFFICE,
          bulk_min: int = 10, off_min: int = 30, storm_min: int = 5) -> RoleRules:
    return RoleRules(Rule(bulk, bulk_min * 60), Rule(off, off_min * 60), office, Rule(storm, storm_min * 60))


def make_settings(cooldown_min: int = 30, default: RoleRules | None = None, **roles: RoleRules) -> AnomalySettings:
    base = default or rules()
    return AnomalySettings(base, {r: roles.get(r, base) for r in ROLES}, cooldown_min * 60)


def detector(**kw: object) -> AnomalyDetector:
    max_principals = int(kw.pop("max_principals", 10_000))  # type: ignore[call-overload]
    return AnomalyDetector(make_settings(**kw), max_principals=max_principals)  # type: ignore[arg-type]


def kinds(alerts: list[Alert]) -> list[str]:
    return [a.kind for a in alerts]


def feed(d: AnomalyDetector, entries: list[AccessEntry]) -> list[list[str]]:
    return [kinds(d.observe(e)) for e in entries]


def subj(i: int) -> str:
    return f"{i:064x}"  # a hex blind index


# --------------------------------------------------------------------------------------------- each kind


def test_bulk_lookup_fires_exactly_at_the_threshold() -> None:
    d = detector()
    got = feed(d, [entry(WED_10 + i, subject=subj(i)) for i in range(5)])
    assert got == [[]] * 4 + [[BULK_LOOKUP]]
    alert = d.observe(entry(WED_10 + 6, subject=subj(99)))
    assert alert == []  # cooldown


def test_bulk_lookup_counts_distinct_people_not_requests() -> None:
    d = detector()
    many = [entry(WED_10 + i, subject=subj(i % 4)) for i in range(40)]  # four people, ten times each
    assert feed(d, many) == [[]] * 40
    alerts = d.observe(entry(WED_10 + 41, subject=subj(4), decision="deny"))  # a refused fifth person counts
    assert kinds(alerts) == [BULK_LOOKUP]
    assert (alerts[0].principal, alerts[0].count, alerts[0].window_seconds) == (SCHOOL, 5, 600)


def test_bulk_lookup_window_slides() -> None:
    d = detector()
    feed(d, [entry(WED_10, subject=subj(i)) for i in range(4)])
    assert d.observe(entry(WED_10 + 600, subject=subj(4))) == []  # those four are exactly 10 minutes old: out
    got = feed(d, [entry(WED_10 + 1199, subject=subj(5 + i)) for i in range(4)])
    assert got == [[], [], [], [BULK_LOOKUP]]  # 4 (599 seconds before), 5, 6, 7, 8


def test_requests_about_nobody_never_count_as_bulk_lookups() -> None:
    d = detector(default=rules(off=None, storm=None))
    assert feed(d, [entry(WED_22 + i) for i in range(100)]) == [[]] * 100
    assert d.tracked_principals() == 0


def test_off_hours_burst_fires_exactly_at_the_threshold_and_counts_requests_about_nobody() -> None:
    d = detector(default=rules(bulk=None))
    assert feed(d, [entry(WED_10 + i) for i in range(50)]) == [[]] * 50  # office hours: not counted
    got = feed(d, [entry(WED_22), entry(WED_22 + 60, subject=subj(1)), entry(WED_22 + 120, decision="error")])
    assert got == [[], [], [OFF_HOURS_BURST]]


def test_off_hours_window_is_thirty_minutes() -> None:
    d = detector(default=rules(bulk=None))
    feed(d, [entry(WED_22), entry(WED_22 + 900)])
    assert d.observe(entry(WED_22 + 1800)) == []  # the first is exactly 30 minutes old
    assert kinds(d.observe(entry(WED_22 + 1801))) == [OFF_HOURS_BURST]


def test_denied_storm_fires_exactly_at_the_threshold() -> None:
    d = detector(default=rules(bulk=None))
    noise = [entry(WED_10 + i, decision=dec) for i, dec in enumerate(["allow", "error", "allow", "error"] * 5)]
    assert feed(d, noise) == [[]] * 20
    storm = [entry(WED_10 + 30 + i, decision=dec) for i, dec in enumerate(["deny", "invalid", "deny", "invalid"])]
    got = feed(d, storm)
    assert got == [[], [], [], [DENIED_STORM]]
    assert d.observe(entry(WED_10 + 40, decision="deny")) == []


def test_denied_storm_outside_its_window_does_not_fire() -> None:
    d = detector()
    feed(d, [entry(WED_10 + i * 100, decision="deny") for i in range(3)])
    assert d.observe(entry(WED_10 + 300, decision="deny")) == []  # the first is exactly 5 minutes old
    assert kinds(d.observe(entry(WED_10 + 301, decision="invalid"))) == [DENIED_STORM]


def test_one_entry_can_set_off_all_three_in_a_fixed_order() -> None:
    d = detector(default=rules(bulk=3, off=3, storm=3))
    got = feed(d, [entry(WED_22 + i, subject=subj(i), decision="deny") for i in range(3)])
    assert got == [[], [], list(KINDS)]


def test_thresholds_of_never_are_never_tracked() -> None:
    d = detector(default=rules(bulk=None, off=None, storm=None))
    assert feed(d, [entry(WED_22 + i, subject=subj(i), decision="deny") for i in range(200)]) == [[]] * 200
    assert d.tracked_principals() == 0


# --------------------------------------------------------------------------------------------- cooldown


def test_fires_once_per_cooldown_then_again() -> None:
    d = detector(default=rules(bulk=None))
    first = feed(d, [entry(WED_10 + i, decision="deny") for i in range(4)])
    assert first[-1] == [DENIED_STORM]
    fired_at = WED_10 + 3
    later = feed(d, [entry(fired_at + 60 * k, decision="deny") for k in range(1, 31)])  # still storming
    assert later == [[]] * 29 + [[DENIED_STORM]]  # 30 minutes after the first alert


def test_after_the_cooldown_only_a_full_window_fires_again() -> None:
    d = detector(default=rules(bulk=None))
    feed(d, [entry(WED_10 + i, decision="deny") for i in range(4)])
    assert d.observe(entry(WED_10 + 3600, decision="deny")) == []  # the storm is over
    got = feed(d, [entry(WED_10 + 3601 + i, decision="deny") for i in range(3)])
    assert got == [[], [], [DENIED_STORM]]


def test_cooldown_is_per_principal_and_per_kind() -> None:
    d = detector(default=rules(bulk=3, storm=3))
    assert feed(d, [entry(WED_10 + i, decision="deny") for i in range(3)])[-1] == [DENIED_STORM]
    other = "school/330203/S2"
    assert feed(d, [entry(WED_10 + i, principal=other, decision="deny") for i in range(3)])[-1] == [DENIED_STORM]
    got = feed(d, [entry(WED_10 + 10 + i, subject=subj(i), decision="deny") for i in range(3)])
    assert got == [[], [], [BULK_LOOKUP]]  # the storm is cooling down, a bulk lookup is news


def test_cooldown_zero_alerts_every_entry_over_the_threshold() -> None:
    d = detector(cooldown_min=0, default=rules(bulk=None))
    assert feed(d, [entry(WED_10 + i, decision="deny") for i in range(6)]) == [[]] * 3 + [[DENIED_STORM]] * 3


# --------------------------------------------------------------------------------------------- per role


def test_per_role_overrides() -> None:
    night_shift = OfficeHours(frozenset(range(7)), 6 * 60, 24 * 60)
    d = detector(police=rules(off=10, office=night_shift))
    police = "police/330200/PSB"
    assert feed(d, [entry(WED_22 + i, principal=police) for i in range(20)]) == [[]] * 20  # 22:00 is a shift
    at_3am = WED_22 + 5 * 3600
    got = feed(d, [entry(at_3am + i, principal=police) for i in range(10)])
    assert got == [[]] * 9 + [[OFF_HOURS_BURST]]
    assert feed(d, [entry(WED_22 + i) for i in range(3)])[-1] == [OFF_HOURS_BURST]  # school: the defaults


def test_unknown_role_is_watched_with_the_defaults() -> None:
    d = detector()
    got = feed(d, [entry(WED_10 + i, principal="x", role="no-such-role", decision="deny") for i in range(4)])
    assert got[-1] == [DENIED_STORM]


def test_shipped_overrides_police_nights_statistics_batches() -> None:
    d = AnomalyDetector(load_anomalies(REPO_POLICIES))
    police, stats, school = "police/330200/PSB", "statistics/330200/TJJ", SCHOOL
    assert all(a == [] for a in feed(d, [entry(WED_22 + i * 10, principal=police) for i in range(99)]))
    assert all(a == [] for a in feed(d, [entry(WED_22 + i * 10, principal=stats) for i in range(500)]))
    school_night = feed(d, [entry(WED_22 + i * 10, principal=school) for i in range(20)])
    assert school_night == [[]] * 19 + [[OFF_HOURS_BURST]]


# --------------------------------------------------------------------------------------------- office hours


@pytest.mark.parametrize(("when", "office"), [
    (cst("2025-06-11T07:29:59"), False),  # Wednesday
    (cst("2025-06-11T07:30:00"), True),
    (cst("2025-06-13T19:29:59"), True),  # Friday
    (cst("2025-06-13T19:30:00"), False),
    (cst("2025-06-14T10:00:00"), False),  # Saturday
    (cst("2025-06-15T12:00:00"), False),  # Sunday
    ("2025-06-13T23:30:00Z", False),  # Friday in UTC, Saturday 07:30 in China
    ("2025-06-15T23:30:00Z", True),  # Sunday in UTC, Monday 07:30 in China
    ("2025-06-15T23:29:00Z", False),
    ("2025-06-12T11:29:00Z", True),  # Thursday 19:29 in China
    ("2025-06-12T16:00:00Z", False),  # Thursday in UTC, Friday 00:00 in China
    ("2025-06-11T10:00:00+08:00", True),  # an offset is honoured
    ("2025-06-11T02:00:00", True),  # no offset: UTC
])
def test_office_hours_edges(when: str, office: bool) -> None:
    assert OFFICE.contains(china_time(entry_seconds(entry(when)))) is office
    d = detector(default=rules(bulk=None, off=1))
    assert kinds(d.observe(entry(when))) == ([] if office else [OFF_HOURS_BURST])


def test_china_time_is_a_fixed_utc_plus_8() -> None:
    for month in (1, 7):  # no daylight saving: the same offset winter and summer
        t = china_time(_dt.datetime(2025, month, 1, 16, 0, tzinfo=UTC).timestamp())
        assert (t.day, t.hour, t.utcoffset()) == (2, 0, _dt.timedelta(hours=8))


def test_holidays_and_make_up_workdays() -> None:
    office = OfficeHours(frozenset(range(5)), 450, 1170, frozenset({_dt.date(2025, 10, 1)}),
                         frozenset({_dt.date(2025, 9, 28)}))
    assert not office.contains(_dt.datetime(2025, 10, 1, 10, 0))  # Wednesday, National Day
    assert office.contains(_dt.datetime(2025, 9, 28, 10, 0))  # Sunday, a make-up working day
    assert not office.contains(_dt.datetime(2025, 9, 28, 20, 0))  # but still only office hours
    assert office.contains(_dt.datetime(2025, 10, 9, 10, 0))


def test_office_until_midnight() -> None:
    office = OfficeHours(frozenset(range(7)), 360, 1440)
    assert office.contains(_dt.datetime(2025, 6, 14, 23, 59, 59))
    assert not office.contains(_dt.datetime(2025, 6, 15, 0, 0))
    assert not office.contains(_dt.datetime(2025, 6, 15, 5, 59))


# --------------------------------------------------------------------------------------------- inputs ignored


def test_alert_entries_never_trigger_alerts() -> None:
    d = detector(default=rules(bulk=1, off=1, storm=1))
    assert feed(d, [entry(WED_22 + i, subject=subj(i), decision="alert") for i in range(100)]) == [[]] * 100
    assert d.tracked_principals() == 0
    assert kinds(d.observe(entry(WED_22, subject=subj(0), decision="deny"))) == list(KINDS)


def test_entries_without_a_principal_are_not_attributed() -> None:
    d = detector(default=rules(bulk=1, off=1, storm=1))
    assert d.observe(entry(WED_22, principal="", role="school", subject=subj(0), decision="deny")) == []
    assert d.tracked_principals() == 0


def test_bad_time_is_an_error() -> None:
    with pytest.raises(ValueError):
        detector().observe(entry("yesterday", decision="deny"))


# --------------------------------------------------------------------------------------------- messages, entries


def test_messages_name_the_principal_and_counts_never_the_person() -> None:
    d = detector(default=rules(bulk=2, off=2, storm=2))
    alerts = [a for i in range(2) for a in d.observe(entry(WED_22 + i, subject=subj(i), decision="deny"))]
    assert kinds(alerts) == list(KINDS)
    for a in alerts:
        assert SCHOOL in a.message and "2" in a.message and a.kind in a.message
        assert subj(1) not in a.message and subj(1)[-12:] not in a.message
    assert "10 minutes" in alerts[0].message and "30 minutes" in alerts[1].message


def test_alert_entry_is_searchable_beside_its_trigger() -> None:
    trigger = entry(WED_10, subject=subj(7), decision="deny")
    alert = Alert(DENIED_STORM, SCHOOL, 10, 300, "m")
    e = alert_entry(trigger, alert)
    assert (e.decision, e.reason, e.principal, e.time, e.subject) == ("alert", DENIED_STORM, SCHOOL, trigger.time,
                                                                      subj(7))
    assert alert_entry(trigger, alert, time="2025-06-11T03:00:00.000000Z").time == "2025-06-11T03:00:00.000000Z"
    assert detector(default=rules(bulk=1, off=1, storm=1)).observe(e) == []


# --------------------------------------------------------------------------------------------- replay


def _random_log(seed: int, n: int = 3000) -> list[AccessEntry]:
    rng = random.Random(seed)
    principals = [("school/330203/S1", "school"), ("police/330200/PSB", "police"), ("health/330212/H1", "health"),
                  ("statistics/330200/TJJ", "statistics")]
    t, out = WED_10 - 8 * 3600, []
    for _ in range(n):
        t += rng.choice([0, 1, 5, 20, 60, 300])
        p, role = rng.choice(principals)
        decision = rng.choice(["allow"] * 5 + ["deny", "invalid", "error", "alert"])
        subject = subj(rng.randrange(200)) if rng.random() < 0.8 else ""
        out.append(entry(t, principal=p, role=role, subject=subject, decision=decision))
    return out


def test_scan_of_a_log_equals_live_observation() -> None:
    settings = make_settings(cooldown_min=10, default=rules(bulk=8, off=6, storm=4),
                             police=rules(bulk=20, off=12, storm=6))
    log = _random_log(7)
    live_detector = AnomalyDetector(settings)
    live = [(e, a) for e in log for a in live_detector.observe(e)]
    scanned = AnomalyDetector(settings).scan(log)
    assert scanned == live
    assert {a.kind for _, a in scanned} == set(KINDS)
    assert all(e.decision != "alert" for e, _ in scanned)


def test_scan_over_a_log_with_its_alert_entries_finds_the_same_alerts() -> None:
    settings = make_settings(default=rules(bulk=8, off=6, storm=4))
    log = _random_log(11, 1500)
    live_detector, written, live = AnomalyDetector(settings), [], []
    for e in log:
        written.append(e)
        for a in live_detector.observe(e):
            live.append((e, a))
            written.append(alert_entry(e, a))  # what the gateway writes: alerts land in the log too
    assert live and AnomalyDetector(settings).scan(written) == live


def test_time_stepping_back_counts_at_the_latest_time() -> None:
    d = detector(default=rules(bulk=None))
    d.observe(entry(WED_10 + 1000, decision="deny"))
    got = feed(d, [entry(WED_10 - 5000, decision="deny") for _ in range(3)])  # an out-of-order clock
    assert got == [[], [], [DENIED_STORM]]


# --------------------------------------------------------------------------------------------- threads, memory


def test_threads_observing_at_once_alert_once() -> None:
    d = detector(default=rules(bulk=50, off=None, storm=10))
    errors: list[BaseException] = []
    alerts: list[Alert] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        try:
            for i in range(500):
                e = entry(WED_10 + i / 100, subject=subj(k * 1000 + i), decision="deny" if i % 2 else "allow")
                found = d.observe(e)
                with lock:
                    alerts.extend(found)
        except BaseException as exc:  # any exception at all fails the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert sorted(kinds(alerts)) == [BULK_LOOKUP, DENIED_STORM]  # all within 5 s and one cooldown


def test_memory_is_bounded_by_principals() -> None:
    d = detector(max_principals=100)
    for i in range(1000):
        d.observe(entry(WED_10, principal=f"school/330203/S{i}", decision="deny"))
    assert d.tracked_principals() == 100
    assert d.evictions == 900


def test_memory_per_principal_is_bounded_by_the_thresholds() -> None:
    d = detector(default=rules(bulk=50, off=20, storm=10))
    for i in range(20_000):
        d.observe(entry(WED_22 + i / 100, subject=subj(i), decision="deny"))
    assert d.tracked_principals() == 1
    assert d.tracked_items() <= 50 + 20 + 10


def test_idle_principals_are_dropped_after_every_window_and_the_cooldown() -> None:
    d = detector()
    for i in range(50):
        d.observe(entry(WED_10, principal=f"school/330203/S{i}", subject=subj(i), decision="deny"))
    assert d.tracked_principals() == 50
    d.observe(entry(WED_10 + 1799, principal="school/330203/S0", decision="deny"))
    assert d.tracked_principals() == 50
    d.observe(entry(WED_10 + 1800, principal="school/330203/new", decision="deny"))
    assert d.tracked_principals() == 2  # S0 was active within the half hour


def test_update_applies_new_thresholds() -> None:
    d = detector(default=rules(bulk=None))
    feed(d, [entry(WED_10 + i, decision="deny") for i in range(2)])
    d.update(make_settings(default=rules(bulk=None, storm=3)))
    assert kinds(d.observe(entry(WED_10 + 3, decision="deny"))) == [DENIED_STORM]


def test_max_principals_must_be_positive() -> None:
    with pytest.raises(ValueError):
        AnomalyDetector(make_settings(), max_principals=0)


# --------------------------------------------------------------------------------------------- loader


def test_the_shipped_file_loads() -> None:
    s = load_anomalies(REPO_POLICIES)
    quotas = load_quotas(REPO_POLICIES)
    assert set(s.roles) == set(ROLES) and s.cooldown_seconds == 1800
    school, police = s.for_role("school"), s.for_role("police")
    assert (school.bulk_lookup, school.off_hours, school.denied_storm) == (Rule(50, 600), Rule(20, 1800),
                                                                           Rule(10, 300))
    assert (school.office.start, school.office.end, school.office.days) == (450, 1170, frozenset(range(5)))
    assert police.off_hours.threshold > school.off_hours.threshold  # type: ignore[operator]
    assert police.office.days == frozenset(range(7)) and police.office.start < school.office.start
    assert s.for_role("statistics").off_hours.threshold is None
    for role in ROLES:  # an early sign: the bulk alert comes before the hourly quota refuses
        per_hour = quotas.for_role(role).per_hour
        if per_hour:
            assert s.for_role(role).bulk_lookup.threshold < per_hour  # type: ignore[operator]


VALID = """\
cooldown_minutes = 30

[bulk_lookup]
subjects = 50
window_minutes = 10

[off_hours]
requests = 20
window_minutes = 30
office_days = ["mon", "tue", "wed", "thu", "fri"]
office_start = "07:30"
office_end = "19:30"
holidays = []
workdays = []

[denied_storm]
requests = 10
window_minutes = 5
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / ANOMALIES_FILE).write_text(text, "utf-8")
    return tmp_path


def test_overrides_replace_only_the_keys_they_name(tmp_path: Path) -> None:
    text = VALID.replace("holidays = []", "holidays = [2025-10-01, \"2025-10-02\"]") + (
        "[roles.police.off_hours]\nrequests = -1\noffice_end = \"24:00\"\n"
        "[roles.housing.denied_storm]\nwindow_minutes = 15\n")
    s = load_anomalies(_write(tmp_path, text))
    police, housing, school = s.for_role("police"), s.for_role("housing"), s.for_role("school")
    assert police.off_hours == Rule(None, 1800) and (police.office.start, police.office.end) == (450, 1440)
    assert police.office.holidays == frozenset({_dt.date(2025, 10, 1), _dt.date(2025, 10, 2)})
    assert housing.denied_storm == Rule(10, 900) and housing.bulk_lookup == school.bulk_lookup == Rule(50, 600)
    assert school == s.default


BAD = [
    ("cooldown_minutes = 30", "cooldown_minutes = -1", "cooldown_minutes"),
    ("cooldown_minutes = 30", "cooldown_minutes = 1.5", "cooldown_minutes"),
    ("cooldown_minutes = 30\n", "", "cooldown_minutes"),
    ("subjects = 50", "subjects = 0", "bulk_lookup.subjects"),
    ("subjects = 50", "subjects = -2", "bulk_lookup.subjects"),
    ("subjects = 50", "subjects = true", "bulk_lookup.subjects"),
    ("subjects = 50", "subjects = \"50\"", "bulk_lookup.subjects"),
    ("subjects = 50", "distinct = 50", "distinct"),
    ("requests = 20", "requests = 20.5", "off_hours.requests"),
    ("window_minutes = 10", "window_minutes = 0", "bulk_lookup.window_minutes"),
    ("window_minutes = 5", "window_minutes = 1441", "denied_storm.window_minutes"),
    ("office_start = \"07:30\"", "office_start = \"7:30\"", "off_hours.office_start"),
    ("office_start = \"07:30\"", "office_start = \"07:60\"", "off_hours.office_start"),
    ("office_end = \"19:30\"", "office_end = \"24:01\"", "off_hours.office_end"),
    ("office_end = \"19:30\"", "office_end = 1930", "off_hours.office_end"),
    ("office_end = \"19:30\"", "office_end = \"07:30\"", "off_hours.office_start"),
    ("\"fri\"]", "\"friday\"]", "off_hours.office_days"),
    ("\"fri\"]", "\"mon\"]", "off_hours.office_days"),
    ("holidays = []", "holidays = [\"2025-13-01\"]", "off_hours.holidays"),
    ("holidays = []", "holidays = \"2025-10-01\"", "off_hours.holidays"),
    ("workdays = []", "workdays = [2025-09-28T08:00:00]", "off_hours.workdays"),
    ("holidays = []\nworkdays = []", "holidays = [2025-10-01]\nworkdays = [2025-10-01]", "off_hours.workdays"),
    ("workdays = []\n", "", "workdays"),
    ("[denied_storm]\nrequests = 10\nwindow_minutes = 5\n", "", "denied_storm"),
    ("cooldown_minutes = 30", "cooldown_minutes = 30\nbulk_lookups = 3", "bulk_lookups"),
    ("[bulk_lookup]\nsubjects = 50\nwindow_minutes = 10\n", "bulk_lookup = 3\n", "bulk_lookup"),
]
BAD_OVERRIDES = [
    ("[roles.schools.off_hours]\nrequests = 5\n", "schools"),
    ("[roles.police.nights]\nrequests = 5\n", "roles.police"),
    ("[roles.police.off_hours]\nrequests = 0\n", "roles.police.off_hours.requests"),
    ("[roles.police.off_hours]\nper_night = 5\n", "roles.police.off_hours"),
    ("[roles.police.off_hours]\noffice_start = \"20:00\"\n", "roles.police.off_hours.office_start"),
    ("[roles.police.bulk_lookup]\nwindow_minutes = \"ten\"\n", "roles.police.bulk_lookup.window_minutes"),
    ("[roles.police]\nbulk_lookup = 5\n", "roles.police.bulk_lookup"),
    ("[roles]\npolice = 5\n", "roles.police"),
    ("roles = 5\n", "roles"),
]


@pytest.mark.parametrize(("old", "new", "key"), BAD)
def test_bad_files_are_refused_naming_file_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    assert old in VALID
    with pytest.raises(PolicyError) as err:
        load_anomalies(_write(tmp_path, VALID.replace(old, new, 1)))
    assert ANOMALIES_FILE in str(err.value) and key in str(err.value)


@pytest.mark.parametrize(("extra", "key"), BAD_OVERRIDES)
def test_bad_overrides_are_refused_naming_file_and_key(tmp_path: Path, extra: str, key: str) -> None:
    text = extra + VALID if extra.startswith("roles =") else VALID + extra
    with pytest.raises(PolicyError) as err:
        load_anomalies(_write(tmp_path, text))
    assert ANOMALIES_FILE in str(err.value) and key in str(err.value)


def test_malformed_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="policy file missing"):
        load_anomalies(tmp_path)
    with pytest.raises(PolicyError, match="anomalies.toml.*TOMLDecodeError"):
        load_anomalies(_write(tmp_path, "[bulk_lookup\nsubjects = 1"))


@pytest.mark.parametrize(("cooldown_min", "school_bulk_min", "expected_min"), [(30, 10, 30), (5, 10, 30), (5, 90, 90),
                                                                             (120, 90, 120)])
def test_horizon_is_the_longest_window_of_any_role_or_the_cooldown(cooldown_min: int, school_bulk_min: int,
                                                                    expected_min: int) -> None:
    settings = make_settings(cooldown_min, school=rules(bulk_min=school_bulk_min))
    assert settings.horizon() == expected_min * 60
    assert replace(settings, cooldown_seconds=200 * 60).horizon() == 200 * 60  # worked out again for a new value
