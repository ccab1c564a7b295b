"""Signed checkpoints for the access log: C2SP tlog-checkpoint bodies inside C2SP signed notes (Ed25519).

Auditors and witnesses verify tree heads with off-the-shelf tooling only if the bytes match the specs exactly.
"""
from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.errors import GatewayError

# c2sp.org/signed-note: signature type byte for Ed25519.
ALG_ED25519 = 0x01
# c2sp.org/signed-note: verifiers MUST accept at least 16 signatures and SHOULD cap them; golang.org/x/mod caps at 100.
MAX_SIGNATURES = 100
# RFC 6962 §2.1: the root of the empty tree is SHA-256 of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()
HASH_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1  # RFC 9162 tree_size is a uint64

_EM_DASH_PREFIX = "\u2014 "
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile("[\x00-\x1f]")  # what a checkpoint line may not hold (a regex: one search in C per line)
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f]")  # what a note's text may not hold (CR, tab, NUL...)


class NoteError(GatewayError, ValueError):
    """A signed note is malformed, or does not carry a valid signature from a trusted key."""


class CheckpointError(NoteError):
    """A checkpoint body is malformed, or is not the checkpoint the caller expected."""


class InconsistentCheckpointError(GatewayError):
    """Signing this checkpoint would contradict one the log already signed (the guard refused)."""


# --- checkpoint body (c2sp.org/tlog-checkpoint) -------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: origin line, decimal size line, base64 root line, optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"tree size must be an integer in [0, 2^64-1], not {self.size!r}")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise CheckpointError(f"root hash must be {HASH_SIZE} bytes")
        if not isinstance(self.extensions, tuple):
            raise CheckpointError("extensions must be a tuple of lines")
        for line in self.extensions:
            _check_line(line, "extension line")

    def body(self) -> bytes:
        """The note text: every line ends in a newline, including the last."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii"), *self.extensions]
        return "".join(line + "\n" for line in lines).encode("utf-8")


def _check_line(line: object, what: str) -> None:
    if not isinstance(line, str) or not line:
        raise CheckpointError(f"{what} must be a non-empty string")
    if _CONTROL.search(line):
        raise CheckpointError(f"{what} contains a control character or newline")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CheckpointError(f"{what} is not valid Unicode text") from exc


def parse_body(text: bytes | str) -> Checkpoint:
    """Parse a checkpoint body strictly; raises CheckpointError."""
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError("checkpoint body is not valid UTF-8") from exc
    if not decoded.endswith("\n"):
        raise CheckpointError("checkpoint body must end with a newline")
    lines = decoded[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint body needs origin, size and root hash lines")
    origin, size, root, *extensions = lines
    return Checkpoint(origin, _parse_size(size), _parse_root(root), tuple(extensions))


def _parse_size(line: str) -> int:
    if not _DECIMAL.fullmatch(line):
        raise CheckpointError(f"tree size {line!r} is not a decimal without leading zeros")
    size = int(line)
    if size > MAX_TREE_SIZE:
        raise CheckpointError("tree size does not fit in 64 bits")
    return size


def _parse_root(line: str) -> bytes:
    try:
        root = _b64decode_strict(line)
    except ValueError as exc:
        raise CheckpointError(f"root hash is not canonical base64: {exc}") from exc
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"root hash is {len(root)} bytes, not {HASH_SIZE}")
    return root


def _b64decode_strict(text: str) -> bytes:
    """Standard padded base64 (RFC 4648 §4) with zero pad bits, so each byte string has exactly one encoding."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("invalid base64") from exc
    if base64.b64encode(data).decode("ascii") != text:
        raise ValueError("non-canonical base64")
    return data


# --- keys and verifier key strings (c2sp.org/signed-note, golang.org/x/mod/sumdb/note) ----------------------


@dataclass(frozen=True)
class Verifier:
    """A trusted Ed25519 key: the (name, key ID) pair that signature lines refer to, and the key itself."""

    name: str
    key_id: int
    public_key: Ed25519PublicKey

    def raw_key(self) -> bytes:
        return _raw_public(self.public_key)


def is_valid_key_name(name: object) -> bool:
    """Key names are non-empty, with no Unicode spaces and no '+' (and, being in a note, no control characters)."""
    return isinstance(name, str) and _valid_key_name(name)


