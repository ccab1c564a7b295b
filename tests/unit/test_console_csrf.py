"""CSRF tokens: bound to the certificate serial and to the server run's secret."""
from __future__ import annotations

from gateway.console.csrf import CsrfTokens


def test_a_token_is_valid_for_its_serial_only() -> None:
    tokens = CsrfTokens(b"k" * 32)
    t = tokens.token("0a1b")
    assert tokens.valid("0a1b", t)
    assert not tokens.valid("0a1c", t)
    assert not tokens.valid("0a1b", "")
    assert not tokens.valid("0a1b", t[:-1] + ("0" if t[-1] != "0" else "1"))


def test_another_server_run_refuses_the_token() -> None:
    t = CsrfTokens().token("0a1b")
    assert CsrfTokens().valid("0a1b", t) is False
    assert CsrfTokens(b"s" * 32).token("x") == CsrfTokens(b"s" * 32).token("x")  # deterministic under one secret
