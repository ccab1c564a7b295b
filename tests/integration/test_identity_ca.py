"""The gateway CA on disk: init never overwrites, client certificates carry the principal, revocation bites.

Real keys and files in a temporary data directory; the server relies on every property checked here.
"""
from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.identity.ca import (
    CaError,
    init_ca,
    issue_client,
    issued_ledger_path,
    issued_records,
    load_ca,
    reissue_server,
    server_credentials_material,
)
from gateway.identity.principal import (
    InvalidPrincipal,
    Principal,
    principal_from_certificate,
    principal_from_pem,
)
from gateway.identity.revocation import (
    InvalidSerial,
    RevocationList,
    UnknownSerial,
    known_serials,
    normalise_serial,
)

KEY_FILES = ("ca.key", "server.key")
ALL_FILES = ("ca.key", "ca.crt", "server.key", "server.crt")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("identity") / "data"
    assert init_ca(root / "keys") is True
    return root


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def issue(data: Path, tmp_path: Path, principal: Principal, stem: str = "client") -> tuple[Principal, Path]:
    prefix = tmp_path / stem
    return issue_client(data / "keys", principal, prefix), prefix


# ---------------------------------------------------------------- init_ca

def test_init_creates_private_keys_and_certificates(data: Path) -> None:
    keys = data / "keys"
    assert mode(keys) == 0o700
    for name in ALL_FILES:
        assert (keys / name).is_file()
    for name in KEY_FILES:
        assert mode(keys / name) == 0o600
        assert (keys / name).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS8, unencrypted
    assert not [p.name for p in keys.iterdir() if p.name.endswith(".tmp")]


def test_ca_certificate(data: Path) -> None:
    ca = load(data / "keys" / "ca.crt")
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "permit-gateway CA"
    org = ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert org == "Ningbo Public Security Bureau"
    assert ca.issuer == ca.subject
    ca.verify_directly_issued_by(ca)
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert isinstance(ca.public_key().curve, ec.SECP256R1)
    assert ca.signature_hash_algorithm is not None and ca.signature_hash_algorithm.name == "sha256"


def test_server_certificate(data: Path) -> None:
    ca, server = load(data / "keys" / "ca.crt"), load(data / "keys" / "server.crt")
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    aki = server.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_second_init_overwrites_nothing(data: Path) -> None:
    keys = data / "keys"
    before = {name: (keys / name).read_bytes() for name in ALL_FILES}
    assert init_ca(keys) is False
    assert {name: (keys / name).read_bytes() for name in ALL_FILES} == before


def test_init_refuses_a_half_written_directory(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "server.key").write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="server.key"):
        init_ca(keys)
    assert (keys / "server.key").read_bytes() == b"precious"
    assert not (keys / "ca.key").exists()


def test_init_with_other_hosts(tmp_path: Path) -> None:
    assert init_ca(tmp_path / "keys", server_hosts=("gw.nb.gov.cn", "10.0.0.7"), server_days=30)
    server = load(tmp_path / "keys" / "server.crt")
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["gw.nb.gov.cn"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    lifetime = server.not_valid_after_utc - server.not_valid_before_utc
    assert 30 * 86400 <= lifetime.total_seconds() <= 30 * 86400 + 600


def test_load_ca_and_server_material(data: Path) -> None:
    cert, key = load_ca(data / "keys")
    assert key.public_key() == cert.public_key()
    server_key, chain, ca_pem = server_credentials_material(data / "keys")
    assert server_key == (data / "keys" / "server.key").read_bytes()
    assert load(data / "keys" / "server.crt") == x509.load_pem_x509_certificate(chain)
    assert x509.load_pem_x509_certificate(ca_pem) == cert


def test_load_ca_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="permitgw init"):
        load_ca(tmp_path / "nothing")


# ---------------------------------------------------------------- issue_client

