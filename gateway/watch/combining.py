"""Calls made at once share one database transaction: one thread at a time does the work of every waiting call.

The shared counters (anomaly counts, quota checks) are transactions serialised per principal: on PostgreSQL a
dozen statements and two or three waits for the server each, and the calls of one principal waited for each other
anyway. A `Combiner` queues each call's item; the thread that finds no one at work takes every waiting item (up to
`max_batch`), hands each group — a principal's items in the order they came — to `run` as one batch, and wakes
each caller with its own result. The others sleep until theirs is done.

Nothing is left waiting and no thread works for ever: the working thread, once its own item is done, hands the work
over to the first item still waiting (its wake-up) or, if none is, stops — under one mutex, where a newcomer finding
no one at work starts itself.
"""
from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Waiting(Generic[T, R]):
    """One item and its caller's wake-up: a C-level lock taken at creation, released once by the working thread —
    when the item is done, or to hand the work over to it."""

    __slots__ = ("item", "result", "error", "done", "wake")

    def __init__(self, item: T) -> None:
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.done = False
        self.wake = threading.Lock()
        self.wake.acquire()

    def finish(self, result: R | None, error: BaseException | None = None) -> None:
        self.result, self.error, self.done = result, error, True
        self.wake.release()


class Combiner(Generic[T, R]):
    """Runs `run(batch)` for groups of items submitted at once; `submit` returns the item's own result.

    `group(item)` says which items may share a batch: (domain, variant) — items of one domain (a principal) go
    to `run` in the order they were submitted, a batch holding consecutive items of one variant (the settings
    they were made with). `run` returns one result per item, in order, or raises: then every item of that batch
    raises the same exception in its caller.
    """

    def __init__(self, run: Callable[[list[T]], list[R]], group: Callable[[T], tuple[Hashable, Hashable]], *,
                 max_batch: int = 64) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        self._run, self._group, self.max_batch = run, group, max_batch
        self._waiting: collections.deque[_Waiting[T, R]] = collections.deque()
        self._mutex = threading.Lock()  # over _waiting and _working
        self._working = False  # a thread is doing the waiting items' work (or has been asked to)
        self.batches = 0  # calls of `run`

    @property
    def waiting(self) -> int:
        """Items queued and not yet taken."""
        return len(self._waiting)

    def submit(self, item: T) -> R:
        mine: _Waiting[T, R] = _Waiting(item)
        with self._mutex:
            self._waiting.append(mine)
            working = not self._working
            self._working = True
        if not working:
            mine.wake.acquire()  # done, or asked to take over the work
        else:
            # Calls come in groups (the access log answers a batch of them at once): give up the GIL once, so that
            # those just behind queue now and share this batch instead of running one of their own after it (on
            # PostgreSQL at 16 in flight, half the batches held one item without this, a tenth with it).
            time.sleep(0)
        while not mine.done:
            leaving = True
            try:
                self._work()
                leaving = mine.done
            finally:
                with self._mutex:
                    successor = None
                    if not self._waiting:
                        self._working = False
                    elif leaving:
                        successor = self._waiting[0]  # still queued: nobody else releases its wake-up now
                if successor is not None:
                    successor.wake.release()
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]  # set by finish() with the item's own result

    def _work(self) -> None:
        """(the working thread) Run up to max_batch waiting items, batch by batch; finish every one taken."""
        with self._mutex:
            taken = [self._waiting.popleft() for _ in range(min(len(self._waiting), self.max_batch))]
        batches: list[list[_Waiting[T, R]]] = []
        current: dict[Hashable, tuple[Hashable, list[_Waiting[T, R]]]] = {}
        for w in taken:
            domain, variant = self._group(w.item)
            found = current.get(domain)
            if found is None or found[0] != variant:
                found = current[domain] = (variant, [])
                batches.append(found[1])
            found[1].append(w)
        try:
            for batch in batches:
                self.batches += 1
                try:
                    results = self._run([w.item for w in batch])
                    if len(results) != len(batch):
                        raise RuntimeError(f"{len(results)} results for {len(batch)} items")
                except Exception as exc:
                    for w in batch:
                        w.finish(None, exc)
                    continue
                for w, result in zip(batch, results, strict=True):
                    w.finish(result)
        finally:  # an exception that is not an Exception (KeyboardInterrupt...): nobody taken is left waiting
            for w in taken:
                if not w.done:
                    w.finish(None, RuntimeError("the batch was interrupted"))
