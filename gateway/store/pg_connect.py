"""Opening PostgreSQL connections so that nothing waits forever, and reopening them with backoff once lost.

Every wait on the network is bounded: connecting (connect_timeout), and a server or network gone silent in the
middle of a statement (TCP keepalives and tcp_user_timeout), unless the operator's DSN sets these itself.
After a failed attempt, further attempts are spaced out (exponential backoff up to a few seconds); in between,
callers fail at once instead of each waiting for a connection that is not there.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

CLOSE_WAIT_SECONDS = 5.0  # close() waits this long for a statement in flight, then closes anyway
FIRST_RETRY_SECONDS = 0.1
MAX_RETRY_SECONDS = 2.0
# libpq settings that bound every network wait; an operator's DSN may set its own
BOUNDED_WAITS: dict[str, Any] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # milliseconds
}


def connect_params(dsn: str) -> dict[str, Any]:
    """The DSN's parameters, with the bounded-wait settings it does not give itself."""
    return {**BOUNDED_WAITS, **conninfo_to_dict(dsn)}


class Reconnect:
    """Opens connections with the same parameters; after a failure, fails fast until the backoff has passed."""

    def __init__(self, params: dict[str, Any], clock: Callable[[], float] = time.monotonic) -> None:
        self._params, self._clock = params, clock
        self._delay, self._retry_at, self._last = FIRST_RETRY_SECONDS, 0.0, ""

    def open(self) -> psycopg.Connection:
        """A new connection (autocommit off), or psycopg.OperationalError (the last reason, while backing off)."""
        wait = self._retry_at - self._clock()
        if wait > 0:
            raise psycopg.OperationalError(f"{self._last} (next attempt in {wait:.1f} s)")
        try:
            db = psycopg.connect(**self._params, autocommit=False)
        except psycopg.Error as exc:
            self.failed(exc)
            raise
        self._delay, self._retry_at = FIRST_RETRY_SECONDS, 0.0
        return db

    def failed(self, exc: BaseException | None = None) -> None:
        """Note a failed attempt: the next one waits twice as long as the last (up to MAX_RETRY_SECONDS)."""
        self._last = " ".join(str(exc).split()) if exc is not None else "connection could not be prepared"
        self._retry_at = self._clock() + self._delay
        self._delay = min(self._delay * 2, MAX_RETRY_SECONDS)
