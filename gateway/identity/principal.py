"""Principal: who a caller is (role, organisation, district), and its encoding in a certificate.

The gateway authorises on this value only; it is read from ONE URI subjectAltName of the client certificate.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote, unquote

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from gateway.domain.districts import DISTRICTS, LEGACY
from gateway.errors import GatewayError

ROLES: tuple[str, ...] = ("school", "health", "employment", "housing", "police", "auditor", "statistics")
MUNICIPAL = "330200"  # a city-level (municipal) bureau, not bound to one district
URI_SCHEME = "urn:permitgw:principal:"
URI_PREFIX = URI_SCHEME + "v1?"
URI_KEYS: tuple[str, ...] = ("role", "org", "district", "name")
NAME_MAX = 64  # X.520 ub-common-name: the name is also the certificate's CN

_ORG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_SERIAL_RE = re.compile(r"0|[1-9a-f][0-9a-f]{0,39}")
_E = TypeVar("_E", bound=x509.ExtensionType)


class InvalidPrincipal(GatewayError, ValueError):
    """A principal (or the certificate that should carry one) is not acceptable."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `serial` is the certificate serial in lower-case hex, "" before issue."""

    role: str
    org: str
    name: str
    district: str
    serial: str = ""

    def __post_init__(self) -> None:
        for field in ("role", "org", "name", "district", "serial"):
            if not isinstance(getattr(self, field), str):
                raise InvalidPrincipal(f"principal {field} must be text")
        object.__setattr__(self, "name", self.name.strip())
        object.__setattr__(self, "district", _normalise_district(self.district))
        _check_role(self.role)
        _check_org(self.org)
        _check_name(self.name)
        _check_serial(self.serial)

    @property
    def id(self) -> str:
        """Stable identifier used by policy and audit: role/district/org."""
        return f"{self.role}/{self.district}/{self.org}"

    @property
    def is_municipal(self) -> bool:
        return self.district == MUNICIPAL

    @property
    def district_name(self) -> str:
        return "宁波市" if self.is_municipal else DISTRICTS[self.district]

    def with_serial(self, serial: str) -> Principal:
        return dataclasses.replace(self, serial=serial)


def _normalise_district(district: str) -> str:
    d = district.strip()
    d = LEGACY.get(d, d)
    if d != MUNICIPAL and d not in DISTRICTS:
        raise InvalidPrincipal(
            f"district {district!r} is not a Ningbo district code (one of {', '.join(DISTRICTS)}) "
            f"or {MUNICIPAL} for a municipal bureau"
        )
    return d


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidPrincipal(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")


def _check_org(org: str) -> None:
    if not _ORG_RE.fullmatch(org):
        raise InvalidPrincipal(
            f"organisation code {org!r} must be 1-64 ASCII letters, digits or '-', "
            "starting with a letter or digit"
        )


def _check_name(name: str) -> None:
    if not name:
        raise InvalidPrincipal("principal name must not be empty")
    if len(name) > NAME_MAX:
        raise InvalidPrincipal(f"principal name is {len(name)} characters; at most {NAME_MAX} allowed")
    if not name.isprintable():
        raise InvalidPrincipal("principal name contains control or non-printable characters")


def _check_serial(serial: str) -> None:
    if serial and not _SERIAL_RE.fullmatch(serial):
        raise InvalidPrincipal(f"serial {serial!r} must be lower-case hex without leading zeros")


def principal_to_uri(principal: Principal) -> str:
    """urn:permitgw:principal:v1?role=..&org=..&district=..&name=.. (values percent-encoded, UTF-8)."""
    values = {"role": principal.role, "org": principal.org,
              "district": principal.district, "name": principal.name}
    return URI_PREFIX + "&".join(f"{k}={quote(values[k], safe='')}" for k in URI_KEYS)


def principal_from_uri(uri: str, *, serial: str = "") -> Principal:
    """Parse the URI written by principal_to_uri; any deviation raises InvalidPrincipal."""
    if not uri.startswith(URI_PREFIX):
        raise InvalidPrincipal(f"principal URI must start with {URI_PREFIX!r}")
    fields: dict[str, str] = {}
    for part in uri[len(URI_PREFIX):].split("&"):
        key, sep, raw = part.partition("=")
        if not sep or key not in URI_KEYS:
            raise InvalidPrincipal(f"principal URI has an unexpected component {key!r}")
        if key in fields:
            raise InvalidPrincipal(f"principal URI repeats {key!r}")
        try:
            fields[key] = unquote(raw, encoding="utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise InvalidPrincipal(f"principal URI {key} is not valid percent-encoded UTF-8") from exc
    missing = [k for k in URI_KEYS if k not in fields]
    if missing:
        raise InvalidPrincipal(f"principal URI lacks {', '.join(missing)}")
    return Principal(role=fields["role"], org=fields["org"], name=fields["name"],
                     district=fields["district"], serial=serial)


def serial_hex(cert: x509.Certificate) -> str:
    """The one serial format used everywhere (ledger, revocation list, audit)."""
    return format(cert.serial_number, "x")


def principal_from_certificate(cert: x509.Certificate) -> Principal:
    """Read the principal of a client certificate. Does NOT verify the chain: TLS has done that."""
    eku = _extension(cert, x509.ExtendedKeyUsage, "extendedKeyUsage")
    if ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
        raise InvalidPrincipal("certificate is not for client authentication (no clientAuth EKU)")
    san = _extension(cert, x509.SubjectAlternativeName, "subjectAltName")
    uris = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier) if u.startswith(URI_SCHEME)]
    if len(uris) != 1:
        raise InvalidPrincipal(f"certificate must carry exactly one {URI_SCHEME} URI, found {len(uris)}")
    return principal_from_uri(uris[0], serial=serial_hex(cert))


def _extension(cert: x509.Certificate, kind: type[_E], label: str) -> _E:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound as exc:
        raise InvalidPrincipal(f"certificate has no {label} extension") from exc
    except ValueError as exc:  # cryptography refuses malformed extensions lazily, here
        raise InvalidPrincipal(f"certificate extensions are malformed: {exc}") from exc


@functools.lru_cache(maxsize=4096)
def principal_from_pem(pem: bytes) -> Principal:
    """principal_from_certificate for a PEM certificate (as gRPC's auth context gives it); cached."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise InvalidPrincipal("not a PEM certificate") from exc
    return principal_from_certificate(cert)
