"""Anti-harvesting quotas: rolling hour/day limits on distinct subjects, alerts, replay, threads, memory, loader.

Every expectation is written by hand from what quotas are for (anti-harvesting) and docs/domain.md "Who may see
what", not from the code.
"""
from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.identity.principal import ROLES
from gateway.policy.catalogue import PolicyError
from gateway.settings.quotas import QUOTAS_FILE, load_quotas
from gateway.watch.quotas import (
    DAY,
    HOUR,
    QUOTA_EXCEEDED,
    QUOTA_WARNING,
    QuotaLimits,
    QuotaSettings,
    QuotaTracker,
    subject_key,
)

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies"
T0 = 1_750_000_000.0


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_settings(ratio: float = 0.8, **limits: tuple[int | None, int | None]) -> QuotaSettings:
    base = {role: QuotaLimits(0, 0) for role in ROLES}
    base.update({role: QuotaLimits(*pair) for role, pair in limits.items()})
    return QuotaSettings(base, ratio)


def tracker(ratio: float = 0.8, max_principals: int = 10_000, **limits: tuple[int | None, int | None]
            ) -> tuple[QuotaTracker, FakeClock]:
    clock = FakeClock()
    return QuotaTracker(make_settings(ratio, **limits), clock=clock, max_principals=max_principals), clock


def ask_many(t: QuotaTracker, n: int, principal: str = "school/330203/A", role: str = "school",
             prefix: str = "s") -> list[bool]:
    return [t.check(principal, role, f"{prefix}{i:05x}").allowed for i in range(n)]


# ------------------------------------------------------------------------------------------------ the limits


def test_hourly_limit_exactly_at_the_limit_allowed_one_over_refused() -> None:
    t, _ = tracker(school=(5, 100))
    assert ask_many(t, 5) == [True] * 5
    out = t.check("school/330203/A", "school", "one-more")
    assert (out.allowed, out.window, out.count, out.limit, out.alert) == (False, "hour", 5, 5, QUOTA_EXCEEDED)


def test_daily_limit_exactly_at_the_limit_allowed_one_over_refused() -> None:
    t, clock = tracker(school=(3, 7))
    allowed = []
    for i in range(7):
        allowed.append(t.check("p", "school", f"s{i}").allowed)
        clock.advance(HOUR / 2)  # slow enough that the hour never fills
    assert allowed == [True] * 7
    out = t.check("p", "school", "s-new")
    assert (out.allowed, out.window, out.count, out.limit, out.alert) == (False, "day", 7, 7, QUOTA_EXCEEDED)


def test_repeated_subject_is_not_counted_again() -> None:
    t, _ = tracker(school=(3, 10))
    for _ in range(10):
        out = t.check("p", "school", "same-child")
        assert out.allowed and out.count == 1
    assert ask_many(t, 2, principal="p") == [True, True]
    assert t.check("p", "school", "same-child").allowed  # still fine at the limit: not a new person
    assert not t.check("p", "school", "someone-else").allowed


def test_the_hour_rolls() -> None:
    t, clock = tracker(school=(3, 100))
    assert ask_many(t, 3) == [True] * 3
    assert not t.check("school/330203/A", "school", "late").allowed
    clock.advance(HOUR - 1)
    assert not t.check("school/330203/A", "school", "late").allowed
    clock.advance(1)  # exactly an hour after: those three are out of the hour
    out = t.check("school/330203/A", "school", "late")
    assert out.allowed and out.count == 1
    assert ask_many(t, 3, prefix="x") == [True, True, False]


def test_the_day_rolls() -> None:
    t, clock = tracker(school=(None, 2))
    assert ask_many(t, 2) == [True, True]
    clock.advance(DAY - 1)
    assert not t.check("school/330203/A", "school", "new").allowed
    clock.advance(1)
    assert t.check("school/330203/A", "school", "new").allowed


def test_someone_asked_about_hours_ago_is_new_to_the_hour() -> None:
    t, clock = tracker(school=(2, 10))
    assert t.check("p", "school", "old").allowed
    clock.advance(2 * HOUR)
    assert ask_many(t, 2, principal="p") == [True, True]
    assert not t.check("p", "school", "old").allowed  # the hour is full; it would be a third person in it


