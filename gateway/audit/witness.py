"""A witness (c2sp.org/tlog-witness): cosigns a log's checkpoint only if it provably extends the last one it cosigned.

Pure logic: parse an add-checkpoint request, decide against the witness's state, and say what to answer. The
witness process (gateway/audit/witness_files.py, witness_http.py) persists the new state before it releases a
cosignature, so a restarted witness never cosigns a fork of what it has already vouched for.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.checkpoint import EMPTY_ROOT, Checkpoint, NoteError, parse_body, parse_note, verify_checkpoint
from gateway.audit.cosignature import add_cosignatures, cosign
from gateway.audit.rfc9162 import verify_consistency
from gateway.errors import GatewayError

MAX_REQUEST = 64 * 1024  # a checkpoint note and at most 63 proof hashes fit with room to spare
MAX_PROOF = 63


@dataclass(frozen=True)
class AddCheckpoint:
    """The body of POST /add-checkpoint: the size the submitter believes the witness has, a proof, a note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: bytes

    def encode(self) -> bytes:
        lines = [f"old {self.old_size}", *(base64.b64encode(h).decode("ascii") for h in self.proof)]
        return ("\n".join(lines) + "\n\n").encode("ascii") + self.note


@dataclass(frozen=True)
class Head:
    """What the witness remembers of one log: the latest checkpoint it cosigned, as a note carrying both the
    log's signature and the witness's cosignature."""

    size: int
    root: bytes
    note: bytes


@dataclass(frozen=True)
class Answer:
    """What to send back: an HTTP status, a content type, a body; and the new head to persist (200 only)."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    head: Head | None = None
    origin: str = ""


class BadRequest(GatewayError, ValueError):
    pass


def parse_request(body: bytes) -> AddCheckpoint:
    """Strict parse of 'old N\\n' + base64 proof lines + '\\n' + signed note; raises BadRequest."""
    if len(body) > MAX_REQUEST:
        raise BadRequest("request too large")
    head, sep, note = body.partition(b"\n\n")
    if not sep:
        raise BadRequest("no blank line after the consistency proof")
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError as exc:
        raise BadRequest("proof lines are not ASCII") from exc
    first = lines[0]
    if not first.startswith("old ") or not first[4:].isdigit() or (first[4:] != "0" and first[4] == "0"):
        raise BadRequest("first line must be 'old <size>'")
    if len(lines) - 1 > MAX_PROOF:
        raise BadRequest("consistency proof too long")
    proof = []
    for line in lines[1:]:
        try:
            digest = base64.b64decode(line, validate=True)
        except binascii.Error as exc:
            raise BadRequest("proof hash is not base64") from exc
        if len(digest) != 32 or base64.b64encode(digest).decode("ascii") != line:
            raise BadRequest("proof hash is not 32 bytes of canonical base64")
        proof.append(digest)
    return AddCheckpoint(int(first[4:]), tuple(proof), note)


def decide(request: bytes, logs: Mapping[str, str], heads: Mapping[str, Head], name: str,
           key: Ed25519PrivateKey, now: Callable[[], int]) -> Answer:
    """Answer one add-checkpoint request. `logs` maps origin → the log's verifier key; `heads` the state."""
    try:
        req = parse_request(request)
        text, _ = parse_note(req.note)
        origin = parse_body(text).origin
    except (BadRequest, NoteError) as exc:
        return Answer(400, f"malformed request: {exc}\n".encode())
    if origin not in logs:
        return Answer(404, b"unknown log\n")
    try:
        cp = verify_checkpoint(req.note, logs[origin], origin=origin)
    except NoteError as exc:
        return Answer(403, f"the log's signature does not verify: {exc}\n".encode())
    if req.old_size > cp.size:
        return Answer(400, b"old size is larger than the checkpoint size\n")
    last = heads.get(origin)
    last_size, last_root = (last.size, last.root) if last else (0, EMPTY_ROOT)
    if req.old_size != last_size:
        return Answer(409, f"{last_size}\n".encode(), content_type="text/x.tlog.size")
    if not _extends(last_size, last_root, cp, req.proof):
        return Answer(422, b"the consistency proof does not show this checkpoint extends the last one cosigned\n")
    line = cosign(cp, name, key, now())
    return Answer(200, line.encode("utf-8"), head=Head(cp.size, cp.root, add_cosignatures(req.note, line)),
                  origin=origin)


def _extends(old_size: int, old_root: bytes, cp: Checkpoint, proof: tuple[bytes, ...]) -> bool:
    if old_size == cp.size:
        return not proof and old_root == cp.root
    if old_size == 0:
        return not proof
    try:
        return verify_consistency(old_size, cp.size, old_root, cp.root, list(proof)) is True
    except Exception:  # a proof that cannot even be checked proves nothing
        return False
