"""Per-principal state kept in bounded memory: idle principals are dropped, and beyond a cap the least
recently active one is evicted. Shared by the quota tracker and the anomaly detector (callers lock)."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar


class _Active(Protocol):
    last_active: float


T = TypeVar("T", bound=_Active)


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
