"""Encryption of personal data at rest (AES-256-GCM) and keyed blind indexes (HMAC-SHA256).

Identity numbers and names never reach the database in plaintext: rows hold ciphertext, and lookups
go through an HMAC of the canonical identity number that only a holder of the index key can compute.
"""
from __future__ import annotations

import hmac
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.errors import GatewayError
from gateway.files import write_new_private

ENC_KEY_FILE = "pii-enc.key"
INDEX_KEY_FILE = "pii-index.key"
_NONCE = 12


class KeyFileError(GatewayError):
    """A key file is missing, unreadable, of the wrong size, or readable by others."""


def write_key(path: Path, size: int = 32) -> bool:
    """Create a random key file with mode 0600; never overwrite one that exists. True if created."""
    return write_new_private(path, os.urandom(size))


def read_key(path: Path, size: int = 32) -> bytes:
    try:
        st = path.stat()
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from exc
    if st.st_mode & 0o077:
        raise KeyFileError(f"key file {path} is readable by others (mode {st.st_mode & 0o777:o}); chmod 600 it")
    if len(data) != size:
        raise KeyFileError(f"key file {path} has {len(data)} bytes, expected {size}")
    return data


class FieldCipher:
    """Encrypts text fields with AES-GCM (associated data binds a value to its column) and blinds ids."""

    def __init__(self, enc_key: bytes, index_key: bytes) -> None:
        self._aead = AESGCM(enc_key)
        self._index_key = index_key
        self._id_cache: dict[str, bytes] = {}
        self._hmac = _Hmac(index_key)

    @classmethod
    def from_keys_dir(cls, keys_dir: Path) -> FieldCipher:
        return cls(read_key(keys_dir / ENC_KEY_FILE), read_key(keys_dir / INDEX_KEY_FILE))

    @staticmethod
    def create_keys(keys_dir: Path) -> None:
        write_key(keys_dir / ENC_KEY_FILE)
        write_key(keys_dir / INDEX_KEY_FILE)

    def encrypt(self, text: str, column: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, text.encode("utf-8"), column.encode())

    def decrypt(self, blob: bytes, column: str) -> str:
        return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], column.encode()).decode("utf-8")

    def encrypt_many(self, texts: Sequence[str], column: str) -> list[bytes]:
        """encrypt() of each text (an import's batch): the same blobs, with all the nonces from one urandom call
        (a system call per row was a tenth of the encryption's time). The nonces are this call's own: nothing shared
        between threads, so none can be handed out twice."""
        nonces = os.urandom(_NONCE * len(texts))
        aad = column.encode()
        encrypt = self._aead.encrypt
        out = []
        for i, text in enumerate(texts):
            nonce = nonces[i * _NONCE:(i + 1) * _NONCE]
            out.append(nonce + encrypt(nonce, text.encode("utf-8"), aad))
        return out

    def blind(self, canonical: str, domain: str = "id") -> bytes:
        """Keyed, deterministic index of a canonical value (an identity number by default): HMAC-SHA256 of
        `domain NUL value` under the index key.

        Identity numbers repeat across consecutive rows (a person's months of contributions), so their
        indexes are kept in a small bounded cache; other domains are computed each time.
        """
        if domain == "id":
            hit = self._id_cache.get(canonical)
            if hit is None:
                if len(self._id_cache) >= 4096:
                    self._id_cache.clear()
                hit = self._id_cache[canonical] = self._hmac.digest("id", canonical.encode())
            return hit
        return self._hmac.digest(domain, canonical.encode())


class _Hmac:
    """HMAC-SHA256 under one key of `domain NUL message`, from keyed states made once per domain and copied per call.

    hmac.digest() hashes the padded key into fresh inner and outer states on every call, which for the short values
    blinded here doubled the work; the standard library's HMAC object keeps those states, and copying it after the
    domain's prefix costs half as much (tests/unit/test_crypto.py checks the digests against hmac.digest)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._domains: dict[str, hmac.HMAC] = {}

    def digest(self, domain: str, message: bytes) -> bytes:
        prefixed = self._domains.get(domain)
        if prefixed is None:
            prefixed = hmac.new(self._key, domain.encode() + b"\x00", "sha256")
            if len(self._domains) < 64:  # a handful of fixed domains in practice; bounded all the same
                self._domains[domain] = prefixed
        keyed = prefixed.copy()
        keyed.update(message)
        return keyed.digest()
