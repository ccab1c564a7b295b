"""The PKCS#12 writer: where the password comes from, which passwords it refuses, and what the file holds.

Pure: the environment and the terminal are a dict and a scripted `ask`; keys and certificates are made in memory.
What a browser's NSS and the openssl command make of the file is tests/integration/test_cli_pkcs12.py.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from gateway.errors import GatewayError
from gateway.identity.pkcs12 import (
    CA_FRIENDLY_NAME,
    MIN_PASSWORD_CHARS,
    PASSWORD_ENV,
    P12Error,
    P12Output,
    check_password,
    friendly_name,
    p12_bytes,
    password_from,
)

GOOD = "correct horse battery staple"
SHORT = "s3cret-pw"  # 9 characters


def _oid_der(dotted: str) -> bytes:
    """The DER encoding (tag, length, value) of an object identifier, to find it in the file's bytes."""
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([40 * parts[0] + parts[1]])
    for n in parts[2:]:
        chunk = [n & 0x7F]
        n >>= 7
        while n:
            chunk.append(0x80 | (n & 0x7F))
            n >>= 7
        body.extend(reversed(chunk))
    return bytes([0x06, len(body)]) + bytes(body)


PBES2 = _oid_der("1.2.840.113549.1.5.13")
PBKDF2 = _oid_der("1.2.840.113549.1.5.12")
HMAC_SHA256 = _oid_der("1.2.840.113549.2.9")
AES_256_CBC = _oid_der("2.16.840.1.101.3.4.1.42")
SHA256 = _oid_der("2.16.840.1.101.3.4.2.1")
LEGACY = {  # the PKCS#12 PBE schemes browsers and OpenSSL 3 no longer want by default
    "pbeWithSHAAnd3-KeyTripleDES-CBC": _oid_der("1.2.840.113549.1.12.1.3"),
    "pbeWithSHAAnd40BitRC2-CBC": _oid_der("1.2.840.113549.1.12.1.6"),
    "sha1": _oid_der("1.3.14.3.2.26"),
}


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, issuer_key: ec.EllipticCurvePrivateKey,
          *, ca: bool) -> x509.Certificate:
    start = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + _dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))


@pytest.fixture(scope="module")
def material() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, x509.Certificate]:
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = _cert("test CA", ca_key, "test CA", ca_key, ca=True)
    return key, _cert("a school", key, "test CA", ca_key, ca=False), ca_cert


@pytest.fixture(scope="module")
def blob(material: tuple[ec.EllipticCurvePrivateKey, x509.Certificate, x509.Certificate]) -> bytes:
    key, cert, ca_cert = material
    return p12_bytes(key, cert, ca_cert, GOOD.encode(), friendly_name("甬江中学", "SCH-1", "school"))


def _never_asked(prompt: str) -> str:
    raise AssertionError(f"asked {prompt!r} although it should not ask")


def _answers(*replies: str) -> tuple[Callable[[str], str], list[str]]:
    prompts: list[str] = []
    queue = list(replies)

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return queue.pop(0)
    return ask, prompts


# ---------------------------------------------------------------- passwords


def test_a_password_long_enough_is_its_utf8_bytes() -> None:
    assert check_password(GOOD) == GOOD.encode()
    assert check_password("宁波市公安局安全员的密码") == "宁波市公安局安全员的密码".encode()  # characters, not bytes
    assert MIN_PASSWORD_CHARS == 12


@pytest.mark.parametrize("password", ["", "x", SHORT, "a" * (MIN_PASSWORD_CHARS - 1), "宁波市公安局安全员密码"])
def test_empty_or_short_passwords_are_refused_without_repeating_them(password: str) -> None:
    with pytest.raises(P12Error) as caught:
        check_password(password)
    message = str(caught.value)
    assert "PKCS#12 password" in message
    assert not password or password not in message


def test_the_error_is_a_gateway_error_and_a_value_error() -> None:
    assert issubclass(P12Error, GatewayError)
    assert issubclass(P12Error, ValueError)


