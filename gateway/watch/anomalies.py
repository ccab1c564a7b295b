"""Anomaly alerts over the access log: bulk lookups, off-hours bursts and denied storms (gateway.settings.anomalies).

Quotas refuse; these only point auditors at patterns worth a look (a harvest starting, a copied certificate
used at night, a client probing the policy), live from the gateway or replayed over a stored log.
AnomalyDetector counts in one process's memory; shared_anomalies.py applies the same rules (applicable,
alert_message) to counts kept in the database, for several processes serving one gateway.
"""
from __future__ import annotations

import datetime as _dt
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Protocol

from gateway.audit.entry import AccessEntry, Decision
from gateway.domain.clock import CHINA
from gateway.watch.principal_table import PrincipalWatch

BULK_LOOKUP = "BULK_LOOKUP"
OFF_HOURS_BURST = "OFF_HOURS_BURST"
DENIED_STORM = "DENIED_STORM"
KINDS = (BULK_LOOKUP, OFF_HOURS_BURST, DENIED_STORM)  # the order alerts of one entry are reported in
DEFAULT_MAX_PRINCIPALS = 10_000
_DENIED = frozenset({Decision.DENY, Decision.INVALID})


@dataclass(frozen=True, slots=True)
class Rule:
    threshold: int | None  # None: never alert
    window_seconds: int


@dataclass(frozen=True, slots=True)
class OfficeHours:
    days: frozenset[int]  # weekday numbers, Monday = 0
    start: int  # minutes after local midnight, inclusive
    end: int  # exclusive; 1440 is midnight at the end of the day
    holidays: frozenset[_dt.date] = frozenset()
    workdays: frozenset[_dt.date] = frozenset()

    def contains(self, local: _dt.datetime) -> bool:
        """Is this China-local time within office hours?"""
        day = local.date()
        office_day = day in self.workdays or (day not in self.holidays and local.weekday() in self.days)
        return office_day and self.start <= local.hour * 60 + local.minute < self.end


@dataclass(frozen=True, slots=True)
class RoleRules:
    bulk_lookup: Rule
    off_hours: Rule
    office: OfficeHours
    denied_storm: Rule

    def longest_window(self) -> int:
        return max(self.bulk_lookup.window_seconds, self.off_hours.window_seconds, self.denied_storm.window_seconds)


@dataclass(frozen=True, slots=True)
class AnomalySettings:
    default: RoleRules
    roles: dict[str, RoleRules]  # role -> its rules with overrides applied; every role of ROLES
    cooldown_seconds: int
    _horizon: int = field(init=False, repr=False, compare=False)  # horizon(), worked out once: asked every call

    def __post_init__(self) -> None:
        longest = max(self.cooldown_seconds, *(r.longest_window() for r in (self.default, *self.roles.values())))
        object.__setattr__(self, "_horizon", longest)

    def for_role(self, role: str) -> RoleRules:
        """The role's rules; a role the file does not know is watched with the defaults."""
        return self.roles.get(role, self.default)

    def horizon(self) -> int:
        """How long a principal's history can matter: its longest window, or the cooldown."""
        return self._horizon


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # BULK_LOOKUP | OFF_HOURS_BURST | DENIED_STORM
    principal: str
    count: int  # what was counted in the window when the alert fired: the threshold reached
    window_seconds: int
    message: str  # principal id and counts only: never an identity number or a name


def entry_seconds(entry: AccessEntry) -> float:
    """The entry's time as POSIX seconds (an RFC 3339 time without an offset is read as UTC)."""
    t = _dt.datetime.fromisoformat(entry.time)
    return (t if t.tzinfo else t.replace(tzinfo=_dt.UTC)).timestamp()


def china_time(seconds: float) -> _dt.datetime:
    """Local time in China: UTC+8, a fixed offset."""
    return _dt.datetime.fromtimestamp(seconds, CHINA)


@dataclass(slots=True)
class _Distinct:
    """Subjects by their latest time, oldest first; only the newest `cap` are kept (enough to reach it)."""

    seen: OrderedDict[str, float] = field(default_factory=OrderedDict)

    def add(self, subject: str, now: float, cap: int) -> None:
        self.seen[subject] = now
        self.seen.move_to_end(subject)
        while len(self.seen) > cap:
            self.seen.popitem(last=False)

    def count(self, now: float, length: float) -> int:
        while self.seen and next(iter(self.seen.values())) <= now - length:
            self.seen.popitem(last=False)
        return len(self.seen)


@dataclass(slots=True)
class _Times:
    """Times of counted requests, oldest first; only the newest `cap` are kept."""

    times: deque[float] = field(default_factory=deque)

    def add(self, subject: str, now: float, cap: int) -> None:
        self.times.append(now)
        while len(self.times) > cap:
            self.times.popleft()

    def count(self, now: float, length: float) -> int:
        while self.times and self.times[0] <= now - length:
            self.times.popleft()
        return len(self.times)


@dataclass(slots=True)
class _Principal:
    windows: dict[str, _Distinct | _Times] = field(default_factory=lambda: {
        BULK_LOOKUP: _Distinct(), OFF_HOURS_BURST: _Times(), DENIED_STORM: _Times()})
    fired: dict[str, float] = field(default_factory=dict)  # kind -> when it last alerted
    last_active: float = 0.0

    def size(self) -> int:
        return sum(len(w.seen) if isinstance(w, _Distinct) else len(w.times) for w in self.windows.values())