def test_per_role_limits_differ_and_principals_are_separate() -> None:
    t, _ = tracker(school=(2, 10), police=(5, 10))
    assert ask_many(t, 3, principal="school-1", role="school") == [True, True, False]
    assert ask_many(t, 6, principal="police-1", role="police") == [True] * 5 + [False]
    assert ask_many(t, 2, principal="school-2", role="school") == [True, True]


def test_zero_means_none_allowed() -> None:
    t, _ = tracker(statistics=(0, 0), auditor=(5, 0))
    for role in ("statistics", "auditor"):
        out = t.check(f"{role}-1", role, "ab" * 16)
        assert not out.allowed and out.alert == QUOTA_EXCEEDED and out.limit == 0


def test_zero_after_a_reload_refuses_even_people_asked_about_before() -> None:
    t, _ = tracker(school=(5, 10))
    assert t.check("p", "school", "child").allowed
    t.update(make_settings(school=(0, 0)))
    assert not t.check("p", "school", "child").allowed


def test_empty_subject_is_always_allowed_and_never_counted() -> None:
    t, _ = tracker(statistics=(0, 0), school=(1, 1))
    for _ in range(100):
        out = t.check("statistics-1", "statistics", "")
        assert (out.allowed, out.window, out.count, out.alert) == (True, "", 0, None)
        assert t.check("school-1", "school", "").allowed
    assert t.tracked_principals() == 0
    assert t.check("school-1", "school", "a").allowed


def test_unlimited() -> None:
    t, _ = tracker(police=(None, None), housing=(None, 3))
    assert all(ask_many(t, 5000, principal="police-1", role="police"))
    assert t.tracked_principals() == 0  # nothing to count, nothing kept
    assert ask_many(t, 4, principal="housing-1", role="housing") == [True, True, True, False]


def test_unknown_role_fails_closed() -> None:
    t, _ = tracker()
    assert not t.check("x", "no-such-role", "a").allowed


# ------------------------------------------------------------------------------------------------ alerts


def test_warning_exactly_once_per_window() -> None:
    t, clock = tracker(ratio=0.8, school=(10, 1000))
    alerts = [t.check("p", "school", f"s{i}").alert for i in range(10)]
    assert alerts == [None] * 7 + [QUOTA_WARNING, None, None]  # the 8th of 10 is 80%
    clock.advance(HOUR)
    alerts = [t.check("p", "school", f"t{i}").alert for i in range(10)]
    assert alerts.count(QUOTA_WARNING) == 1  # a new hour, a new warning


def test_warning_reports_its_window() -> None:
    t, _ = tracker(ratio=0.5, school=(100, 4))
    outs = [t.check("p", "school", f"s{i}") for i in range(2)]
    assert outs[1].alert == QUOTA_WARNING and (outs[1].window, outs[1].count, outs[1].limit) == ("day", 2, 4)


def test_repeats_do_not_warn_and_ratio_one_warns_at_the_limit() -> None:
    t, _ = tracker(ratio=1.0, school=(3, 10))
    assert [t.check("p", "school", s).alert for s in ("a", "a", "b", "b")] == [None] * 4
    assert t.check("p", "school", "c").alert == QUOTA_WARNING
    assert t.check("p", "school", "c").alert is None
    assert t.check("p", "school", "d").alert == QUOTA_EXCEEDED


def test_every_refusal_is_an_exceeded_alert() -> None:
    t, _ = tracker(school=(1, 1))
    t.check("p", "school", "a")
    assert [t.check("p", "school", f"b{i}").alert for i in range(3)] == [QUOTA_EXCEEDED] * 3


def test_refused_subjects_are_not_recorded() -> None:
    t, clock = tracker(school=(2, 100))
    assert ask_many(t, 2, principal="p") == [True, True]
    clock.advance(HOUR / 2)
    for _ in range(50):  # a harvester hammering on a full quota
        assert not t.check("p", "school", "victim").allowed
        clock.advance(10)
    clock.advance(HOUR / 2 - 500)  # an hour after the two allowed ones
    out = t.check("p", "school", "victim")
    assert out.allowed and out.count == 1  # the refused attempts left no trace that keeps the window full
    assert t.check("p", "school", "another").allowed


