"""The gateway's clock: Ningbo's date at any instant, whatever zone the machine is set to."""
from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain import clock

UTC = _dt.UTC


@pytest.fixture(params=["Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC", "Asia/Shanghai"])
def machine_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with the process's local time zone set (UTC+14, UTC-11, UTC, UTC+8)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    try:
        yield request.param
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.parametrize(("instant", "ningbo"), [
    ("2026-11-30T16:20:00Z", "2026-12-01"),  # the moment a machine in UTC still says 30 November
    ("2026-11-30T15:59:59.999999Z", "2026-11-30"),
    ("2026-11-30T16:00:00Z", "2026-12-01"),
    ("2026-12-31T16:00:00Z", "2027-01-01"),
    ("2028-02-28T16:00:00Z", "2028-02-29"),
    ("2026-06-15T12:00:00+08:00", "2026-06-15"),
    ("2026-06-15T23:59:59-11:00", "2026-06-16"),
])
def test_ningbo_date_at_an_instant(machine_zone: str, instant: str, ningbo: str) -> None:
    at = clock.parse_instant(instant)
    assert clock.ningbo_date(at).isoformat() == ningbo
    clock.install(clock.FixedClock(at))
    try:
        assert clock.today().isoformat() == ningbo, machine_zone
    finally:
        clock.install(None)


def test_a_local_time_is_refused() -> None:
    with pytest.raises(clock.InvalidClock, match="UTC offset"):
        clock.parse_instant("2026-06-15T12:00:00")
    with pytest.raises(clock.InvalidClock, match="ISO 8601"):
        clock.parse_instant("yesterday")
    with pytest.raises(clock.InvalidClock):
        clock.ningbo_date(_dt.datetime(2026, 6, 15, 12))
    with pytest.raises(clock.InvalidClock):
        clock.FixedClock(_dt.datetime(2026, 6, 15, 12))


def test_a_started_clock_runs_forward_from_its_start() -> None:
    ticks = iter([100.0, 100.0, 160.5, 3700.0])
    c = clock.StartedClock(clock.parse_instant("2026-11-30T15:59:00Z"), monotonic=lambda: next(ticks))
    assert c.now() == _dt.datetime(2026, 11, 30, 15, 59, tzinfo=UTC)
    assert c.now() == _dt.datetime(2026, 11, 30, 16, 0, 0, 500000, tzinfo=UTC)
    assert clock.ningbo_date(c.now()).isoformat() == "2026-12-01"


def test_the_environment_chooses_the_process_clock() -> None:
    assert isinstance(clock.from_environment({}), clock.SystemClock)
    assert isinstance(clock.from_environment({clock.ENV: "  "}), clock.SystemClock)
    started = clock.from_environment({clock.ENV: "2026-06-15T12:00:00+08:00"})
    assert abs((started.now() - _dt.datetime(2026, 6, 15, 4, tzinfo=UTC)).total_seconds()) < 60
    with pytest.raises(clock.InvalidClock):
        clock.from_environment({clock.ENV: "2026-06-15 12:00"})


def test_entries_are_stamped_in_utc_from_the_gateway_clock() -> None:
    from gateway.audit.entry import now_rfc3339

    clock.install(clock.FixedClock(clock.parse_instant("2026-06-15T12:00:00.25+08:00")))
    try:
        assert now_rfc3339() == "2026-06-15T04:00:00.250000Z"
        assert clock.epoch() == _dt.datetime(2026, 6, 15, 4, 0, 0, 250000, tzinfo=UTC).timestamp()
    finally:
        clock.install(None)


ONE = _dt.timedelta(days=1)


def test_the_system_clocks_today_changes_exactly_at_ningbo_midnight(monkeypatch: pytest.MonkeyPatch) -> None:
    """today() on the system clock keeps the day's bounds: the date must still change at 16:00 UTC to the
    microsecond, and follow a system clock that is set back."""
    clock.install(clock.SystemClock())
    try:
        midnight = _dt.datetime(2026, 6, 15, 16, 0, tzinfo=_dt.UTC).timestamp()  # 2026-06-16 00:00 in Ningbo
        day = _dt.date(2026, 6, 15)
        steps = [(midnight - 1e-6, day), (midnight, day + ONE), (midnight + 86399.999, day + ONE),
                 (midnight + 86400, day + 2 * ONE),
                 (midnight - 1e-6, day),  # set back: seen at once
                 (midnight - 86400, day), (midnight - 86400 - 1e-6, day - ONE)]
        for t, expected in steps:
            monkeypatch.setattr(clock, "_wall", lambda t=t: t)
            assert clock.today() == expected, t
            assert clock.today() == clock.ningbo_date(_dt.datetime.fromtimestamp(t, _dt.UTC))
    finally:
        clock.install(None)


@pytest.mark.parametrize(("at", "text"), [
    (_dt.datetime(2026, 6, 15, 12, 0, 0, 250000, tzinfo=clock.CHINA), "2026-06-15T04:00:00.250000Z"),
    (_dt.datetime(2026, 6, 15, 4, 0, tzinfo=_dt.UTC), "2026-06-15T04:00:00.000000Z"),  # microseconds always shown
    (_dt.datetime(2026, 1, 1, 0, 30, 0, 1, tzinfo=_dt.timezone(_dt.timedelta(hours=-5, minutes=-30))),
     "2026-01-01T06:00:00.000001Z"),
    (_dt.datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=_dt.UTC), "2025-12-31T23:59:59.999999Z"),
    (_dt.datetime(2026, 3, 1, 8, 0, tzinfo=_dt.timezone(_dt.timedelta(0), "GMT")), "2026-03-01T08:00:00.000000Z"),
])
def test_rfc3339_is_utc_with_microseconds_and_z(at: _dt.datetime, text: str) -> None:
    assert clock.rfc3339(at) == text
    assert clock.rfc3339(at) == at.astimezone(_dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def test_rfc3339_refuses_a_local_time() -> None:
    """A datetime without an offset would be read in the machine's time zone: a different instant per machine."""
    with pytest.raises(clock.InvalidClock):
        clock.rfc3339(_dt.datetime(2026, 6, 15, 12, 0))


@given(st.datetimes(min_value=_dt.datetime(1900, 1, 2), max_value=_dt.datetime(2200, 1, 1),
                    timezones=st.sampled_from([_dt.UTC, clock.CHINA, _dt.timezone(_dt.timedelta(hours=-9, minutes=-30)),
                                               _dt.timezone(_dt.timedelta(0), "GMT")])))
def test_rfc3339_of_any_instant_is_its_utc_isoformat_with_z(at: _dt.datetime) -> None:
    assert clock.rfc3339(at) == at.astimezone(_dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
