"""The gateway CA: creates the CA and server keys, issues client certificates (PEM, and PKCS#12 for browsers),
keeps the issue ledger.

Keys are ECDSA P-256 with SHA-256 (gRPC/BoringSSL friendly); keys are written 0600 and never overwritten.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import ipaddress
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.errors import GatewayError
from gateway.files import atomic_write
from gateway.identity.pkcs12 import P12Output, friendly_name, refuse_existing, write_p12
from gateway.identity.principal import Principal, principal_to_uri, serial_hex

CERTS_DIR = "certs"  # DATA/certs: issue ledger and revocation list
ISSUED_LEDGER = "issued.jsonl"
CA_KEY, CA_CRT = "ca.key", "ca.crt"
SERVER_KEY, SERVER_CRT = "server.key", "server.crt"
CA_NAME = x509.Name([
    x509.NameAttribute(NameOID.COMMON_NAME, "permit-gateway CA"),
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ningbo Public Security Bureau"),
])
BACKDATE = _dt.timedelta(minutes=5)  # tolerate small clock skew between gateway and bureaus

PrivateKey = ec.EllipticCurvePrivateKey


class CaError(GatewayError, ValueError):
    """The CA cannot issue: its files are damaged or do not match, it has expired, or a request is invalid."""


# ---------------------------------------------------------------- files

def _mkdir_private(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


# ---------------------------------------------------------------- certificates

def _new_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _now() -> _dt.datetime:
    """The system clock, not the gateway's (gateway.domain.clock): TLS peers judge a certificate's validity
    against their own real clocks."""
    return _dt.datetime.now(_dt.UTC)


def _validity(days: int, ca_cert: x509.Certificate | None = None) -> tuple[_dt.datetime, _dt.datetime]:
    """now-5min .. now+days, never beyond the CA's own end of validity."""
    if days < 1:
        raise CaError(f"validity must be at least one day, not {days}")
    now = _now()
    not_after = now + _dt.timedelta(days=days)
    if ca_cert is not None:
        not_after = min(not_after, ca_cert.not_valid_after_utc)
        if not_after <= now:
            raise CaError("the gateway CA certificate has expired; a new CA is needed")
    return now - BACKDATE, not_after


def _builder(subject: x509.Name, issuer: x509.Name, key: PrivateKey, days: int,
             ca_cert: x509.Certificate | None = None) -> x509.CertificateBuilder:
    not_before, not_after = _validity(days, ca_cert)
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))


def _key_usage(*, digital_signature: bool = False, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False,
                         decipher_only=False)


def _leaf(builder: x509.CertificateBuilder, ca_cert: x509.Certificate, ca_key: PrivateKey,
          usage: x509.ObjectIdentifier, san: Iterable[x509.GeneralName]) -> x509.Certificate:
    """Finish a leaf certificate: not a CA, digitalSignature, one EKU, SAN, AKI; sign with the CA."""
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (builder
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectAlternativeName(list(san)), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))


def _make_ca(days: int) -> tuple[x509.Certificate, PrivateKey]:
    key = _new_key()
    cert = (_builder(CA_NAME, CA_NAME, key, days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def _host_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _make_server(ca_cert: x509.Certificate, ca_key: PrivateKey, days: int,
                 hosts: tuple[str, ...]) -> tuple[x509.Certificate, PrivateKey]:
    if not hosts:
        raise CaError("the server certificate needs at least one host name or address")
    key = _new_key()
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ningbo Public Security Bureau"),
    ])
    builder = _builder(subject, ca_cert.subject, key, days, ca_cert)
    cert = _leaf(builder, ca_cert, ca_key, ExtendedKeyUsageOID.SERVER_AUTH, map(_host_name, hosts))
    return cert, key


# ---------------------------------------------------------------- public API

