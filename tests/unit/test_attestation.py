"""An attestation's signed text: a header line, then the statement as sorted-key compact JSON (what `read` and
`verify_bundle` parse, and what a bureau keeps); a changed byte fails its signature."""
from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import attestation
from gateway.audit.checkpoint import parse_note, verifier_key
from gateway.audit.entry import AccessEntry
from gateway.audit.rfc9162 import leaf_hash

ORIGIN = "permitgw.ningbo/0123456789abcdef"
ENTRY = AccessEntry(time="2026-06-15T04:00:00.250000Z", principal="school/330203/org-1", serial="0a", role="school",
                    org="org-1", district="330203", method="/permitgw.v1.EntitlementService/CheckEnrollment",
                    purpose="enrolment", case_id="", operator_id="", subject="ab" * 32, decision="allow",
                    reason="R-ENR-1 \"quoted\" 宁波", policy_version="v7", subjects=("cd" * 32,))


def test_the_signed_text_is_the_header_and_the_sorted_compact_statement() -> None:
    key = Ed25519PrivateKey.generate()
    note = attestation.sign(ENTRY, 42, ORIGIN, key)
    body, signatures = parse_note(note)
    expected = attestation.statement(ENTRY, 42, ORIGIN)
    assert body == (f"{attestation.HEADER}\n"
                    f"{json.dumps(expected, sort_keys=True, separators=(',', ':'))}\n").encode()
    assert expected["index"] == 41 and expected["leaf"] == leaf_hash(ENTRY.canonical_bytes()).hex()
    assert len(signatures) == 1
    assert attestation.read(note, verifier_key(ORIGIN, key.public_key())) == expected


def test_a_changed_statement_does_not_verify() -> None:
    key = Ed25519PrivateKey.generate()
    note = attestation.sign(ENTRY, 42, ORIGIN, key).replace(b'"index":41', b'"index":40')
    with pytest.raises(attestation.AttestationError):
        attestation.read(note, verifier_key(ORIGIN, key.public_key()))
