"""A small bounded pool of SQLite connections for reads, beside the store's one writing connection.

In WAL mode readers and the writer do not block each other: a read on its own connection need not wait while the
writer holds its lock through a COMMIT and its fsync (about half of a read's time under load was that wait). The pool
opens a connection only when every open one is busy, keeps at most `size`, and a reader beyond that waits (bounded)
for one to come back. A connection is used by one thread at a time.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

from gateway.store.port import StoreError, StoreUnavailable

READERS = 4  # connections at most: reads hold the GIL little; more only costs file handles and page caches
WAIT_SECONDS = 5.0  # how long a read waits for a free connection (all READERS busy) before failing closed


class Readers:
    """Reader connections made by `open_reader`, at most `size`, lent one thread at a time."""

    def __init__(self, open_reader: Callable[[], sqlite3.Connection], size: int = READERS,
                 wait: float = WAIT_SECONDS) -> None:
        if size < 1:
            raise ValueError("a reader pool holds at least one connection")
        self._open, self._size, self._wait = open_reader, size, wait
        self._idle: list[sqlite3.Connection] = []
        self._opened = 0
        self._closed = False
        # One plain lock guards the pool (taken with C-level `with`, as every read takes and gives back); the
        # condition on it is waited on only when every connection is lent, and notified only if someone waits.
        self._mutex = threading.Lock()
        self._free = threading.Condition(self._mutex)
        self._waiting = 0

    @property
    def opened(self) -> int:
        """Connections open now (idle or lent)."""
        return self._opened

    def take(self) -> sqlite3.Connection:
        """A connection lent to this thread until `give_back` (for one statement or a few, all reads; the caller
        gives it back in a `finally`: a context manager would cost a read more than the lending)."""
        with self._mutex:
            while True:
                if self._closed:
                    raise StoreError("the store is closed")
                if self._idle:
                    return self._idle.pop()
                if self._opened < self._size:
                    self._opened += 1
                    break
                self._waiting += 1
                try:
                    woke = self._free.wait(self._wait)
                finally:
                    self._waiting -= 1
                if not woke:
                    raise StoreUnavailable(f"all {self._size} reader connections stayed busy for {self._wait:.0f} s")
        try:
            return self._open()
        except BaseException:
            with self._mutex:
                self._opened -= 1
                if self._waiting:
                    self._free.notify()
            raise

    def give_back(self, db: sqlite3.Connection) -> None:
        """Return a connection `take` lent (closed instead if the pool was closed meanwhile)."""
        with self._mutex:
            if not self._closed:
                self._idle.append(db)
                if self._waiting:
                    self._free.notify()
                return
            self._opened -= 1
        db.close()

    def close(self) -> None:
        """Close the idle connections now and each lent one when it comes back; no connection is lent after."""
        with self._mutex:
            self._closed = True
            idle, self._idle = self._idle, []
            self._opened -= len(idle)
            self._free.notify_all()
        for db in idle:
            db.close()
