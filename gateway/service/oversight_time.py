"""Times for the officers' console: RFC 3339 instants in, the log's own UTC text form out, hour buckets.

The access log writes times as UTC RFC 3339 with microseconds and `Z` (domain/clock.rfc3339), and the store
compares and groups them as text. So every bound a use case hands the store is written in that same form, and an
hour or a day is the leading 13 or 10 characters of it; the page shows them in Beijing time.
"""
from __future__ import annotations

import datetime as _dt

from gateway.domain.clock import rfc3339
from gateway.errors import GatewayError

HOUR = _dt.timedelta(hours=1)


class BadTime(GatewayError, ValueError):
    """A time argument that is not an RFC 3339 instant with its UTC offset; `field` names it (never the value)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field}: not an RFC 3339 time with its UTC offset (e.g. 2026-06-15T04:00:00Z)")
        self.field = field


def instant(text: str, field: str) -> _dt.datetime:
    """An RFC 3339 instant (`Z` or an offset) as an aware UTC datetime; BadTime otherwise."""
    try:
        at = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError) as exc:
        raise BadTime(field) from exc
    if at.tzinfo is None:
        raise BadTime(field)
    return at.astimezone(_dt.UTC)


def log_time(at: _dt.datetime) -> str:
    """An instant as the log writes it, so that the store's text comparisons order it with the entries."""
    return rfc3339(at)


def hour_start(at: _dt.datetime) -> _dt.datetime:
    """The start of the UTC hour `at` falls in."""
    return at.astimezone(_dt.UTC).replace(minute=0, second=0, microsecond=0)


def bucket_start(bucket: str) -> str:
    """An hour bucket (`YYYY-MM-DDTHH`) or a day bucket (`YYYY-MM-DD`) as the RFC 3339 instant it starts at."""
    return f"{bucket}:00:00Z" if "T" in bucket else f"{bucket}T00:00:00Z"