@functools.lru_cache(maxsize=256)
def _valid_key_name(name: str) -> bool:
    """(cached: a gateway signs every answer's attestation under the same few names)"""
    return name != "" and "+" not in name and not any(ch.isspace() or ord(ch) < 0x20 for ch in name)


def _require_key_name(name: str) -> None:
    if not is_valid_key_name(name):
        raise NoteError(f"invalid key name {name!r}: must be non-empty, without spaces or '+'")


def _raw_public(key: Ed25519PublicKey | bytes) -> bytes:
    raw = key if isinstance(key, bytes) else key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    if len(raw) != 32:
        raise NoteError(f"an Ed25519 public key is 32 bytes, not {len(raw)}")
    return raw


def typed_key_id(name: str, alg: int, public_key: Ed25519PublicKey | bytes) -> int:
    """The uint32 key ID of a signed-note key: the first four bytes of SHA-256(name || 0x0A || alg || public
    key), big-endian (alg 0x01: the log's Ed25519 key; 0x04: a witness's cosignature/v1 key)."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + _raw_public(public_key)).digest()
    return int.from_bytes(digest[:4], "big")


def typed_verifier_key(name: str, alg: int, public_key: Ed25519PublicKey | bytes) -> str:
    """The verifier key string '<name>+<hex key ID>+<base64(alg || public key)>'."""
    _require_key_name(name)
    encoded = base64.b64encode(bytes([alg]) + _raw_public(public_key)).decode("ascii")
    return f"{name}+{typed_key_id(name, alg, public_key):08x}+{encoded}"


def parse_typed_key(text: str, alg: int, what: str) -> tuple[str, int, Ed25519PublicKey]:
    """Parse and check a verifier key string of signature type `alg`; returns (name, key ID, public key)."""
    name, hash_hex, key_b64 = _split_verifier_key(text)
    try:
        key = _b64decode_strict(key_b64)
    except ValueError as exc:
        raise NoteError(f"{what} material: {exc}") from exc
    if len(key) != 33 or key[0] != alg:
        raise NoteError(f"{what} is not an Ed25519 key of signature type 0x{alg:02x}")
    if int(hash_hex, 16) != typed_key_id(name, alg, key[1:]):
        raise NoteError(f"{what} ID does not match its name and key")
    return name, int(hash_hex, 16), Ed25519PublicKey.from_public_bytes(key[1:])


def key_id(name: str, public_key: Ed25519PublicKey | bytes) -> int:
    """The log key's ID (signature type 0x01)."""
    return typed_key_id(name, ALG_ED25519, public_key)


def verifier_key(name: str, public_key: Ed25519PublicKey | bytes) -> str:
    """The log's verifier key string '<name>+<hex key ID>+<base64(0x01 || public key)>'."""
    return typed_verifier_key(name, ALG_ED25519, public_key)


def parse_verifier_key(text: str) -> tuple[str, int, Ed25519PublicKey]:
    """Parse and check the log's verifier key string; returns (name, key ID, public key). Raises NoteError."""
    return parse_typed_key(text, ALG_ED25519, "verifier key")


def _split_verifier_key(text: object) -> tuple[str, str, str]:
    if not isinstance(text, str):
        raise NoteError("a verifier key is a string")
    parts = text.split("+", 2)  # base64 may itself contain '+'; names and IDs may not
    if len(parts) != 3 or not _HEX8.fullmatch(parts[1]):
        raise NoteError("verifier key must look like <name>+<8 hex digits>+<base64 key>")
    _require_key_name(parts[0])
    return parts[0], parts[1], parts[2]


def load_verifier(key: str | Verifier) -> Verifier:
    """A Verifier from a verifier key string (or an existing Verifier)."""
    if isinstance(key, Verifier):
        return key
    name, kid, public = parse_verifier_key(key)
    return Verifier(name, kid, public)


VerifierKeys = Mapping[object, str | Verifier] | Iterable[str | Verifier] | str | Verifier
"""One verifier key, an iterable of them, or a mapping whose values are verifier keys."""


def _verifier_table(verifiers: VerifierKeys) -> dict[tuple[str, int], Verifier]:
    if isinstance(verifiers, str | Verifier):
        verifiers = [verifiers]
    elif isinstance(verifiers, Mapping):
        verifiers = list(verifiers.values())
    table: dict[tuple[str, int], Verifier] = {}
    for item in verifiers:
        verifier = load_verifier(item)
        slot = (verifier.name, verifier.key_id)
        if slot in table and table[slot].raw_key() != verifier.raw_key():
            raise NoteError(f"ambiguous verifier keys for {verifier.name}+{verifier.key_id:08x}")
        table[slot] = verifier
    return table


