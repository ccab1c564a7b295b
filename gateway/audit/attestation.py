"""Attestations: a signed statement of a decision that a bureau can keep and check offline.

The statement (decision, subject blind index, principal, time, policy version, log index and leaf hash) is
an Ed25519 signed note; a bundle adds the log entry, an inclusion proof and a signed checkpoint, so anyone
with the gateway's verifier key can check that the decision is in the log, as stated, without the gateway.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.checkpoint import NoteError, open_note, sign_note, verify_checkpoint
from gateway.audit.entry import AccessEntry
from gateway.audit.port import LogStore
from gateway.audit.rfc9162 import inclusion_proof, leaf_hash, verify_inclusion
from gateway.audit.witnessing import witnessed_by
from gateway.errors import GatewayError

HEADER = "permitgw attestation v1"


class AttestationError(GatewayError, ValueError):
    """The attestation or its bundle does not verify; the message says which part."""


def statement(entry: AccessEntry, seq: int, origin: str, leaf: bytes | None = None) -> dict[str, Any]:
    """What an attestation states; `leaf` is the entry's leaf hash when the caller already has it."""
    if leaf is None:
        leaf = leaf_hash(entry.canonical_bytes())
    return {"log": origin, "index": seq - 1, "leaf": leaf.hex(),
            "decision": entry.reason, "subject": entry.subject, "principal": entry.principal, "time": entry.time,
            "method": entry.method, "policy_version": entry.policy_version}


# One encoder for every statement: json.dumps with options builds a new encoder per call (half its cost here).
_STATEMENT = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def sign(entry: AccessEntry, seq: int, origin: str, key: Ed25519PrivateKey, leaf: bytes | None = None) -> bytes:
    body = f"{HEADER}\n{_STATEMENT.encode(statement(entry, seq, origin, leaf))}\n"
    return sign_note(body.encode("utf-8"), origin, key)


def read(note: bytes, verifier: str) -> dict[str, Any]:
    try:
        body, _ = open_note(note, [verifier])
    except NoteError as exc:
        raise AttestationError(f"attestation signature: {exc}") from exc
    header, _, rest = body.decode("utf-8").partition("\n")
    if header != HEADER:
        raise AttestationError("not a permit-gateway attestation")
    return dict(json.loads(rest))


def bundle(store: LogStore, note: bytes, verifier: str, witness_keys: Sequence[str] = ()) -> dict[str, Any]:
    """Attestation + its log entry + inclusion proof against the latest checkpoint covering it — the latest one a
    witness cosigned, when there is one (then the bundle holds up even against whoever can write the database)."""
    st = read(note, verifier)
    covering = [c for c in store.checkpoints() if c[0] > st["index"]]
    if not covering:
        raise AttestationError("no signed checkpoint covers this entry yet; try again after the next checkpoint")
    witnessed = [c for c in covering if witness_keys and c[2].count("\u2014 ") > 1
                 and witnessed_by(c[2], verifier, list(witness_keys))]
    size, _, checkpoint = (witnessed or covering)[-1]
    entry = next(store.access_entries_at(st["index"] + 1))
    return {"attestation": note.decode("utf-8"), "checkpoint": checkpoint,
            "proof": [h.hex() for h in inclusion_proof(st["index"], size, store)],
            "entry": base64.b64encode(entry.canonical_bytes()).decode("ascii")}


def verify_bundle(data: dict[str, Any], verifier: str, witness_keys: Sequence[str] = ()) -> dict[str, Any]:
    """Check a bundle offline; the statement returned says, under "witnessed_by", which of the given witnesses
    cosigned the checkpoint the entry is proven in."""
    st = read(data["attestation"].encode("utf-8"), verifier)
    entry = base64.b64decode(data["entry"])
    if leaf_hash(entry).hex() != st["leaf"]:
        raise AttestationError("the log entry in the bundle is not the one attested")
    fields = json.loads(entry)
    for key, field in (("decision", "reason"), ("subject", "subject"), ("principal", "principal"),
                       ("time", "time"), ("policy_version", "policy_version"), ("method", "method")):
        if fields.get(field) != st[key]:
            raise AttestationError(f"the attestation's {key} differs from the log entry's")
    try:
        cp = verify_checkpoint(data["checkpoint"].encode("utf-8"), verifier)
    except NoteError as exc:
        raise AttestationError(f"checkpoint signature: {exc}") from exc
    proof = [bytes.fromhex(h) for h in data["proof"]]
    if not verify_inclusion(bytes.fromhex(st["leaf"]), st["index"], cp.size, proof, cp.root):
        raise AttestationError(f"the inclusion proof does not place entry {st['index']} in the checkpoint of "
                               f"size {cp.size}")
    st["witnessed_by"] = witnessed_by(data["checkpoint"], verifier, list(witness_keys))
    return st