def test_clock_stepping_back_does_not_loosen_or_crash() -> None:
    t, clock = tracker(school=(2, 100))
    assert ask_many(t, 2, principal="p") == [True, True]
    clock.advance(-HOUR * 5)
    assert not t.check("p", "school", "c").allowed
    clock.advance(HOUR * 6)
    assert t.check("p", "school", "c").allowed


# ------------------------------------------------------------------------------------------------ replay


def test_replay_rebuilds_from_the_log() -> None:
    t, clock = tracker(school=(3, 5), police=(None, None))
    now = clock.now
    entries = [
        (now - 2 * HOUR, "p", "school", "a", "allow"),  # in the day, not the hour
        (now - 600, "p", "school", "b", "allow"),
        (now - 500, "p", "school", "b", "allow"),  # a repeat
        (now - 400, "p", "school", "c", "deny"),  # refused: never counts
        (now - 300, "p", "school", "", "allow"),  # about nobody
        (now - 200, "p", "school", "d", "error"),
        (now - DAY - 1, "p", "school", "old", "allow"),  # older than a day
        (now - 100, "q", "police", "x", "allow"),  # unlimited: not tracked
        (now - 50, "p", "school", "e", "allow"),
    ]
    assert t.replay(iter(entries)) == 4
    assert t.tracked_principals() == 1
    assert t.check("p", "school", "f").allowed  # hour: b, e, f
    assert not t.check("p", "school", "g").allowed
    clock.advance(HOUR)
    assert t.check("p", "school", "g").allowed  # day: a, b, e, f, g
    out = t.check("p", "school", "h")
    assert (out.allowed, out.window, out.count) == (False, "day", 5)


def test_replay_of_an_unsorted_log_and_a_restart_keep_the_quota() -> None:
    t1, clock = tracker(school=(4, 10))
    log = []
    for i in range(6):
        out = t1.check("p", "school", f"s{i}")
        log.append((clock.now, "p", "school", f"s{i}", "allow" if out.allowed else "deny"))
        clock.advance(60)
    t2 = QuotaTracker(t1.settings, clock=clock)
    t2.replay(reversed(log))
    assert not t2.check("p", "school", "new").allowed
    assert t2.check("p", "school", "s0").allowed


# ------------------------------------------------------------------------------------------------ threads, memory


def test_threads_hammering_check_never_exceed_the_limit() -> None:
    limit = 50
    t = QuotaTracker(make_settings(school=(limit, limit * 2), health=(limit, limit)))
    allowed: list[set[str]] = [set() for _ in range(8)]
    errors: list[BaseException] = []
    stop = time.monotonic() + 2.0

    def hammer(k: int) -> None:
        rng = random.Random(k)
        try:
            while time.monotonic() < stop:
                principal, role = ("shared", "school") if rng.random() < 0.8 else (f"own-{k % 2}", "health")
                subject = f"{rng.randrange(10_000):04x}"
                if t.check(principal, role, subject).allowed:
                    allowed[k].add(f"{principal}:{subject}")
        except BaseException as exc:  # any exception at all fails the test
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    everything = set().union(*allowed)
    for principal in ("shared", "own-0", "own-1"):
        distinct = {s for s in everything if s.startswith(principal + ":")}
        assert 0 < len(distinct) <= limit


def test_memory_is_bounded_by_principals() -> None:
    t, _ = tracker(max_principals=100, school=(5, 10))
    for i in range(1000):
        assert t.check(f"school-{i}", "school", "a").allowed
    assert t.tracked_principals() == 100
    assert t.evictions == 900


def test_the_least_recently_active_principal_is_evicted() -> None:
    t, _ = tracker(max_principals=2, school=(1, 1))
    t.check("a", "school", "x")
    t.check("b", "school", "x")
    assert not t.check("a", "school", "y").allowed  # "a" is now the most recently active
    t.check("c", "school", "x")  # evicts "b"
    assert not t.check("a", "school", "y").allowed
    assert t.check("b", "school", "y").allowed  # "b" was forgotten


def test_idle_principals_and_old_subjects_are_dropped_after_a_day() -> None:
    t, clock = tracker(school=(1000, 1000))
    for i in range(50):
        ask_many(t, 20, principal=f"p{i}")
    assert t.tracked_principals() == 50
    clock.advance(DAY)
    out = t.check("p0", "school", "fresh")
    assert out.allowed and out.count == 1
    assert t.tracked_principals() == 1


