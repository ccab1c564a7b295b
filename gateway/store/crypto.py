"""Encryption of personal data at rest (AES-256-GCM) and keyed blind indexes (HMAC-SHA256).

Identity numbers and names never reach the database in plaintext: rows hold ciphertext, and lookups
go through an HMAC of the canonical identity number that only a holder of the index key can compute.
"""
from __future__ import annotations

import hmac
import os
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

    def blind(self, canonical: str, domain: str = "id") -> bytes:
        """Keyed, deterministic index of a canonical value (an identity number by default).

        Identity numbers repeat across consecutive rows (a person's months of contributions), so their
        indexes are kept in a small bounded cache; other domains are computed each time.
        """
        if domain == "id":
            hit = self._id_cache.get(canonical)
            if hit is None:
                if len(self._id_cache) >= 4096:
                    self._id_cache.clear()
                hit = self._id_cache[canonical] = hmac.digest(self._index_key, b"id\x00" + canonical.encode(),
                                                              "sha256")
            return hit
        return hmac.digest(self._index_key, domain.encode() + b"\x00" + canonical.encode(), "sha256")
