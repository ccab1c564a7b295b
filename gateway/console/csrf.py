"""CSRF tokens for the console's forms: an HMAC of the officer's certificate serial under a per-server secret.

Identity is the client certificate, so no cookie is needed: a form posted from another site carries the officer's
certificate (the browser presents it) but not a token only our pages know. The secret is random per server start,
so a token from a page served before a restart is refused (the officer reloads the page).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets


class CsrfTokens:
    """Make and check the token bound to one certificate serial."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(32)

    def token(self, serial: str) -> str:
        return hmac.new(self._secret, b"permitgw-console-csrf\x00" + serial.encode("ascii"), hashlib.sha256).hexdigest()

    def valid(self, serial: str, token: str) -> bool:
        return bool(token) and hmac.compare_digest(self.token(serial), token)