def init_ca(keys_dir: Path, *, ca_days: int = 3650, server_days: int = 825,
            server_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")) -> bool:
    """Create ca.key/ca.crt/server.key/server.crt in keys_dir (0700). Returns False, touching nothing,
    if ca.key exists. ca.key is written last, so it marks a complete set."""
    keys_dir = Path(keys_dir)
    if (keys_dir / CA_KEY).exists():
        return False
    leftovers = [n for n in (CA_CRT, SERVER_KEY, SERVER_CRT) if (keys_dir / n).exists()]
    if leftovers:
        raise FileExistsError(f"{keys_dir} holds {', '.join(leftovers)} but no {CA_KEY} (an interrupted "
                              "init?); refusing to overwrite keys: move these files away and run init again")
    _mkdir_private(keys_dir)
    os.chmod(keys_dir, 0o700)
    ca_cert, ca_key = _make_ca(ca_days)
    server_cert, server_key = _make_server(ca_cert, ca_key, server_days, tuple(server_hosts))
    atomic_write(keys_dir / SERVER_KEY, _key_pem(server_key), mode=0o600, overwrite=False)
    atomic_write(keys_dir / SERVER_CRT, _cert_pem(server_cert), mode=0o644, overwrite=True)
    atomic_write(keys_dir / CA_CRT, _cert_pem(ca_cert), mode=0o644, overwrite=True)
    atomic_write(keys_dir / CA_KEY, _key_pem(ca_key), mode=0o600, overwrite=False)
    return True


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_DNS_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def server_host(text: str) -> str:
    """A host name or address a server certificate may name ('GW.Example.gov.cn' -> 'gw.example.gov.cn');
    CaError for anything else (a URL, a port, a wildcard, spaces...)."""
    host = text.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not 0 < len(host) <= 253 or not all(_DNS_LABEL.fullmatch(label) for label in host.split(".")):
        raise CaError(f"not a host name or IP address for a server certificate: {text!r}")
    return host


def reissue_server(keys_dir: Path, hosts: tuple[str, ...], *, days: int = 825) -> tuple[str, ...]:
    """Replace server.key/server.crt with a new key and a certificate from the gateway CA naming `hosts` (e.g. a
    load balancer's name) and the loopback names; the names it carries. A server presents it from its next start.
    The key is written before the certificate: a server started in between refuses to start (key and certificate
    disagree) and starts once both are there, never with a certificate of another key."""
    names = tuple(dict.fromkeys([*(server_host(h) for h in hosts), *LOOPBACK_HOSTS]))
    ca_cert, ca_key = load_ca(keys_dir)
    cert, key = _make_server(ca_cert, ca_key, days, names)
    atomic_write(Path(keys_dir) / SERVER_KEY, _key_pem(key), mode=0o600, overwrite=True)
    atomic_write(Path(keys_dir) / SERVER_CRT, _cert_pem(cert), mode=0o644, overwrite=True)
    return names


def load_ca(keys_dir: Path) -> tuple[x509.Certificate, PrivateKey]:
    """The CA certificate and its private key; checks that they belong together."""
    keys_dir = Path(keys_dir)
    try:
        cert = x509.load_pem_x509_certificate((keys_dir / CA_CRT).read_bytes())
        key = serialization.load_pem_private_key((keys_dir / CA_KEY).read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"no gateway CA in {keys_dir} ({exc.filename}); run `permitgw init`") from exc
    except ValueError as exc:  # cryptography's word for a file that is not PEM or not what it should be
        raise CaError(f"{keys_dir / CA_CRT} or {keys_dir / CA_KEY} is damaged (not a PEM certificate and key): "
                      "restore it from a backup") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CaError(f"{keys_dir / CA_KEY} is not an EC private key")
    if key.public_key() != cert.public_key():
        raise CaError(f"{keys_dir / CA_KEY} does not belong to {keys_dir / CA_CRT}")
    return cert, key


def server_credentials_material(keys_dir: Path) -> tuple[bytes, bytes, bytes]:
    """(server key PEM, server certificate chain PEM, CA certificate PEM) for grpc.ssl_server_credentials."""
    keys_dir = Path(keys_dir)
    return ((keys_dir / SERVER_KEY).read_bytes(), (keys_dir / SERVER_CRT).read_bytes(),
            (keys_dir / CA_CRT).read_bytes())


def _suffixed(prefix: Path, suffix: str) -> Path:
    return prefix.with_name(prefix.name + suffix)  # not with_suffix: "school.no1" keeps its dot


def _client_cert(ca_cert: x509.Certificate, ca_key: PrivateKey, principal: Principal,
                 key: PrivateKey, days: int) -> x509.Certificate:
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, principal.name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, principal.org),
    ])
    builder = _builder(subject, ca_cert.subject, key, days, ca_cert)
    san = [x509.UniformResourceIdentifier(principal_to_uri(principal))]
    return _leaf(builder, ca_cert, ca_key, ExtendedKeyUsageOID.CLIENT_AUTH, san)