def test_issued_client_certificate(data: Path, tmp_path: Path) -> None:
    principal = Principal("school", "3302030001", "海曙区实验小学", "330203")
    issued, prefix = issue(data, tmp_path, principal)
    cert = load(Path(f"{prefix}.crt"))
    ca = load(data / "keys" / "ca.crt")
    cert.verify_directly_issued_by(ca)
    assert Path(f"{prefix}.ca.crt").read_bytes() == (data / "keys" / "ca.crt").read_bytes()
    assert mode(Path(f"{prefix}.key")) == 0o600
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "海曙区实验小学"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "3302030001"
    uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert len(list(uris)) == 1
    assert issued.serial == format(cert.serial_number, "x")
    assert issued == principal.with_serial(issued.serial)
    assert principal_from_certificate(cert) == issued
    assert principal_from_pem(Path(f"{prefix}.crt").read_bytes()) == issued
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 365 * 86400 + 290 <= lifetime.total_seconds() <= 365 * 86400 + 310  # now-5min .. now+365d


def test_client_key_matches_certificate(data: Path, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    _, prefix = issue(data, tmp_path, Principal("police", "PSB-330203", "海曙分局", "330203"))
    key = serialization.load_pem_private_key(Path(f"{prefix}.key").read_bytes(), password=None)
    assert key.public_key() == load(Path(f"{prefix}.crt")).public_key()


@pytest.mark.parametrize("name", ["宁波市鄞州区第二医院", "阿卜杜拉·艾力", "Ningbo No.1 Hospital & Co",
                                  "%41?x=y"])
def test_names_round_trip_through_certificates(data: Path, tmp_path: Path, name: str) -> None:
    issued, prefix = issue(data, tmp_path, Principal("health", "H-1", name, "330212"))
    assert principal_from_pem(Path(f"{prefix}.crt").read_bytes()) == issued
    assert issued.name == name


def test_legacy_district_is_issued_as_yinzhou(data: Path, tmp_path: Path) -> None:
    issued, prefix = issue(data, tmp_path, Principal("housing", "HB-1", "住建", "330204"))
    assert issued.district == "330212"
    assert principal_from_pem(Path(f"{prefix}.crt").read_bytes()).district == "330212"


def test_serials_are_random_and_distinct(data: Path, tmp_path: Path) -> None:
    p = Principal("statistics", "STAT", "统计局", "330200")
    serials = {issue(data, tmp_path, p, f"s{i}")[0].serial for i in range(5)}
    assert len(serials) == 5


def test_issue_refuses_to_overwrite_a_key(data: Path, tmp_path: Path) -> None:
    p = Principal("employment", "HRSS", "人社局", "330205")
    _, prefix = issue(data, tmp_path, p)
    key_before = Path(f"{prefix}.key").read_bytes()
    crt_before = Path(f"{prefix}.crt").read_bytes()
    with pytest.raises(FileExistsError, match="client.key"):
        issue(data, tmp_path, p)
    assert Path(f"{prefix}.key").read_bytes() == key_before
    assert Path(f"{prefix}.crt").read_bytes() == crt_before


def test_prefix_with_dots_keeps_its_name(data: Path, tmp_path: Path) -> None:
    issue_client(data / "keys", Principal("auditor", "AUD", "审计", "330200"), tmp_path / "audit.v2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.v2.ca.crt", "audit.v2.crt", "audit.v2.key"]


def test_issue_is_recorded_in_the_ledger(data: Path, tmp_path: Path) -> None:
    p = Principal("school", "SCH-9", "第九中学", "330281")
    issued, prefix = issue(data, tmp_path, p)
    assert issued_ledger_path(data) == data / "certs" / "issued.jsonl"
    records = [r for r in issued_records(data) if r["serial"] == issued.serial]
    assert len(records) == 1
    r = records[0]
    assert (r["role"], r["org"], r["name"], r["district"]) == ("school", "SCH-9", "第九中学", "330281")
    cert = load(Path(f"{prefix}.crt"))
    assert r["not_before"] == cert.not_valid_before_utc.isoformat()
    assert r["not_after"] == cert.not_valid_after_utc.isoformat()
    raw = (data / "certs" / "issued.jsonl").read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line)["serial"] for line in raw)
    assert issued.serial in known_serials(data)


