"""A witness's own data directory: its Ed25519 key (0600), the logs it witnesses, and its state.

WDIR/witness.key   the witness's private key (never leaves this directory)
WDIR/witness.vkey  its verifier key, to hand to the gateways it witnesses (`permitgw witness add`)
WDIR/logs.txt      the verifier keys of the logs it accepts checkpoints from, one a line
WDIR/state.json    per log origin, the latest checkpoint it cosigned (written atomically, fsync'd)
"""
from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.checkpoint import NoteError, is_valid_key_name, parse_verifier_key
from gateway.audit.cosignature import cosigner_verifier_key, parse_cosigner_key
from gateway.audit.witness import Answer, Head, decide
from gateway.errors import GatewayError
from gateway.files import atomic_write, write_new_private


class WitnessError(GatewayError):
    """The witness directory is missing, incomplete or holds something invalid."""


@dataclass
class WitnessDir:
    root: Path

    @property
    def key_file(self) -> Path:
        return self.root / "witness.key"

    @property
    def vkey_file(self) -> Path:
        return self.root / "witness.vkey"

    @property
    def logs_file(self) -> Path:
        return self.root / "logs.txt"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def require(self) -> WitnessDir:
        if not self.key_file.is_file() or not self.vkey_file.is_file():
            raise WitnessError(f"{self.root} is not a witness directory: run `permitgw witness init --data "
                               f"{self.root} --name NAME`")
        return self

    def verifier_key(self) -> str:
        return self.vkey_file.read_text("utf-8").strip()

    def name(self) -> str:
        return parse_cosigner_key(self.verifier_key())[0]

    def key(self) -> Ed25519PrivateKey:
        key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise WitnessError(f"{self.key_file} is not an Ed25519 key")
        return key

    def logs(self) -> dict[str, str]:
        """origin → the log's verifier key (the key name is the origin)."""
        logs: dict[str, str] = {}
        if self.logs_file.is_file():
            for line in self.logs_file.read_text("utf-8").splitlines():
                if line.strip() and not line.startswith("#"):
                    logs[parse_verifier_key(line.strip())[0]] = line.strip()
        return logs

    def heads(self) -> dict[str, Head]:
        if not self.state_file.is_file():
            return {}
        try:
            raw = json.loads(self.state_file.read_text("utf-8"))
            return {origin: Head(int(h["size"]), base64.b64decode(h["root"]), h["note"].encode("utf-8"))
                    for origin, h in raw.items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise WitnessError(f"{self.state_file} is unreadable ({exc}); refusing to cosign without my state") from exc

    def save_heads(self, heads: dict[str, Head]) -> None:
        data = {origin: {"size": h.size, "root": base64.b64encode(h.root).decode("ascii"),
                         "note": h.note.decode("utf-8")} for origin, h in sorted(heads.items())}
        atomic_write(self.state_file, json.dumps(data, indent=1).encode("utf-8"), mode=0o600, overwrite=True)


def init(root: Path, name: str, logs: list[str]) -> list[str]:
    """Create the witness's key (never overwriting one) and add the given logs; return what was created."""
    if not is_valid_key_name(name):
        raise WitnessError(f"invalid witness name {name!r}: no spaces or '+' (e.g. audit.ningbo.gov.cn/witness)")
    for key in logs:
        try:
            parse_verifier_key(key)
        except NoteError as exc:
            raise WitnessError(f"--log {key!r}: {exc}") from exc
    w = WitnessDir(root)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    created: list[str] = []
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    if write_new_private(w.key_file, pem):
        created.append("witness key")
        atomic_write(w.vkey_file, (cosigner_verifier_key(name, w.key().public_key()) + "\n").encode(),
                     mode=0o644, overwrite=True)
    elif w.name() != name:
        raise WitnessError(f"{root} already holds witness {w.name()!r}; its name cannot change")
    known = set(w.logs().values())
    new = [k for k in logs if k not in known]
    if new:
        lines = [*(w.logs_file.read_text("utf-8").splitlines() if w.logs_file.is_file() else []), *new]
        atomic_write(w.logs_file, ("\n".join(lines) + "\n").encode("utf-8"), mode=0o644, overwrite=True)
        created.extend(f"log {parse_verifier_key(k)[0]}" for k in new)
    return created


@dataclass
class Witness:
    """A running witness: one request at a time decides against, and then persists, its state."""

    dir: WitnessDir
    now: Callable[[], int]
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._name, self._key = self.dir.name(), self.dir.key()
        self._heads = self.dir.heads()

    def add_checkpoint(self, request: bytes) -> Answer:
        with self._lock:
            answer = decide(request, self.dir.logs(), self._heads, self._name, self._key, self.now)
            if answer.head is not None:
                heads = {**self._heads, answer.origin: answer.head}
                self.dir.save_heads(heads)  # durable before the cosignature leaves
                self._heads = heads
            return answer

    def latest(self, origin: str) -> Head | None:
        with self._lock:
            return self._heads.get(origin)
