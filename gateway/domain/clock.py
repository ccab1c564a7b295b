"""The gateway's clock: what instant it is, and what day it is in Ningbo.

Permit validity, age cut-offs, statistics months, quota windows and off-hours alerts all depend on
"now". Every one of them asks this module, never the machine's local time: a gateway (or a test run)
may sit in any time zone, while the day that decides a permit is Ningbo's civil date, China Standard
Time (UTC+8, no daylight saving since 1991).

The process clock is the system clock unless `PERMITGW_CLOCK` names an instant with its UTC offset
(e.g. `2026-06-15T12:00:00+08:00`): the clock then starts there and runs forward at the machine's
pace. Test suites and demonstrations set it so that what they expect does not depend on the hour they
run at; every process they start inherits it, so the gateway and its tests agree on "today".
"""
from __future__ import annotations

import datetime as _dt
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from gateway.errors import GatewayError

CHINA = _dt.timezone(_dt.timedelta(hours=8), "CST")
ENV = "PERMITGW_CLOCK"


class InvalidClock(GatewayError, ValueError):
    """A clock setting that does not name an instant with its UTC offset."""


class Clock(Protocol):
    def now(self) -> _dt.datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    """The machine's clock (UTC; the machine's own time zone is never consulted)."""

    def now(self) -> _dt.datetime:
        return _dt.datetime.now(_dt.UTC)


class StartedClock:
    """Starts at a chosen instant and runs forward at the machine's pace (monotonic, never steps back)."""

    def __init__(self, start: _dt.datetime, monotonic: Callable[[], float] = time.monotonic) -> None:
        if start.tzinfo is None:
            raise InvalidClock("the start instant needs a UTC offset")
        self.start = start.astimezone(_dt.UTC)
        self._monotonic = monotonic
        self._t0 = monotonic()

    def now(self) -> _dt.datetime:
        return self.start + _dt.timedelta(seconds=self._monotonic() - self._t0)


class FixedClock:
    """A clock that moves only when told to: for unit tests."""

    def __init__(self, at: _dt.datetime) -> None:
        if at.tzinfo is None:
            raise InvalidClock("a fixed instant needs a UTC offset")
        self.at = at.astimezone(_dt.UTC)

    def now(self) -> _dt.datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += _dt.timedelta(seconds=seconds)


def parse_instant(text: str) -> _dt.datetime:
    """An ISO 8601 instant that carries its UTC offset (`Z` or `+08:00`); a local time is refused."""
    try:
        at = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidClock(f"{ENV} must be an ISO 8601 instant such as 2026-06-15T12:00:00+08:00") from exc
    if at.tzinfo is None:
        raise InvalidClock(f"{ENV} must say its UTC offset (e.g. +08:00): a local time means a different "
                           "instant on every machine")
    return at


def from_environment(environ: Mapping[str, str]) -> Clock:
    text = environ.get(ENV, "").strip()
    return StartedClock(parse_instant(text)) if text else SystemClock()


_lock = threading.Lock()
_current: Clock | None = None


def current() -> Clock:
    """The process clock (read from the environment on first use)."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = from_environment(os.environ)
    return _current


def install(clock: Clock | None) -> None:
    """Replace the process clock (None: read the environment again on next use)."""
    global _current
    with _lock:
        _current = clock


def now() -> _dt.datetime:
    """The current instant in UTC."""
    return current().now().astimezone(_dt.UTC)


def epoch() -> float:
    """The current instant as seconds since the epoch (for windows and rates)."""
    return current().now().timestamp()


def ningbo_date(at: _dt.datetime) -> _dt.date:
    """The civil date in Ningbo at an instant."""
    if at.tzinfo is None:
        raise InvalidClock("an instant without a UTC offset has no date in Ningbo")
    return at.astimezone(CHINA).date()


def today() -> _dt.date:
    """Today in Ningbo: the date every permit, age and month decision is taken on."""
    clock = current()
    if type(clock) is SystemClock:
        return _system_today()
    return ningbo_date(clock.now())


_DAY_SECONDS = 86400.0
_wall = time.time  # what SystemClock.now() reads too (CLOCK_REALTIME); a test replaces this name, not time.time
_system_day: tuple[float, float, _dt.date] = (0.0, 0.0, _dt.date.min)  # [start, end) in epoch seconds, and that date


def _system_today() -> _dt.date:
    """today() on the system clock, kept with the bounds of its Ningbo day: a float comparison per call instead of a
    datetime, a time-zone conversion and a date (an import asks for every row). Exact: Ningbo's offset is fixed, so the
    date changes only at those bounds, and a clock set back below the start is seen at once."""
    global _system_day
    t = _wall()
    start, end, day = _system_day
    if start <= t < end:
        return day
    day = ningbo_date(_dt.datetime.fromtimestamp(t, _dt.UTC))
    start = _dt.datetime.combine(day, _dt.time(), CHINA).timestamp()
    _system_day = (start, start + _DAY_SECONDS, day)
    return day


def rfc3339(at: _dt.datetime) -> str:
    """An instant as the access log writes it: UTC, microseconds, `Z`. (Every entry of the log asks for one: the
    UTC instant's "+00:00" is cut off rather than replaced in a search, and an instant already in UTC is not
    converted.)"""
    if at.tzinfo is None:
        raise InvalidClock("an instant without a UTC offset is not an instant")
    utc = at if at.tzinfo is _dt.UTC else at.astimezone(_dt.UTC)
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"  # [:-6]: "+00:00"