def test_issue_without_ca(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        issue_client(tmp_path / "keys", Principal("school", "S", "n", "330203"), tmp_path / "c")
    assert not (tmp_path / "c.key").exists()


# ---------------------------------------------------------------- principal_from_certificate

def test_server_certificate_is_not_a_principal(data: Path) -> None:
    with pytest.raises(InvalidPrincipal, match="client"):
        principal_from_pem((data / "keys" / "server.crt").read_bytes())


def test_ca_certificate_is_not_a_principal(data: Path) -> None:
    with pytest.raises(InvalidPrincipal):
        principal_from_pem((data / "keys" / "ca.crt").read_bytes())


def test_garbage_is_not_a_principal() -> None:
    with pytest.raises(InvalidPrincipal):
        principal_from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")


def _forged(data: Path, uris: list[str]) -> x509.Certificate:
    """A CA-signed client certificate with arbitrary URI SANs (as a buggy or hostile issuer might make)."""
    import datetime as dt

    from cryptography.hazmat.primitives import hashes

    ca, ca_key = load_ca(data / "keys")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(u) for u in uris]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))


@pytest.mark.parametrize("uris", [
    [],
    ["https://example.org/"],
    ["urn:permitgw:principal:v1?role=root&org=O&district=330203&name=n"],
    ["urn:permitgw:principal:v1?role=school&org=O&district=330203"],
    ["urn:permitgw:principal:v1?role=school&org=O&district=330203&name=a",
     "urn:permitgw:principal:v1?role=police&org=O&district=330203&name=a"],
])
def test_missing_malformed_or_ambiguous_uri_refused(data: Path, uris: list[str]) -> None:
    with pytest.raises(InvalidPrincipal):
        principal_from_certificate(_forged(data, uris))


def test_other_uris_beside_the_principal_are_ignored(data: Path) -> None:
    uri = "urn:permitgw:principal:v1?role=police&org=O&district=330203&name=a"
    p = principal_from_certificate(_forged(data, ["https://example.org/", uri]))
    assert (p.role, p.org, p.district, p.name) == ("police", "O", "330203", "a")


# ---------------------------------------------------------------- revocation

def revoked_file(data: Path) -> Path:
    return data / "certs" / "revoked.txt"


@pytest.mark.parametrize(("text", "canonical"), [
    ("1a2b", "1a2b"), ("1A2B", "1a2b"), ("0x1a2b", "1a2b"), ("0X001A2B", "1a2b"), ("  1a2b\n", "1a2b"),
    ("1a:2b", "1a2b"), ("0", "0"), ("000", "0"),
])
def test_normalise_serial(text: str, canonical: str) -> None:
    assert normalise_serial(text) == canonical


@pytest.mark.parametrize("text", ["", "0x", "xyz", "1a2g", "-1", "1a 2b", "a" * 41])
def test_invalid_serials(text: str) -> None:
    with pytest.raises(InvalidSerial):
        normalise_serial(text)


def test_revoke_is_seen_by_another_instance_within_a_second(data: Path, tmp_path: Path) -> None:
    issued, _ = issue(data, tmp_path, Principal("health", "HOSP", "医院", "330206"))
    watcher = RevocationList(revoked_file(data))  # e.g. the running server
    assert not watcher.is_revoked(issued.serial)
    RevocationList(revoked_file(data)).revoke(issued.serial.upper())  # e.g. `permitgw cert revoke`
    deadline = time.monotonic() + 1.0
    while not watcher.is_revoked(issued.serial):
        assert time.monotonic() < deadline, "revocation not seen within 1 s"
        time.sleep(0.02)
    assert watcher.is_revoked("0x" + issued.serial.upper())
    assert issued.serial in revoked_file(data).read_text().split()


def test_revoke_is_idempotent_and_keeps_others(data: Path, tmp_path: Path) -> None:
    rl = RevocationList(revoked_file(data))
    a, _ = issue(data, tmp_path, Principal("school", "A", "a", "330203"), "a")
    b, _ = issue(data, tmp_path, Principal("school", "B", "b", "330203"), "b")
    rl.revoke(a.serial)
    rl.revoke(a.serial)
    rl.revoke(b.serial)
    lines = revoked_file(data).read_text().split()
    assert lines.count(a.serial) == 1 and b.serial in lines
    assert rl.is_revoked(a.serial) and rl.is_revoked(b.serial)
    assert mode(revoked_file(data)) == 0o600