def test_max_principals_must_be_positive() -> None:
    with pytest.raises(ValueError):
        QuotaTracker(make_settings(), max_principals=0)


# ------------------------------------------------------------------------------------------------ property


def _in_window(allowed: list[tuple[float, str]], now: float, length: float) -> set[str]:
    """The distinct subjects allowed in the rolling window (now - length, now]."""
    return {s for at, s in allowed if now - length < at <= now}


_STEPS = st.one_of(st.integers(0, 5000), st.sampled_from([0, 1, 3599, 3600, 3601, 86399, 86400, 86401]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_STEPS, st.integers(0, 9)), max_size=60), st.integers(1, 4), st.integers(0, 3))
def test_no_rolling_window_holds_more_distinct_subjects_than_its_limit(
        events: list[tuple[int, int]], per_hour: int, extra_day: int) -> None:
    per_day = per_hour + extra_day
    t, clock = tracker(school=(per_hour, per_day))
    allowed: list[tuple[float, str]] = []
    for step, n in events:
        clock.advance(step)
        now, subject = clock.now, f"s{n}"
        hour, day = _in_window(allowed, now, HOUR), _in_window(allowed, now, DAY)
        overfills = (subject not in hour and len(hour) >= per_hour) or (subject not in day and len(day) >= per_day)
        out = t.check("p", "school", subject)
        assert out.allowed is not overfills  # refused exactly when taking this subject would overfill a window
        if out.allowed:
            allowed.append((now, subject))
            assert len(_in_window(allowed, now, HOUR)) <= per_hour
            assert len(_in_window(allowed, now, DAY)) <= per_day


# ------------------------------------------------------------------------------------------------ loader


def test_the_shipped_file_loads() -> None:
    q = load_quotas(REPO_POLICIES)
    assert set(q.limits) == set(ROLES)
    assert 0 < q.alert_ratio <= 1
    assert q.for_role("statistics") == QuotaLimits(0, 0)  # counts only: never a single person
    for role in ("school", "health", "employment", "housing", "police", "auditor"):
        lim = q.for_role(role)
        assert lim.per_hour and lim.per_day and lim.per_hour <= lim.per_day
    assert q.for_role("police").per_day > q.for_role("school").per_day  # type: ignore[operator]


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / QUOTAS_FILE).write_text(text, "utf-8")
    return tmp_path


def _valid(**overrides: str) -> str:
    """A valid file; an override replaces a role's table body (or alert_ratio's value), "" drops it."""
    parts = [f"alert_ratio = {overrides.pop('alert_ratio', '0.8')}"]
    for role in ROLES:
        body = overrides.pop(role, "per_hour = 10\nper_day = 20")
        if body:
            parts.append(f"[{role}]\n{body}")
    parts.extend(overrides.values())
    return "\n".join(parts) + "\n"


def test_a_valid_file_with_unlimited_loads(tmp_path: Path) -> None:
    q = load_quotas(_write(tmp_path, _valid(police="per_hour = -1\nper_day = -1",
                                            housing="per_hour = -1\nper_day = 50", alert_ratio="1")))
    assert q.for_role("police") == QuotaLimits(None, None)
    assert q.for_role("housing") == QuotaLimits(None, 50)
    assert q.for_role("school") == QuotaLimits(10, 20)
    assert q.alert_ratio == 1.0


BAD = [
    ({"extra": "[schools]\nper_hour = 1\nper_day = 1"}, "schools"),
    ({"school": ""}, "school"),
    ({"school": "per_hour = -2\nper_day = 20"}, "school.per_hour"),
    ({"school": "per_hour = 10\nper_day = 2.5"}, "school.per_day"),
    ({"school": "per_hour = true\nper_day = 20"}, "school.per_hour"),
    ({"school": "per_hour = \"unlimited\"\nper_day = 20"}, "school.per_hour"),
    ({"health": "per_hour = 30\nper_day = 20"}, "health.per_hour"),
    ({"health": "per_hour = 30"}, "per_day"),
    ({"health": "per_hour = 1\nper_day = 2\nper_week = 3"}, "per_week"),
    ({"alert_ratio": "0"}, "alert_ratio"),
    ({"alert_ratio": "1.5"}, "alert_ratio"),
    ({"alert_ratio": "-0.1"}, "alert_ratio"),
    ({"alert_ratio": "\"0.8\""}, "alert_ratio"),
    ({"alert_ratio": "true"}, "alert_ratio"),
]


