"""Witness cosignatures on checkpoints (c2sp.org/tlog-cosignature, Ed25519 `cosignature/v1`).

A cosignature is a signed-note signature line by a witness over "cosignature/v1\\ntime T\\n" + the checkpoint
body, with the timestamp T inside the signature blob. It says: as of T, this is the largest consistent tree
head the witness has seen for the log. Verifiers hold the witness's verifier key (signature type 0x04).
"""
from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.audit.checkpoint import (
    Checkpoint,
    NoteError,
    NoteSignature,
    VerifierKeys,
    parse_note,
    parse_typed_key,
    typed_key_id,
    typed_verifier_key,
    verify_checkpoint,
)

ALG_COSIGNATURE_V1 = 0x04
_MAX_TIMESTAMP = 2**63 - 1


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def cosigner_key_id(name: str, public_key: Ed25519PublicKey) -> int:
    """SHA-256(name || 0x0A || 0x04 || public key)[:4], big-endian."""
    return typed_key_id(name, ALG_COSIGNATURE_V1, public_key)


def cosigner_verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The witness's verifier key string '<name>+<hex key ID>+<base64(0x04 || public key)>'."""
    return typed_verifier_key(name, ALG_COSIGNATURE_V1, public_key)


def parse_cosigner_key(text: str) -> tuple[str, int, Ed25519PublicKey]:
    """Parse a witness verifier key string; raises NoteError if it is not a cosignature/v1 Ed25519 key."""
    return parse_typed_key(text, ALG_COSIGNATURE_V1, "witness key")


def signed_message(body: bytes, timestamp: int) -> bytes:
    return b"cosignature/v1\ntime " + str(timestamp).encode("ascii") + b"\n" + body


def cosign(cp: Checkpoint, name: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """One cosignature line (with its newline) for the checkpoint, made at `timestamp` (POSIX seconds)."""
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise NoteError("cosignature timestamp out of range")
    signature = key.sign(signed_message(cp.body(), timestamp))
    kid = cosigner_key_id(name, key.public_key())
    return NoteSignature(name, kid, timestamp.to_bytes(8, "big") + signature).line()


def add_cosignatures(note: bytes, lines: str) -> bytes:
    """Append cosignature lines to a signed note, replacing earlier ones by the same keys."""
    body, existing = parse_note(note)
    added = parse_note(body + b"\n" + lines.encode("utf-8"))[1] if lines else []
    slots = {(s.name, s.key_id) for s in added}
    kept = [s for s in existing if (s.name, s.key_id) not in slots]
    return body + b"\n" + "".join(s.line() for s in [*kept, *added]).encode("utf-8")


def verify_cosigned(note: bytes | str, log_verifier: VerifierKeys, witness_key: str) -> tuple[Checkpoint, int]:
    """Check the log's signature and the witness's cosignature on a note; return (checkpoint, timestamp).

    Raises NoteError if either is missing or invalid.
    """
    raw = note.encode("utf-8") if isinstance(note, str) else note
    cp = verify_checkpoint(raw, log_verifier)
    name, kid, public = parse_cosigner_key(witness_key)
    body, signatures = parse_note(raw)
    for sig in signatures:
        if (sig.name, sig.key_id) != (name, kid):
            continue
        if len(sig.signature) != 8 + 64:
            raise NoteError(f"cosignature by {name} has the wrong length")
        timestamp = int.from_bytes(sig.signature[:8], "big")
        try:
            public.verify(sig.signature[8:], signed_message(body, timestamp))
        except InvalidSignature:
            raise NoteError(f"invalid cosignature by witness {name}") from None
        return cp, timestamp
    raise NoteError(f"no cosignature by witness {name}")
