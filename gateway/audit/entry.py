"""One access-log entry and its canonical byte form.

The canonical bytes are what a Merkle leaf will hash (RFC 9162): sorted-key compact JSON, UTF-8.
A call that reveals something about several people (a child and the adults named as its guardians) has one
`subject` and the others in `subjects`; an entry with no others hashes exactly as entries always have.
"""
from __future__ import annotations

import bisect
import json
import operator
from dataclasses import asdict, dataclass, fields
from json.encoder import encode_basestring  # the C escaper json.dumps uses for text when ensure_ascii=False

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
    subjects: tuple[str, ...] = ()  # blind indexes of the other people the call is about: sorted, distinct

    def __post_init__(self) -> None:
        if self.subjects == ():  # most calls are about one person: nothing to sort (an empty list still becomes ())
            return
        others = tuple(sorted(set(self.subjects) - {self.subject, ""}))
        if others != self.subjects:
            object.__setattr__(self, "subjects", others)

    def people(self) -> tuple[str, ...]:
        """Every person the call is about (blind indexes), the main subject first."""
        return (self.subject, *self.subjects) if self.subject else self.subjects

    def canonical_bytes(self) -> bytes:
        """Sorted-key compact JSON of the hashed fields (and `subjects` when there are others), UTF-8.

        Written out field by field in the fixed key order, each text escaped by the encoder json.dumps uses: the
        same bytes as json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False) of the dictionary
        (tests/unit/test_access_entry_canonical.py), at a third of its cost — every call's entry is hashed, and a
        CheckEnrollment's twice. A field that is not text goes through the general encoder."""
        try:
            parts = list(map(operator.add, _PREFIXES, map(encode_basestring, _sorted_values(self))))
            if self.subjects:  # absent when empty: entries written before the field existed verify unchanged
                parts.insert(_SUBJECTS_AT, ',"subjects":[' + ",".join(map(encode_basestring, self.subjects)) + "]")
        except TypeError:
            return self._canonical_generic()
        parts.append("}")
        return "".join(parts).encode("utf-8")

    def _canonical_generic(self) -> bytes:
        d: dict[str, object] = dict(zip(_HASHED, _hashed_values(self), strict=True))
        if self.subjects:
            d["subjects"] = list(self.subjects)
        return _CANONICAL.encode(d).encode("utf-8")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


# What an entry's leaf hashes: every field but its position and (when empty) the others, as sorted-key compact JSON.
# Worked out once, not per entry: the log's writer hashes thousands of entries a second.
_HASHED = tuple(f.name for f in fields(AccessEntry) if f.name not in ("seq", "subjects"))
_hashed_values = operator.attrgetter(*_HASHED)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_SORTED = tuple(sorted(_HASHED))
_sorted_values = operator.attrgetter(*_SORTED)
_PREFIXES = tuple(("," if i else "{") + encode_basestring(name) + ":" for i, name in enumerate(_SORTED))
_SUBJECTS_AT = bisect.bisect(_SORTED, "subjects")  # where "subjects" goes among the sorted keys (before "time")
assert 0 < _SUBJECTS_AT <= len(_SORTED)


def now_rfc3339() -> str:
    """The time an entry is written, from the gateway's clock (gateway.domain.clock)."""
    return clock.rfc3339(clock.now())