def applicable(entry: AccessEntry, rules: RoleRules, seconds: float) -> list[tuple[str, Rule]]:
    """The kinds this entry counts towards, with the role's rule for each."""
    out: list[tuple[str, Rule]] = []
    if rules.bulk_lookup.threshold is not None and entry.people():
        out.append((BULK_LOOKUP, rules.bulk_lookup))
    if rules.off_hours.threshold is not None and not rules.office.contains(china_time(seconds)):
        out.append((OFF_HOURS_BURST, rules.off_hours))
    if rules.denied_storm.threshold is not None and entry.decision in _DENIED:
        out.append((DENIED_STORM, rules.denied_storm))
    return out


def counted(entry: AccessEntry, settings: AnomalySettings) -> tuple[float, list[tuple[str, Rule]]]:
    """The entry's time (epoch seconds) and the kinds it counts towards under `settings`: none for alert entries
    or an empty principal. Raises ValueError if the entry's time is not RFC 3339."""
    if entry.decision == Decision.ALERT or not entry.principal:
        return 0.0, []
    seconds = entry_seconds(entry)
    return seconds, applicable(entry, settings.for_role(entry.role), seconds)


def _minutes(seconds: int) -> str:
    return f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} seconds"


def alert_message(kind: str, principal: str, count: int, window_seconds: int) -> str:
    what = {BULK_LOOKUP: "distinct people asked about", OFF_HOURS_BURST: "requests outside office hours",
            DENIED_STORM: "denied or invalid requests"}[kind]
    return f"{kind}: {principal}: {count} {what} within {_minutes(window_seconds)}"


class AnomalyDetector(PrincipalWatch[AnomalySettings, _Principal]):
    """Watches access-log entries for anomalies per principal; thread-safe, memory-bounded, replayable.

    Time: every entry is placed at its own logged time, so observe() live and scan() over a stored log give the
    same alerts. A time earlier than one already seen is counted at the latest time seen (windows never run
    backwards), but office hours are judged by the entry's own time.

    Threads: all mutable state sits behind one threading.Lock, held only for the dictionary work of one entry
    (parsing and office hours are done before); settings are an immutable value replaced by update().

    Memory: each window keeps at most its threshold of items (enough to know the threshold is reached, so an
    alert's count is the threshold), items older than the window are dropped when the principal is next seen,
    principals idle beyond every window and the cooldown are dropped, and at most `max_principals` are kept
    (the least recently active goes first and starts afresh; `evictions` counts them).
    """

    def __init__(self, settings: AnomalySettings, *, max_principals: int = DEFAULT_MAX_PRINCIPALS) -> None:
        super().__init__(settings, lambda now: _Principal(last_active=now), max_principals)

    def tracked_items(self) -> int:
        """Subjects and request times held across all principals' windows."""
        with self._lock:
            return sum(p.size() for p in self._principals.values())

    def observe(self, entry: AccessEntry) -> list[Alert]:
        """Count one access-log entry; the alerts it sets off (none for alert entries or an empty principal).

        Raises ValueError if the entry's time is not RFC 3339.
        """
        settings = self._settings
        seconds, kinds = counted(entry, settings)
        if not kinds:
            return []
        with self._lock:
            now = self._advance(seconds)
            p = self._principals.touch(entry.principal, now, settings.horizon())
            p.last_active = now
            return [a for kind, rule in kinds
                    if (a := self._count(p, entry, kind, rule, now, settings.cooldown_seconds)) is not None]

    def scan(self, entries: Iterable[AccessEntry]) -> list[tuple[AccessEntry, Alert]]:
        """Observe stored entries in log order: each alert with the entry that set it off (an offline audit)."""
        return [(e, a) for e in entries for a in self.observe(e)]

    # Under the lock ----------------------------------------------------------------------------------------

    @staticmethod
    def _count(p: _Principal, entry: AccessEntry, kind: str, rule: Rule, now: float,
               cooldown: int) -> Alert | None:
        assert rule.threshold is not None
        window = p.windows[kind]
        for subject in entry.people() if isinstance(window, _Distinct) else ("",):  # every person counts
            window.add(subject, now, rule.threshold)
        count = window.count(now, rule.window_seconds)
        if count < rule.threshold:
            return None
        last = p.fired.get(kind)
        if last is not None and now - last < cooldown:
            return None
        p.fired[kind] = now
        return Alert(kind, entry.principal, count, rule.window_seconds,
                     alert_message(kind, entry.principal, count, rule.window_seconds))


class AnomalyWatch(Protocol):
    """What the gate needs: count an entry, get the alerts it sets off. This module's AnomalyDetector (one
    process's memory) or shared_anomalies.SharedAnomalyDetector (the combined traffic of every process on one
    database); shared_anomalies.anomaly_watch chooses."""

    def observe(self, entry: AccessEntry) -> list[Alert]: ...
    def update(self, settings: AnomalySettings) -> None:
        """New rules from now on (a pushed or reloaded policy); the counts so far stay."""


def alert_entry(trigger: AccessEntry, alert: Alert, *, time: str | None = None) -> AccessEntry:
    """The access-log entry recording an alert: the triggering request's who and what, decision "alert",
    the alert's kind as reason; at the trigger's time unless `time` is given."""
    return replace(trigger, time=time or trigger.time, decision=Decision.ALERT, reason=alert.kind, seq=None)