# --- signed notes ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line, not yet verified: key name, key ID, and the signature bytes after the ID."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        encoded = base64.b64encode(self.key_id.to_bytes(4, "big") + self.signature).decode("ascii")
        return f"{_EM_DASH_PREFIX}{self.name} {encoded}\n"


def parse_note(note: bytes | str) -> tuple[bytes, list[NoteSignature]]:
    """Split a signed note into its text and signature lines, checking syntax only (no signature is verified)."""
    raw = note.encode("utf-8") if isinstance(note, str) else bytes(note)
    decoded = _decode_note(raw)
    split = decoded.rfind("\n\n")  # the LAST empty line separates text from signatures
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block or not block.endswith("\n"):
        raise NoteError("malformed note: signature block is empty or does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    signatures = [_parse_signature_line(line) for line in lines]
    _reject_duplicates(signatures)
    return text.encode("utf-8"), signatures


def _decode_note(raw: bytes) -> str:
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoteError("malformed note: not valid UTF-8") from exc
    if _CONTROL_BUT_NEWLINE.search(decoded):
        raise NoteError("malformed note: control character other than newline (CRLF line endings?)")
    return decoded


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_EM_DASH_PREFIX):
        raise NoteError("malformed note: signature line does not start with an em dash (U+2014) and a space")
    name, sep, encoded = line[len(_EM_DASH_PREFIX) :].partition(" ")
    if not sep or not is_valid_key_name(name):
        raise NoteError(f"malformed note: bad key name in signature line {line!r}")
    try:
        blob = _b64decode_strict(encoded)
    except ValueError as exc:
        raise NoteError(f"malformed note: signature for {name} is not canonical base64") from exc
    if len(blob) < 5:
        raise NoteError(f"malformed note: signature for {name} is too short")
    return NoteSignature(name, int.from_bytes(blob[:4], "big"), blob[4:])


def _reject_duplicates(signatures: list[NoteSignature]) -> None:
    seen: set[tuple[str, int]] = set()
    for sig in signatures:
        if (sig.name, sig.key_id) in seen:
            raise NoteError(f"malformed note: two signatures from {sig.name}+{sig.key_id:08x}")
        seen.add((sig.name, sig.key_id))


def _check_text(body: bytes) -> bytes:
    body = bytes(body)
    if not body.endswith(b"\n"):
        raise NoteError("note text must end with a newline")
    _decode_note(body)
    return body


def _signature(body: bytes, name: str, key: Ed25519PrivateKey) -> NoteSignature:
    _require_key_name(name)
    return NoteSignature(name, _signing_key_id(name, key), key.sign(body))


@functools.lru_cache(maxsize=64)
def _signing_key_id(name: str, key: Ed25519PrivateKey) -> int:
    """The key ID of one of this process's signing keys under a name (cached: every answer's attestation and every
    batch's checkpoint is signed with the same key; private keys compare by identity, so a key is never confused
    with another)."""
    return key_id(name, key.public_key())


def sign_note(body: bytes, name: str, key: Ed25519PrivateKey) -> bytes:
    """Sign a note text (which must end in a newline) with one key: text, blank line, one signature line."""
    body = _check_text(body)
    return _assemble(body, [_signature(body, name, key)])


def add_signature(note: bytes, name: str, key: Ed25519PrivateKey) -> bytes:
    """Add a signature to an already signed note, replacing any earlier one by the same key.

    The existing signatures are carried over unverified: open the note first if their validity matters.
    """
    body, existing = parse_note(note)
    _check_text(body)
    new = _signature(body, name, key)
    kept = [sig for sig in existing if (sig.name, sig.key_id) != (new.name, new.key_id)]
    if len(kept) >= MAX_SIGNATURES:
        raise NoteError(f"a note carries at most {MAX_SIGNATURES} signatures")
    return _assemble(body, [*kept, new])


def _assemble(body: bytes, signatures: list[NoteSignature]) -> bytes:
    return body + b"\n" + "".join(sig.line() for sig in signatures).encode("utf-8")


