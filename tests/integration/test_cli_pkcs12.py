"""`permitgw cert issue --p12 FILE`, run as an operator runs it, writes a PKCS#12 file a browser imports.

The installed command on a real data directory: the password from PERMITGW_P12_PASSWORD or typed twice on a real
terminal (a pseudo-terminal made its controlling terminal); the file 0600, opened by cryptography, by `openssl
pkcs12` and imported by NSS's `pk12util` into an NSS database — the library and database format Chromium and
Firefox import client certificates with — when those tools are installed (Debian: openssl, libnss3-tools).
Every refusal is one line, exit 1, and leaves nothing behind; the password never appears in any output.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import select
import shutil
import stat
import subprocess
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from gateway.datadir import DataDir
from gateway.identity.ca import issued_ledger_path
from gateway.identity.pkcs12 import PASSWORD_ENV
from tests.conftest import BIN, run_cli

PASSWORD = "Officer-Import-2026!"
ISSUE = ["--role", "police", "--org", "PSB-NB", "--name", "Ningbo PSB security office", "--district", "330200"]


@pytest.fixture(autouse=True)
def _no_inherited_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)


def issue_args(data: DataDir, out: Path, p12: Path) -> list[str]:
    return ["cert", "issue", "--data", str(data.root), *ISSUE, "--out", str(out), "--p12", str(p12)]


def ledger_lines(data: DataDir) -> int:
    path = issued_ledger_path(data.root)
    return len(path.read_text("utf-8").splitlines()) if path.exists() else 0


def assert_one_line_refusal(proc: subprocess.CompletedProcess[str], *secrets: str) -> str:
    assert proc.returncode == 1, proc
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("permitgw: "), proc.stderr
    for secret in secrets:
        assert secret not in proc.stderr
    return lines[0]


def assert_nothing_issued(data: DataDir, out: Path, before: int) -> None:
    assert [s for s in (".crt", ".key", ".ca.crt") if Path(f"{out}{s}").exists()] == []
    assert ledger_lines(data) == before


# ---------------------------------------------------------------- the password from the environment


@pytest.fixture
def issued(data: DataDir, tmp_path: Path) -> tuple[DataDir, Path, Path, subprocess.CompletedProcess[str]]:
    out, p12 = tmp_path / "officer", tmp_path / "officer.p12"
    proc = run_cli(*issue_args(data, out, p12), env={PASSWORD_ENV: PASSWORD}, stdin=subprocess.DEVNULL)
    return data, out, p12, proc


def test_it_writes_a_private_file_next_to_the_pem_files(
        issued: tuple[DataDir, Path, Path, subprocess.CompletedProcess[str]]) -> None:
    _, out, p12, proc = issued
    assert stat.S_IMODE(p12.stat().st_mode) == 0o600
    assert str(p12) in proc.stdout
    for suffix in (".crt", ".key", ".ca.crt"):
        assert Path(f"{out}{suffix}").is_file()
    assert PASSWORD not in proc.stdout + proc.stderr
    assert list(p12.parent.glob(".*.tmp")) == []


def test_it_holds_the_issued_certificate_its_key_and_the_gateway_ca(
        issued: tuple[DataDir, Path, Path, subprocess.CompletedProcess[str]]) -> None:
    data, out, p12, _ = issued
    loaded = pkcs12.load_pkcs12(p12.read_bytes(), PASSWORD.encode())
    assert loaded.cert is not None and loaded.key is not None
    assert loaded.cert.certificate == x509.load_pem_x509_certificate(Path(f"{out}.crt").read_bytes())
    pem_key = serialization.load_pem_private_key(Path(f"{out}.key").read_bytes(), password=None)
    assert loaded.key.public_key() == pem_key.public_key()
    ca = x509.load_pem_x509_certificate((data.keys / "ca.crt").read_bytes())
    assert [c.certificate for c in loaded.additional_certs] == [ca]
    assert loaded.cert.friendly_name is not None
    name = loaded.cert.friendly_name.decode()
    assert "Ningbo PSB security office" in name and "PSB-NB" in name and "police" in name


def test_a_wrong_password_does_not_open_it(
        issued: tuple[DataDir, Path, Path, subprocess.CompletedProcess[str]]) -> None:
    _, _, p12, _ = issued
    for wrong in (b"", PASSWORD.lower().encode(), PASSWORD[:-1].encode()):
        with pytest.raises(ValueError):
            pkcs12.load_pkcs12(p12.read_bytes(), wrong)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
def test_openssl_reads_it_as_pbes2_aes256_with_a_sha256_mac(
        issued: tuple[DataDir, Path, Path, subprocess.CompletedProcess[str]]) -> None:
    _, _, p12, _ = issued

    def info(password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["openssl", "pkcs12", "-info", "-noout", "-in", str(p12), "-passin", "env:P12PW"],
                              capture_output=True, text=True, timeout=60, env={**os.environ, "P12PW": password})
    good = info(PASSWORD)
    assert good.returncode == 0, good.stderr
    assert "MAC: sha256" in good.stderr
    assert "PBES2, PBKDF2, AES-256-CBC" in good.stderr and "hmacWithSHA256" in good.stderr
    assert info(PASSWORD + "x").returncode != 0


def test_nss_imports_it_as_chromium_would(
        issued: tuple[DataDir, Path, Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    """Chromium on Linux keeps client certificates in an NSS sql: database (~/.pki/nssdb) and imports a
    PKCS#12 file with NSS's PKCS#12 decoder — the one pk12util uses (`make test` installs NSS's tools as root)."""
    if shutil.which("pk12util") is None or shutil.which("certutil") is None:
        pytest.fail("NSS tools missing: apt-get install libnss3-tools (make test does, as root)", pytrace=False)
    _, _, p12, _ = issued
    nssdb, pwfile, wrongfile = tmp_path / "nssdb", tmp_path / "pw", tmp_path / "wrong"
    nssdb.mkdir()
    pwfile.write_text(PASSWORD, "utf-8")
    wrongfile.write_text(PASSWORD + "x", "utf-8")

    def nss(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    assert nss("certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password").returncode == 0
    wrong = nss("pk12util", "-i", str(p12), "-d", f"sql:{nssdb}", "-w", str(wrongfile))
    assert wrong.returncode != 0
    imported = nss("pk12util", "-i", str(p12), "-d", f"sql:{nssdb}", "-w", str(pwfile))
    assert imported.returncode == 0 and "PKCS12 IMPORT SUCCESSFUL" in imported.stdout, imported
    listing = nss("certutil", "-L", "-d", f"sql:{nssdb}").stdout
    assert "Ningbo PSB security office (PSB-NB, police)" in listing and "u,u,u" in listing
    assert "permit-gateway CA" in listing
    keys = nss("certutil", "-K", "-d", f"sql:{nssdb}").stdout
    assert "ec" in keys and "Ningbo PSB security office" in keys


# ---------------------------------------------------------------- refusals


def test_no_password_and_no_terminal_is_one_line_and_nothing_written(data: DataDir, tmp_path: Path) -> None:
    out, p12 = tmp_path / "officer", tmp_path / "officer.p12"
    before = ledger_lines(data)
    proc = run_cli(*issue_args(data, out, p12), check=False, stdin=subprocess.DEVNULL)
    assert PASSWORD_ENV in assert_one_line_refusal(proc)
    assert not p12.exists()
    assert_nothing_issued(data, out, before)


@pytest.mark.parametrize("password", ["", "short-pw", "eleven-char"])
def test_an_empty_or_short_password_is_refused(data: DataDir, tmp_path: Path, password: str) -> None:
    out, p12 = tmp_path / "officer", tmp_path / "officer.p12"
    before = ledger_lines(data)
    proc = run_cli(*issue_args(data, out, p12), check=False, stdin=subprocess.DEVNULL, env={PASSWORD_ENV: password})
    line = assert_one_line_refusal(proc, *([password] if password else []))
    assert "password" in line
    assert not p12.exists()
    assert_nothing_issued(data, out, before)


def test_an_existing_file_is_never_overwritten(data: DataDir, tmp_path: Path) -> None:
    out, p12 = tmp_path / "officer", tmp_path / "officer.p12"
    p12.write_bytes(b"an officer's earlier certificate")
    before = ledger_lines(data)
    proc = run_cli(*issue_args(data, out, p12), check=False, stdin=subprocess.DEVNULL, env={PASSWORD_ENV: PASSWORD})
    assert "already exists" in assert_one_line_refusal(proc, PASSWORD)
    assert p12.read_bytes() == b"an officer's earlier certificate"
    assert_nothing_issued(data, out, before)


def test_the_p12_file_may_not_be_one_of_the_pem_files(data: DataDir, tmp_path: Path) -> None:
    out = tmp_path / "officer"
    before = ledger_lines(data)
    proc = run_cli(*issue_args(data, out, Path(f"{out}.crt")), check=False, stdin=subprocess.DEVNULL,
                   env={PASSWORD_ENV: PASSWORD})
    assert_one_line_refusal(proc, PASSWORD)
    assert_nothing_issued(data, out, before)


# ---------------------------------------------------------------- the password typed on a terminal


class Terminal:
    """`permitgw` with a pseudo-terminal as its controlling terminal and stdin/stdout/stderr, as in a shell."""

    def __init__(self, args: list[str]) -> None:
        self.master, slave = os.openpty()
        env = {k: v for k, v in os.environ.items() if k != PASSWORD_ENV}
        self.proc = subprocess.Popen([str(BIN / "permitgw"), *args], stdin=slave, stdout=slave, stderr=slave,
                                     env=env, start_new_session=True, preexec_fn=_take_terminal)
        os.close(slave)
        self.seen = b""

    def wait_for(self, text: str, timeout: float = 60) -> None:
        """Read what the command writes until `text` appears (getpass turns echo off before its prompt)."""
        while text.encode() not in self.seen:
            ready, _, _ = select.select([self.master], [], [], timeout)
            assert ready, f"no {text!r} within {timeout}s; saw {self.seen!r}"
            chunk = self._read()
            assert chunk, f"the command ended before {text!r}; saw {self.seen!r}"

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        code = self.proc.wait(timeout)
        while self._read():
            pass
        os.close(self.master)
        return code, self.seen.decode("utf-8", "replace")

    def _read(self) -> bytes:
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the command has closed the terminal
            chunk = b""
        self.seen += chunk
        return chunk


def _take_terminal() -> None:
    """In the child, after setsid: make stdin (the pty) the controlling terminal, so getpass reads /dev/tty."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@contextlib.contextmanager
def terminal(args: list[str]) -> Iterator[Terminal]:
    term = Terminal(args)
    try:
        yield term
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
            term.proc.wait(60)


def test_on_a_terminal_the_password_is_asked_twice_and_never_echoed(data: DataDir, tmp_path: Path) -> None:
    out, p12 = tmp_path / "officer", tmp_path / "officer.p12"
    with terminal(issue_args(data, out, p12)) as term:
        term.wait_for("password: ")
        term.type(PASSWORD)
        term.wait_for("again: ")
        term.type(PASSWORD)
        code, seen = term.finish()
    assert code == 0, seen
    assert PASSWORD not in seen
    assert "may be echoed" not in seen  # getpass had the terminal, not the fallback that echoes
    assert "issued" in seen
    assert stat.S_IMODE(p12.stat().st_mode) == 0o600
    assert pkcs12.load_pkcs12(p12.read_bytes(), PASSWORD.encode()).key is not None


def test_on_a_terminal_two_different_entries_write_nothing(data: DataDir, tmp_path: Path) -> None:
    out, p12 = tmp_path / "officer", tmp_path / "officer.p12"
    before = ledger_lines(data)
    with terminal(issue_args(data, out, p12)) as term:
        term.wait_for("password: ")
        term.type(PASSWORD)
        term.wait_for("again: ")
        term.type(PASSWORD + "?")
        code, seen = term.finish()
    assert code == 1, seen
    assert PASSWORD not in seen
    assert seen.count("permitgw: ") == 1 and "differ" in seen
    assert not p12.exists()
    assert_nothing_issued(data, out, before)
