"""A client certificate as a password-protected PKCS#12 file, the form a browser imports.

Security officers sign in to the web console with a gateway client certificate held in their browser, and
browsers import a certificate and its key only as PKCS#12. The file is encrypted with PBES2 (PBKDF2-HMAC-SHA256,
AES-256-CBC) and MACed with HMAC-SHA256 — what current NSS (Chromium, Firefox) and OpenSSL read, unlike the
legacy RC2/3DES default. The password comes from the environment or the terminal (`password_from`), is never
printed, logged or written, and must be long: the file travels to a browser, so it is all that guards the key.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from gateway.errors import GatewayError
from gateway.files import atomic_write

PASSWORD_ENV = "PERMITGW_P12_PASSWORD"
MIN_PASSWORD_CHARS = 12
KDF_ROUNDS = 600_000  # PBKDF2-HMAC-SHA256 iterations (OWASP's figure); ~0.15 s per derivation
CA_FRIENDLY_NAME = "permit-gateway CA"


class P12Error(GatewayError, ValueError):
    """No acceptable password for a PKCS#12 file: none given, too short, or the two entries differ."""


@dataclass(frozen=True)
class P12Output:
    """Where to write a PKCS#12 file and its password (kept out of repr, so no traceback or log shows it)."""

    path: Path
    password: bytes = field(repr=False)


def check_password(password: str) -> bytes:
    """The password as UTF-8 bytes, if it is long enough; the message never repeats it."""
    if not password:
        raise P12Error("the PKCS#12 password is empty")
    if len(password) < MIN_PASSWORD_CHARS:
        raise P12Error(f"the PKCS#12 password is too short: at least {MIN_PASSWORD_CHARS} characters")
    return password.encode("utf-8")


def password_from(environ: Mapping[str, str], *, interactive: bool, ask: Callable[[str], str]) -> bytes:
    """The PKCS#12 password: $PERMITGW_P12_PASSWORD if set, else asked twice with `ask` (getpass) when stdin
    is a terminal (`interactive`); neither is a P12Error. Checked by check_password."""
    if PASSWORD_ENV in environ:
        return check_password(environ[PASSWORD_ENV])
    if not interactive:
        raise P12Error(f"a PKCS#12 file needs a password: set {PASSWORD_ENV} or run on a terminal to be asked")
    password = check_password(_asked(ask, "PKCS#12 password: "))
    if _asked(ask, "PKCS#12 password again: ").encode("utf-8") != password:
        raise P12Error("the two PKCS#12 passwords differ; nothing written")
    return password


def _asked(ask: Callable[[str], str], prompt: str) -> str:
    try:
        return ask(prompt)
    except EOFError:  # Ctrl-D at the prompt
        raise P12Error("no PKCS#12 password given; nothing written") from None


def refuse_existing(path: Path) -> None:
    """FileExistsError if `path` exists: checked before anything is issued, so nothing is half done."""
    if Path(path).exists():
        raise FileExistsError(f"{path} already exists; refusing to overwrite it (choose another --p12 file)")


def friendly_name(name: str, org: str, role: str) -> str:
    """What the browser shows when the officer picks a certificate: who it is for and which gateway."""
    return f"{name} ({org}, {role}) — permit-gateway"


def p12_bytes(key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, ca_cert: x509.Certificate,
              password: bytes, name: str) -> bytes:
    """Key, certificate (with friendly name `name`) and the CA certificate, encrypted under `password`."""
    encryption = (serialization.PrivateFormat.PKCS12.encryption_builder()
                  .kdf_rounds(KDF_ROUNDS)
                  .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
                  .hmac_hash(hashes.SHA256())
                  .build(password))
    ca = pkcs12.PKCS12Certificate(ca_cert, CA_FRIENDLY_NAME.encode("utf-8"))
    return pkcs12.serialize_key_and_certificates(name.encode("utf-8"), key, cert, [ca], encryption)


def write_p12(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, ca_cert: x509.Certificate,
              password: bytes, name: str) -> None:
    """Write the PKCS#12 file 0600, atomically, never over an existing file (FileExistsError)."""
    atomic_write(Path(path), p12_bytes(key, cert, ca_cert, password, name), mode=0o600, overwrite=False)
