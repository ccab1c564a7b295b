"""One access-log entry and its canonical byte form.

The canonical bytes are what a Merkle leaf will hash (RFC 9162): sorted-key compact JSON, UTF-8.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from gateway.domain import clock


class Decision:
    ALLOW = "allow"
    DENY = "deny"
    INVALID = "invalid"  # the request was malformed (INVALID_ARGUMENT)
    ERROR = "error"  # the gateway could not answer
    ALERT = "alert"  # not an access: something auditors should look at (QUOTA_WARNING, QUOTA_EXCEEDED, …)


@dataclass(frozen=True, slots=True)
class AccessEntry:
    time: str  # RFC 3339 UTC, microseconds
    principal: str  # role/district/org of the verified certificate ("" if none)
    serial: str  # certificate serial, hex
    role: str
    org: str
    district: str
    method: str  # full gRPC method name
    purpose: str
    case_id: str
    operator_id: str
    subject: str  # hex blind index of the identity number asked about; never the number
    decision: str
    reason: str  # a reason code (POLICY_DENIED, ...) or a rule ID of docs/domain.md
    policy_version: str
    seq: int | None = None  # position in the log, set by the store

    def canonical_bytes(self) -> bytes:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "seq"}
        return json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def now_rfc3339() -> str:
    """The time an entry is written, from the gateway's clock (gateway.domain.clock)."""
    return clock.rfc3339(clock.now())