def test_unknown_serial_refused(data: Path) -> None:
    rl = RevocationList(revoked_file(data))
    before = revoked_file(data).read_bytes() if revoked_file(data).exists() else b""
    with pytest.raises(UnknownSerial):
        rl.revoke("deadbeef")
    with pytest.raises(InvalidSerial):
        rl.revoke("not-hex")
    after = revoked_file(data).read_bytes() if revoked_file(data).exists() else b""
    assert after == before
    assert "deadbeef" not in known_serials(data)


def test_revoke_without_ledger_check(tmp_path: Path) -> None:
    rl = RevocationList(tmp_path / "certs" / "revoked.txt")
    rl.revoke("00BEEF", require_issued=False)
    assert rl.is_revoked("beef")
    assert (tmp_path / "certs" / "revoked.txt").read_text() == "beef\n"


def test_missing_file_means_nothing_revoked(tmp_path: Path) -> None:
    rl = RevocationList(tmp_path / "revoked.txt")
    assert not rl.is_revoked("abc")
    assert len(rl) == 0


def test_hand_edited_file_with_comments_and_junk(tmp_path: Path) -> None:
    path = tmp_path / "revoked.txt"
    path.write_text("# revoked by hand\n0xABC  # lost laptop\n\nnot a serial\n00def\n")
    rl = RevocationList(path, check_interval=0)
    assert rl.serials() == frozenset({"abc", "def"})
    assert rl.whole() == ""
    path.write_text("abc\n")  # un-revoke by hand: nothing is lifted, the list says it is damaged
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert rl.serials() == frozenset({"abc", "def"})
    assert "lacks 1 of 2" in rl.whole()


def test_is_revoked_is_safe_under_threads(tmp_path: Path) -> None:
    path = tmp_path / "revoked.txt"
    rl = RevocationList(path, check_interval=0.001)
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                for _ in range(200):
                    rl.is_revoked("abc")
                time.sleep(0.0002)  # leave the writer some of the GIL
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    writer = RevocationList(path)
    for i in range(20):
        writer.revoke(format(0x1000 + i, "x"), require_issued=False)
    writer.revoke("abc", require_issued=False)
    deadline = time.monotonic() + 1.0
    while not rl.is_revoked("abc") and time.monotonic() < deadline:
        time.sleep(0.005)
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert rl.is_revoked("abc")
    assert len(rl.serials()) == 21


def test_is_revoked_is_cheap(tmp_path: Path) -> None:
    rl = RevocationList(tmp_path / "revoked.txt")
    for i in range(100):
        rl.revoke(format(0x1000 + i, "x"), require_issued=False)
    serial = format(x509.random_serial_number(), "x")
    n = 100_000
    start = time.perf_counter_ns()
    for _ in range(n):
        rl.is_revoked(serial)
    per_call = (time.perf_counter_ns() - start) / n
    assert per_call < 5_000, f"is_revoked costs {per_call:.0f} ns per call"


def test_a_server_certificate_for_a_load_balancers_name(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    init_ca(keys)
    old_key = (keys / "server.key").read_bytes()
    names = reissue_server(keys, ("GW.Example.gov.cn.", "10.0.0.7"))
    assert names == ("gw.example.gov.cn", "10.0.0.7", "localhost", "127.0.0.1", "::1")
    cert = load(keys / "server.crt")
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["gw.example.gov.cn", "localhost"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.7", "127.0.0.1", "::1"]
    assert cert.issuer == load(keys / "ca.crt").subject
    assert (keys / "server.key").read_bytes() != old_key and mode(keys / "server.key") == 0o600
    cert.verify_directly_issued_by(load(keys / "ca.crt"))


@pytest.mark.parametrize("bad", ["https://gw.example", "gw.example:8443", "*.example.gov.cn", "gw example", "",
                                 "-gw.example", "a" * 64 + ".example"])
def test_a_server_certificate_refuses_what_is_not_a_host(tmp_path: Path, bad: str) -> None:
    keys = tmp_path / "keys"
    init_ca(keys)
    before = (keys / "server.crt").read_bytes()
    with pytest.raises(CaError, match="not a host name or IP address"):
        reissue_server(keys, (bad,))
    assert (keys / "server.crt").read_bytes() == before