@pytest.mark.parametrize(("overrides", "key"), BAD)
def test_bad_files_are_refused_naming_file_and_key(tmp_path: Path, overrides: dict[str, str], key: str) -> None:
    with pytest.raises(PolicyError) as err:
        load_quotas(_write(tmp_path, _valid(**overrides)))
    assert QUOTAS_FILE in str(err.value) and key in str(err.value)


def test_missing_alert_ratio(tmp_path: Path) -> None:
    text = "\n".join(ln for ln in _valid().splitlines() if not ln.startswith("alert_ratio"))
    with pytest.raises(PolicyError, match="alert_ratio"):
        load_quotas(_write(tmp_path, text))


def test_role_that_is_not_a_table(tmp_path: Path) -> None:
    text = "school = 5\n" + _valid(school="")
    with pytest.raises(PolicyError, match=r"quotas\.toml: school"):
        load_quotas(_write(tmp_path, text))


def test_malformed_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="policy file missing"):
        load_quotas(tmp_path)
    with pytest.raises(PolicyError, match="quotas.toml.*TOMLDecodeError"):
        load_quotas(_write(tmp_path, "[school\nper_hour = 1"))


def test_every_person_a_request_is_about_counts_once() -> None:
    """A child asked about with two adults is three distinct people; the same adults again add nobody."""
    t, _ = tracker(school=(5, None))
    assert t.check("school/330203/A", "school", "child1", "adultA", "adultB").count == 3
    assert t.check("school/330203/A", "school", "child2", "adultA", "adultB").count == 4
    refused = t.check("school/330203/A", "school", "child3", "adultC")  # 4 + 2 new > 5: all or nothing
    assert (refused.allowed, refused.alert) == (False, QUOTA_EXCEEDED)
    assert t.check("school/330203/A", "school", "child3").count == 5


def test_replay_counts_every_person_of_an_entry() -> None:
    t, _ = tracker(school=(3, None))
    t.replay([(T0 - 60, "school/330203/A", "school", "child1 adultA adultB", "allow")])
    assert not t.check("school/330203/A", "school", "child2").allowed


@pytest.mark.parametrize(("subject", "key"), [
    ("ab" * 32, bytes([0xAB]) * 32),  # a blind index: kept as its 32 bytes
    ("AB" * 32, "AB" * 32),  # not the gate's lower-case hex: kept as given, so it cannot meet "ab" * 32
    ("child", "child"), ("abc", "abc"),
])
def test_subjects_are_kept_as_bytes_only_when_that_is_one_to_one(subject: str, key: bytes | str) -> None:
    assert subject_key(subject) == key


def test_a_blind_index_counts_once_however_it_arrives() -> None:
    t = QuotaTracker(make_settings(school=(10, 100)), clock=lambda: T0)
    assert t.check("school/330203/A", "school", "ab" * 32).count == 1
    assert t.check("school/330203/A", "school", "ab" * 32, "cd" * 32).count == 2  # the first is not new
    assert t.check("school/330203/A", "school", "AB" * 32).count == 3  # another text: another subject


@pytest.mark.parametrize(("per_hour", "per_day", "windows"), [
    (10, 50, (("day", DAY, 50), ("hour", HOUR, 10))),
    (None, 50, (("day", DAY, 50),)),
    (10, None, (("hour", HOUR, 10),)),
    (0, 0, (("day", DAY, 0), ("hour", HOUR, 0))),
    (None, None, ()),
])
def test_a_roles_limited_windows_are_worked_out_once_day_first(per_hour: int | None, per_day: int | None,
                                                               windows: tuple[tuple[str, float, int], ...]) -> None:
    limits = QuotaLimits(per_hour, per_day)
    assert limits.windows == windows
    assert limits == QuotaLimits(per_hour, per_day) and "windows" not in repr(limits)