def test_the_environment_wins_and_nobody_is_asked() -> None:
    assert password_from({PASSWORD_ENV: GOOD}, interactive=True, ask=_never_asked) == GOOD.encode()
    assert password_from({PASSWORD_ENV: GOOD}, interactive=False, ask=_never_asked) == GOOD.encode()


@pytest.mark.parametrize("interactive", [True, False])
def test_an_empty_or_short_environment_password_is_refused_not_replaced_by_asking(interactive: bool) -> None:
    for value in ("", SHORT):
        with pytest.raises(P12Error):
            password_from({PASSWORD_ENV: value}, interactive=interactive, ask=_never_asked)


def test_no_environment_and_no_terminal_says_how_to_give_one() -> None:
    with pytest.raises(P12Error) as caught:
        password_from({"PATH": "/usr/bin"}, interactive=False, ask=_never_asked)
    assert PASSWORD_ENV in str(caught.value)
    assert "\n" not in str(caught.value)


def test_on_a_terminal_it_asks_twice() -> None:
    ask, prompts = _answers(GOOD, GOOD)
    assert password_from({}, interactive=True, ask=ask) == GOOD.encode()
    assert len(prompts) == 2
    assert all("password" in p for p in prompts)


def test_two_different_entries_are_refused() -> None:
    ask, _ = _answers(GOOD, GOOD + "!")
    with pytest.raises(P12Error) as caught:
        password_from({}, interactive=True, ask=ask)
    assert "differ" in str(caught.value)
    assert GOOD not in str(caught.value)


def test_a_short_first_entry_is_refused_before_the_second_question() -> None:
    ask, prompts = _answers(SHORT, SHORT)
    with pytest.raises(P12Error):
        password_from({}, interactive=True, ask=ask)
    assert len(prompts) == 1


def test_end_of_input_at_the_prompt_is_a_clear_error() -> None:
    def eof(prompt: str) -> str:
        raise EOFError
    with pytest.raises(P12Error):
        password_from({}, interactive=True, ask=eof)


def test_the_password_stays_out_of_the_output_descriptions_repr() -> None:
    out = P12Output(Path("officer.p12"), GOOD.encode())
    assert GOOD not in repr(out)
    assert "officer.p12" in repr(out)


# ---------------------------------------------------------------- the file


def test_it_loads_back_with_the_password_and_holds_key_certificate_and_ca(
        blob: bytes, material: tuple[ec.EllipticCurvePrivateKey, x509.Certificate, x509.Certificate]) -> None:
    key, cert, ca_cert = material
    loaded = pkcs12.load_pkcs12(blob, GOOD.encode())
    assert loaded.key is not None and loaded.cert is not None
    assert loaded.key.public_key() == key.public_key()
    assert loaded.cert.certificate == cert
    assert [c.certificate for c in loaded.additional_certs] == [ca_cert]


def test_friendly_names_say_who_the_certificate_is_for_and_which_ca(blob: bytes) -> None:
    loaded = pkcs12.load_pkcs12(blob, GOOD.encode())
    assert loaded.cert is not None and loaded.cert.friendly_name is not None
    name = loaded.cert.friendly_name.decode("utf-8")
    assert "甬江中学" in name and "SCH-1" in name and "school" in name and "permit-gateway" in name
    assert [c.friendly_name for c in loaded.additional_certs] == [CA_FRIENDLY_NAME.encode()]


@pytest.mark.parametrize("wrong", [b"", b"correct horse battery stapl", GOOD.upper().encode()])
def test_a_wrong_password_does_not_open_it(blob: bytes, wrong: bytes) -> None:
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(blob, wrong)


def test_it_is_encrypted_with_pbes2_aes256_and_macced_with_sha256(blob: bytes) -> None:
    for oid in (PBES2, PBKDF2, HMAC_SHA256, AES_256_CBC, SHA256):
        assert oid in blob
    assert [name for name, oid in LEGACY.items() if oid in blob] == []


def test_the_key_is_not_in_the_file_in_the_clear(
        blob: bytes, material: tuple[ec.EllipticCurvePrivateKey, x509.Certificate, x509.Certificate]) -> None:
    key, _, _ = material
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    assert scalar not in blob