def open_note(note: bytes | str, verifiers: VerifierKeys) -> tuple[bytes, list[str]]:
    """Verify a signed note; returns (text, names of the trusted keys whose signatures verified).

    Signatures from unknown keys (name and key ID not both matching a trusted key) are ignored. A trusted key with a
    bad signature rejects the whole note, and at least one trusted signature must verify; otherwise NoteError.
    """
    table = _verifier_table(verifiers)
    body, signatures = parse_note(note)
    signers: list[str] = []
    for sig in signatures:
        verifier = table.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        try:
            verifier.public_key.verify(sig.signature, body)
        except InvalidSignature:
            raise NoteError(f"invalid signature for key {sig.name}+{sig.key_id:08x}") from None
        if sig.name not in signers:
            signers.append(sig.name)
    if not signers:
        raise NoteError("note has no verifiable signatures from a trusted key")
    return body, signers


# --- signed checkpoints ------------------------------------------------------------------------------------


def sign_checkpoint(cp: Checkpoint, name: str, key: Ed25519PrivateKey) -> bytes:
    """Sign a checkpoint as the log. The key name must equal the origin (tlog-checkpoint: it SHOULD)."""
    if name != cp.origin:
        raise CheckpointError(f"the log's key name {name!r} must match the checkpoint origin {cp.origin!r}")
    return sign_note(cp.body(), name, key)


def verify_checkpoint(note: bytes | str, verifier: VerifierKeys, *, origin: str | None = None) -> Checkpoint:
    """Open a signed checkpoint with the log's verifier key(s) and parse its body; optionally pin the origin."""
    body, _ = open_note(note, verifier)
    cp = parse_body(body)
    if origin is not None and cp.origin != origin:
        raise CheckpointError(f"checkpoint origin {cp.origin!r} is not the expected {origin!r}")
    return cp


# --- never sign two inconsistent checkpoints ---------------------------------------------------------------

ConsistencyCheck = Callable[[int, int, bytes, bytes], bool]
"""(old_size, new_size, old_root, new_root) -> True only if a valid consistency proof links the two tree heads."""


class CheckpointGuard:
    """The last checkpoint this log signed; refuses to sign one that is smaller or not consistent with it.

    `consistent` is called only when the size grows from a non-empty tree; it should build and verify an RFC 9162
    consistency proof. `persist(size, root)` (optional) records the new head durably before the note is released;
    if it raises, the note is discarded and the guard keeps its old state. Restore state after a restart via `last`.
    """

    def __init__(
        self,
        consistent: ConsistencyCheck,
        last: Checkpoint | None = None,
        persist: Callable[[int, bytes], None] | None = None,
    ) -> None:
        self._consistent = consistent
        self._last = last
        self._persist = persist
        self._lock = threading.Lock()

    @property
    def last(self) -> Checkpoint | None:
        return self._last

    def check(self, cp: Checkpoint) -> None:
        """Raise InconsistentCheckpointError unless `cp` may be signed after the last signed checkpoint."""
        last = self._last
        if last is None:
            return
        if cp.origin != last.origin:
            raise InconsistentCheckpointError(f"origin changed from {last.origin!r} to {cp.origin!r}")
        if cp.size < last.size:
            raise InconsistentCheckpointError(f"tree size {cp.size} is smaller than signed size {last.size}")
        if cp.size == last.size:
            if cp.root != last.root:
                raise InconsistentCheckpointError(f"a different root for already signed size {cp.size}")
            return
        if not self._grows_consistently(last, cp):
            raise InconsistentCheckpointError(f"size {cp.size} is not consistent with signed size {last.size}")

    def _grows_consistently(self, last: Checkpoint, cp: Checkpoint) -> bool:
        if last.size == 0:
            return last.root == EMPTY_ROOT
        try:
            return self._consistent(last.size, cp.size, last.root, cp.root) is True
        except Exception as exc:  # a failing proof check is a refusal, never a pass
            raise InconsistentCheckpointError(f"consistency check failed: {exc!r}") from exc

    def sign(self, cp: Checkpoint, name: str, key: Ed25519PrivateKey) -> bytes:
        """Check, sign, record: the only way the log should sign checkpoints."""
        with self._lock:
            self.check(cp)
            note = sign_checkpoint(cp, name, key)
            if self._persist is not None:
                self._persist(cp.size, cp.root)
            self._last = cp
            return note
