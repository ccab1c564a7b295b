"""What the officers' console reads from the log store beside the entries: counts, acknowledgements, verifications.

The store aggregates (a week of calls is counted in SQL, never loaded) and answers with these plain rows; the use
cases in gateway/service/oversight_*.py shape them into pages. They live here, beside the log port that returns
them, so that neither the audit package nor the store has to know the service layer.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """The latest signed tree head as stored: its size, root, signed note and when its row was written (RFC 3339
    UTC; the note itself carries no time)."""

    size: int
    root: bytes
    note: str
    stored_at: str


@dataclass(frozen=True, slots=True)
class CallCount:
    """How many entries fell in one time bucket for one key and decision.

    `bucket` is the leading part of the entries' RFC 3339 UTC time: `YYYY-MM-DDTHH` for hours, `YYYY-MM-DD` for
    days. `key` is what the count is broken down by (the caller's role, or the purpose)."""

    bucket: str
    key: str
    decision: str
    count: int


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """An officer's acknowledgement of an alert entry: `log_seq` is the access-log entry recording it."""

    alert_seq: int
    time: str  # RFC 3339 UTC
    officer: str  # the officer's principal id (role/district/org), not a person's name
    note: str  # free text, encrypted at rest
    log_seq: int


@dataclass(frozen=True, slots=True)
class VerificationRecord:
    """The outcome of one full verification of the log (the check `permitgw audit verify` makes)."""

    time: str  # RFC 3339 UTC, when it ran
    ok: bool
    size: int  # entries verified
    message: str  # one line
