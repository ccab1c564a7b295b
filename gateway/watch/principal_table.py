"""Per-principal state kept in bounded memory: idle principals are dropped, and beyond a cap the least
recently active one is evicted. Shared by the quota tracker and the anomaly detector (callers lock), with what
else both watches hold alike (PrincipalWatch)."""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar


class _Active(Protocol):
    last_active: float


T = TypeVar("T", bound=_Active)
S = TypeVar("S")


class PrincipalTable(Generic[T]):
    def __init__(self, cap: int, make: Callable[[float], T]) -> None:
        if cap < 1:
            raise ValueError("max_principals must be at least 1")
        self.cap, self._make = cap, make
        self._items: OrderedDict[str, T] = OrderedDict()  # least recently active first
        self.evictions = 0

    def touch(self, principal_id: str, now: float, idle: float) -> T:
        """The principal's state (new if absent), after dropping principals idle for `idle` seconds or more."""
        items = self._items
        while items:
            oldest = next(iter(items.values()))
            if now - oldest.last_active < idle:
                break
            items.popitem(last=False)
        state = items.get(principal_id)
        if state is None:
            state = items[principal_id] = self._make(now)
            if len(items) > self.cap:
                items.popitem(last=False)
                self.evictions += 1
        else:
            items.move_to_end(principal_id)
        return state

    def __len__(self) -> int:
        return len(self._items)

    def values(self) -> Iterator[T]:
        return iter(self._items.values())


class PrincipalWatch(Generic[S, T]):
    """What the quota tracker and the anomaly detector share: settings replaced by one reference assignment
    (update()), one lock for the state, the bounded principal table, and a time that never runs backwards."""

    def __init__(self, settings: S, make: Callable[[float], T], max_principals: int) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._principals: PrincipalTable[T] = PrincipalTable(max_principals, make)
        self._now = -math.inf  # the latest time seen: a clock stepping back never reorders the windows

    @property
    def settings(self) -> S:
        return self._settings

    def update(self, settings: S) -> None:
        """New settings (a policy reload); what was counted so far keeps counting."""
        self._settings = settings

    @property
    def evictions(self) -> int:
        return self._principals.evictions

    def tracked_principals(self) -> int:
        return len(self._principals)

    def _advance(self, t: float) -> float:
        """Under the lock: the time to count `t` at, never earlier than one already seen."""
        self._now = max(self._now, t)
        return self._now
