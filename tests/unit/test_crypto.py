"""Blind indexes and field encryption: the precomputed HMAC is HMAC-SHA256 itself, batch encryption is encrypt().

Stored indexes must not change with how they are computed (every lookup and every duplicate check depends on it),
so the fast path is checked against the standard library's hmac for any key length, domain and value.
"""
from __future__ import annotations

import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.store.crypto import FieldCipher, _Hmac


@settings(deadline=None)
@given(st.binary(max_size=200), st.text(min_size=1, max_size=20), st.binary(max_size=300))
def test_precomputed_hmac_is_hmac_sha256(key: bytes, domain: str, message: bytes) -> None:
    h = _Hmac(key)
    expected = hmac.digest(key, domain.encode() + b"\x00" + message, "sha256")
    assert h.digest(domain, message) == expected
    assert h.digest(domain, message) == expected  # the cached domain state is copied, never consumed


@settings(deadline=None)
@given(st.text(max_size=40), st.sampled_from(["id", "fact", "content", "permit"]))
def test_blind_is_the_keyed_digest_of_domain_and_value(value: str, domain: str) -> None:
    key = bytes(range(32))
    cipher = FieldCipher(bytes(32), key)
    assert cipher.blind(value, domain) == hmac.digest(key, domain.encode() + b"\x00" + value.encode(), "sha256")


def test_encrypt_many_decrypts_to_each_text_with_fresh_nonces() -> None:
    cipher = FieldCipher(bytes(range(32)), bytes(32))
    texts = ["a", "", "宁波", "a"]
    blobs = cipher.encrypt_many(texts, "facts.Contribution")
    assert [cipher.decrypt(b, "facts.Contribution") for b in blobs] == texts
    assert len({b[:12] for b in blobs}) == len(blobs)  # no nonce twice
    assert cipher.encrypt_many([], "facts.Contribution") == []