def issue_client(keys_dir: Path, principal: Principal, out_prefix: Path, *, days: int = 365,
                 p12: P12Output | None = None) -> Principal:
    """Issue a client certificate: writes PREFIX.crt, PREFIX.key (0600), PREFIX.ca.crt — and, with `p12`, a
    password-protected PKCS#12 file (0600) of the three for a browser — and records the issue in
    DATA/certs/issued.jsonl. Refuses to overwrite PREFIX.key or the PKCS#12 file. Returns principal with serial."""
    keys_dir, out_prefix = Path(keys_dir), Path(out_prefix)
    key_path = _suffixed(out_prefix, ".key")
    if key_path.exists():
        raise FileExistsError(f"{key_path} already exists; refusing to overwrite a private key "
                              "(choose another --out prefix)")
    pem_paths = [key_path, _suffixed(out_prefix, ".crt"), _suffixed(out_prefix, ".ca.crt")]
    if p12 is not None:
        if Path(p12.path).absolute() in {p.absolute() for p in pem_paths}:
            raise CaError(f"the PKCS#12 file {p12.path} would be one of the PEM files of --out {out_prefix}")
        refuse_existing(p12.path)
    ca_cert, ca_key = load_ca(keys_dir)
    key = _new_key()
    cert = _client_cert(ca_cert, ca_key, principal, key, days)
    issued = principal.with_serial(serial_hex(cert))
    _record_issue(keys_dir.parent, issued, cert)  # first: a certificate out there is always revocable
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(key_path, _key_pem(key), mode=0o600, overwrite=False)
    atomic_write(pem_paths[1], _cert_pem(cert), mode=0o644, overwrite=True)
    atomic_write(pem_paths[2], _cert_pem(ca_cert), mode=0o644, overwrite=True)
    if p12 is not None:
        Path(p12.path).parent.mkdir(parents=True, exist_ok=True)
        write_p12(p12.path, key, cert, ca_cert, p12.password,
                  friendly_name(principal.name, principal.org, principal.role))
    return issued


# ---------------------------------------------------------------- issue ledger

def issued_ledger_path(data_dir: Path) -> Path:
    return Path(data_dir) / CERTS_DIR / ISSUED_LEDGER


def _record_issue(data_dir: Path, principal: Principal, cert: x509.Certificate) -> None:
    """Append one JSON line with a single O_APPEND write (atomic for a line this short)."""
    record = {
        "serial": principal.serial, "role": principal.role, "org": principal.org,
        "name": principal.name, "district": principal.district,
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "sha256": hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
    }
    path = issued_ledger_path(data_dir)
    _mkdir_private(path.parent)
    line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def issued_records(data_dir: Path) -> Iterator[dict[str, str]]:
    """The records of DATA/certs/issued.jsonl, oldest first."""
    return read_ledger(issued_ledger_path(data_dir))


def read_ledger(ledger: Path) -> Iterator[dict[str, str]]:
    """The records of an issue ledger file; a torn or foreign line is skipped."""
    try:
        lines = Path(ledger).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("serial"), str):
            yield record
