"""Which calls a batch of the access log is worth waiting for: group commit that fills its batches.

The log's writer commits each batch with one fsync and one signed checkpoint: the larger the batch, the less each
call pays. A writer that simply takes what is queued commits half-full batches under steady load: the calls in
flight split into two groups taking turns, one group's entries committing while the other's handlers run (16 calls
in flight on one core: batches of 9 on average). So the server tells the log about each unary call as gRPC accepts
it (`expect`, on gRPC's polling thread, before a worker thread runs it); its entry is "expected" until its handler
queues it. A batch being gathered waits for expected entries while one of them can still come: a handler of one is
running, or the batch holds fewer entries than the server has worker threads, so a thread is free to start one
(when every thread waits for the batch's commit, nothing more can come). It never waits longer than the log's
gather time, and a lone call never waits at all: nothing else is expected.

The state is two sets of integers: adding and discarding are single operations under the GIL, so they stay exact
without a lock, and discarding twice is harmless. An expected call that never runs (gRPC refused it as over its
concurrency bound, or the client went away first) is released when gRPC drops its handler (`Arrival.__del__`).
"""
from __future__ import annotations

import itertools
import threading
from collections.abc import Callable


class Arrival:
    """One accepted call whose access-log entry is still to come."""

    __slots__ = ("_of", "key", "open")

    def __init__(self, of: Arrivals, key: int) -> None:
        self._of, self.key, self.open = of, key, True

    def enter(self) -> None:
        """(worker thread) The call starts running on this thread."""
        of = self._of
        of._running.add(self.key)
        of._local.arrival = self

    def leave(self) -> None:
        """(worker thread) The call ended, logged or not."""
        of = self._of
        of._local.arrival = None
        of.release(self, wake=True)

    def __del__(self) -> None:
        if self.open:  # never run (refused by gRPC, or cancelled before a thread took it): nothing to wait for
            self._of.release(self, wake=True)


class Arrivals:
    """The calls one server process has accepted and not yet logged, and which of them are running."""

    def __init__(self, threads: int) -> None:
        if threads < 1:
            raise ValueError(f"a server has at least one worker thread, not {threads}")
        self.threads = threads
        self._keys = itertools.count()
        self._expected: set[int] = set()  # accepted calls whose entry is not queued yet
        self._running: set[int] = set()  # of those, the ones a worker thread is running
        self._local = threading.local()  # the arrival the current thread is serving
        self.wake: Callable[[], None] = lambda: None  # set by the log: a gathering batch looks again

    def expect(self) -> Arrival:
        """(gRPC's polling thread) A call was accepted: its entry will come."""
        arrival = Arrival(self, next(self._keys))
        self._expected.add(arrival.key)
        return arrival

    def queued(self) -> None:
        """(the appending thread) The entry of the call this thread serves is queued: nobody waits for it any more.
        A thread that serves no expected call (the console's, or one logging a later entry of its call) changes
        nothing."""
        arrival = getattr(self._local, "arrival", None)
        if arrival is not None:
            self._local.arrival = None
            self.release(arrival, wake=False)  # its queued entry woke the writer already

    def release(self, arrival: Arrival, *, wake: bool) -> None:
        """Nobody waits for this call's entry any more; `wake` a gathering batch to look again."""
        if not arrival.open:
            return
        arrival.open = False
        self._expected.discard(arrival.key)
        self._running.discard(arrival.key)
        if wake:
            self.wake()

    def worth_waiting(self, batch: int) -> bool:
        """Whether a batch of `batch` entries can still get an expected one: a call is expected, and either one is
        running or the batch holds fewer entries than there are worker threads (one is free to start a call)."""
        return bool(self._expected) and (bool(self._running) or batch < self.threads)

    def expected(self) -> int:
        """Accepted calls whose entries are not queued yet (tests, diagnostics)."""
        return len(self._expected)
