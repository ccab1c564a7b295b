"""Anti-harvesting quotas: distinct subjects per principal per rolling hour and day (limits: gateway.settings.quotas).

A certificate allowed to ask about one person must not be able to walk the register (PIPL arts. 5-6, 34);
the limits are local policy, per role. QuotaTracker counts in this process's memory and survives a restart by
replaying the access log; gateway.watch.shared_quotas counts in the database for replicas. Both decide with
`refusal` and `granted` here, over the usage of each limited window.
"""
from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gateway.audit.entry import Decision
from gateway.watch.principal_table import PrincipalWatch

HOUR, DAY = 3600.0, 86400.0
DEFAULT_MAX_PRINCIPALS = 10_000
QUOTA_WARNING = "QUOTA_WARNING"
QUOTA_EXCEEDED = "QUOTA_EXCEEDED"  # the same code as gateway.policy.decisions.Reason.QUOTA_EXCEEDED


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    per_hour: int | None  # None: unlimited; 0: no single-person lookups
    per_day: int | None
    # (name, length, limit) of the windows limited, day first: worked out once, every check of the role reads it
    windows: tuple[tuple[str, float, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pairs = (("day", DAY, self.per_day), ("hour", HOUR, self.per_hour))
        object.__setattr__(self, "windows", tuple((name, length, lim) for name, length, lim in pairs
                                                  if lim is not None))

    @property
    def unlimited(self) -> bool:
        return self.per_hour is None and self.per_day is None


NONE_ALLOWED = QuotaLimits(0, 0)


@dataclass(frozen=True, slots=True)
class QuotaSettings:
    limits: dict[str, QuotaLimits]  # role -> limits; every role of gateway.identity.principal.ROLES
    alert_ratio: float

    def for_role(self, role: str) -> QuotaLimits:
        """The role's limits; a role the file does not know gets none (fail closed)."""
        return self.limits.get(role, NONE_ALLOWED)


@dataclass(slots=True)
class QuotaOutcome:
    """A check's outcome: a value, never changed once built. (Not frozen: one is built per check, and a frozen
    dataclass sets each field through object.__setattr__ — four times the cost.)"""

    allowed: bool
    window: str  # "hour" | "day" the outcome speaks of, "" when no limit applies (no subject, unlimited role)
    count: int  # distinct subjects in that window, this request included when allowed
    limit: int | None
    alert: str | None  # QUOTA_WARNING, QUOTA_EXCEEDED or None


@dataclass(slots=True)
class WindowUse:
    """One limited window as a check sees it: distinct subjects already in it, and how many of the request's
    subjects are new to it (not asked about within its length). A value, not frozen, like QuotaOutcome."""

    name: str  # "hour" | "day"
    length: float
    limit: int
    count: int
    new: int


def refusal(uses: Sequence[WindowUse]) -> QuotaOutcome | None:
    """The refusal, if taking the request's new subjects would overfill a window (a limit of 0 refuses even
    people asked about before); None when the request fits. `uses` come day first: a full day is the longer
    refusal, so it is the one to report."""
    for u in uses:
        if u.limit == 0 or (u.new and u.count + u.new > u.limit):
            return QuotaOutcome(False, u.name, u.count, u.limit, QUOTA_EXCEEDED)
    return None


def granted(uses: Sequence[WindowUse], ratio: float, warn: Callable[[WindowUse], bool]) -> QuotaOutcome:
    """The outcome of an allowed request, its subjects now recorded. A window the request added someone to and
    that reached ratio × limit warns, if `warn(use)` agrees (it says whether the window warned within its length,
    and notes this warning if not): at most one warning per window length, the day's first."""
    for u in uses:
        total = u.count + u.new
        if u.new and u.limit and total >= max(1, math.ceil(ratio * u.limit)) and warn(u):
            return QuotaOutcome(True, u.name, total, u.limit, QUOTA_WARNING)
    fullest = max(uses, key=lambda u: (u.count + u.new) / u.limit if u.limit else math.inf)
    return QuotaOutcome(True, fullest.name, fullest.count + fullest.new, fullest.limit, None)


class QuotaCounter(Protocol):
    """What the request pipeline asks of a quota counter: the in-memory QuotaTracker below (one process), or
    gateway.watch.shared_quotas.SharedQuotaCounter (every replica and worker on one database)."""

    def check(self, principal_id: str, role: str, subject: str, *others: str) -> QuotaOutcome: ...
    def update(self, settings: QuotaSettings) -> None:
        """New limits from now on (a pushed or reloaded policy); the counts so far stay."""


Key = bytes | str  # a subject as the tracker keeps it (subject_key)


def subject_key(subject: str) -> Key:
    """A subject as the windows keep it: a blind index (lower-case hex, as the gate computes it) as its 32 bytes — a
    65-byte object against 113 for its text, and the windows hold one per distinct person a principal asked about
    in the day —; anything else as given (distinct texts stay distinct keys)."""
    try:
        raw = bytes.fromhex(subject)
    except ValueError:
        return subject
    return raw if raw.hex() == subject else subject


@dataclass(slots=True)
class _Window:
    """Subjects seen in the last `length` seconds, oldest first; a subject's time is its latest allowed ask."""

    length: float
    seen: OrderedDict[Key, float] = field(default_factory=OrderedDict)
    warned_at: float | None = None

    def prune(self, now: float) -> None:
        seen, horizon = self.seen, now - self.length
        while seen:
            subject, at = next(iter(seen.items()))
            if at > horizon:
                return
            del seen[subject]

    def touch(self, subject: Key, now: float) -> None:
        self.seen[subject] = now
        self.seen.move_to_end(subject)

    def warn(self, now: float) -> bool:
        """A warning now, unless this window warned within its length (then noted as warned now)."""
        if self.warned_at is not None and now - self.warned_at < self.length:
            return False
        self.warned_at = now
        return True


@dataclass(slots=True)
class _Principal:
    hour: _Window = field(default_factory=lambda: _Window(HOUR))
    day: _Window = field(default_factory=lambda: _Window(DAY))
    last_active: float = 0.0

    def prune(self, now: float) -> None:
        self.hour.prune(now)
        self.day.prune(now)

    def record(self, subject: Key, now: float) -> None:
        self.hour.touch(subject, now)
        self.day.touch(subject, now)

    def window(self, name: str) -> _Window:
        return self.day if name == "day" else self.hour


def _decide(p: _Principal, limits: QuotaLimits, ratio: float, subjects: Collection[Key], now: float
            ) -> QuotaOutcome:
    """Under the lock: refuse without recording, or record every subject of the request and allow.

    "New" is per window: someone asked about two hours ago is not new to the day but is new to the hour. A
    request about several people fits only if all of its new ones fit.
    """
    p.prune(now)
    p.last_active = now
    uses = []
    for name, length, lim in limits.windows:
        seen = p.window(name).seen
        uses.append(WindowUse(name, length, lim, len(seen), len(subjects) - sum(map(seen.__contains__, subjects))))
    refused = refusal(uses)
    if refused is not None:
        return refused
    for subject in subjects:
        p.record(subject, now)
    return granted(uses, ratio, lambda u: p.window(u.name).warn(now))


_FREE = QuotaOutcome(True, "", 0, None, None)


class QuotaTracker(PrincipalWatch[QuotaSettings, _Principal]):
    """Distinct subjects per principal in the last hour and day; thread-safe, memory-bounded, clock injectable.

    Threads: check() is called from the gRPC server's worker threads. All mutable state sits behind one
    threading.Lock held only for the dictionary work of one check (no I/O, no clock read, no policy lookup);
    settings are an immutable value replaced by one reference assignment (update()).

    Memory: subjects older than their window are dropped on each check of that principal, principals idle
    for a day are dropped on any check, and at most `max_principals` are kept (the least recently active goes
    first; that principal's counts restart, which `evictions` records). A limited principal holds at most
    per_day subjects (24 × per_hour if only the hour is limited); unlimited roles are not tracked at all.

    Call check() after the policy allowed the request: a subject recorded for a request refused later would
    count against the principal.
    """

    def __init__(self, settings: QuotaSettings, *, clock: Callable[[], float] = time.time,
                 max_principals: int = DEFAULT_MAX_PRINCIPALS) -> None:
        super().__init__(settings, lambda now: _Principal(last_active=now), max_principals)
        self._clock = clock

    def check(self, principal_id: str, role: str, subject: str, *others: str) -> QuotaOutcome:
        """May this principal ask about `subject` (a hex blind index, "" for requests about no person) and the
        `others` the same request speaks of? Each distinct person counts once."""
        settings = self._settings
        limits = settings.for_role(role)
        if limits.unlimited:
            return _FREE
        subjects = {subject_key(s) for s in (subject, *others) if s}
        if not subjects:
            return _FREE
        t = self._clock()
        with self._lock:
            now = self._advance(t)
            return _decide(self._principals.touch(principal_id, now, DAY), limits, settings.alert_ratio, subjects,
                           now)

    def replay(self, entries: Iterable[tuple[float, str, str, str, str]]) -> int:
        """Rebuild from access-log entries (time, principal, role, subject, decision); returns how many counted.

        Only allowed entries about a person within the last day count, whatever today's limits say; warnings
        are not replayed (a restart may repeat one). `subject` may name several people, space-separated.
        """
        now = self._clock()
        names: dict[str, str] = {}  # one string per principal, not one per entry
        kept = sorted((min(t, now), names.setdefault(pid, pid), subject_key(one))
                      for t, pid, role, subject, decision in entries
                      if decision == Decision.ALLOW and subject and now - t < DAY
                      and not self._settings.for_role(role).unlimited for one in subject.split())
        with self._lock:
            for t, pid, subject in kept:
                at = self._advance(t)
                p = self._principals.touch(pid, at, DAY)
                p.prune(at)
                p.record(subject, at)
                p.last_active = at
        return len(kept)
