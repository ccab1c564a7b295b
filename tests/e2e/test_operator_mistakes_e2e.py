"""Operator mistakes against the real `permitgw` command and a real server: loose file modes, garbage in
policy.csv, and a revocation list that is moved away or emptied. Each fails safe and says so in one line."""
from __future__ import annotations

import queue
import re
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from gateway.synth.people import SynthPerson
from tests.conftest import init_with_people, run_cli
from tests.e2e.conftest import Gateway, serve

PURPOSE = "compulsory-education"


class Lines:
    """The server's stdout, read by a thread, so a test can wait for a line with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self._q: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(proc,), daemon=True).start()

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._q.put(line)

    def wait_for(self, pattern: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._q.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s; saw {self.seen!r}")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SynthPerson]]:
    """A data directory with a few people, made once; each test works on its own copy."""
    root = tmp_path_factory.mktemp("mistakes")
    return init_with_people(root, 20, seed=11)


@pytest.fixture
def gw(setup: tuple[Path, list[SynthPerson]], tmp_path: Path) -> Iterator[tuple[Gateway, Lines]]:
    source, people = setup
    data = tmp_path / "data"
    subprocess.run(["cp", "-a", str(source), str(data)], check=True)
    proc, address = serve(data)
    g = Gateway(tmp_path, address, proc, people)
    lines = Lines(proc)
    try:
        yield g, lines
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


# ------------------------------------------------------------------ file modes

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_everything_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    run_cli("init", "--data", str(data))
    assert _mode(data) == 0o700
    for path in [data / "config.toml", data / "gateway.db", *(data / "keys").glob("*.key"),
                 *(data / "policies").iterdir()]:
        assert _mode(path) == 0o600, path
    for sub in ("keys", "certs", "rejects", "policies"):
        assert _mode(data / sub) == 0o700, sub


def test_a_served_database_and_its_wal_are_private(gw: tuple[Gateway, Lines]) -> None:
    g, _ = gw
    school = g.cert("school", "school", "330203")
    g.ask(school, g.people[0].id_number, PURPOSE)  # the server has written to the log: -wal and -shm exist
    for name in ("gateway.db", "gateway.db-wal", "gateway.db-shm"):
        assert _mode(g.data / name) == 0o600, name
    assert _mode(g.data / "certs" / "issued.jsonl") == 0o600


@pytest.mark.parametrize(("target", "mode"), [
    ("keys/ca.key", 0o644), ("keys/server.key", 0o640), ("keys/signing.key", 0o604), ("keys/pii-enc.key", 0o644),
    ("config.toml", 0o644), ("gateway.db", 0o644), (".", 0o755), ("keys", 0o750),
])
def test_serve_refuses_secrets_others_can_read(setup: tuple[Path, list[SynthPerson]], tmp_path: Path,
                                               target: str, mode: int) -> None:
    data = tmp_path / "data"
    subprocess.run(["cp", "-a", str(setup[0]), str(data)], check=True)
    path = data / target
    path.chmod(mode)
    done = run_cli("serve", "--data", str(data), "--listen", "127.0.0.1:0", check=False, timeout=30)
    assert done.returncode == 1, done
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert str(path.resolve() if target == "." else path) in done.stderr or str(path) in done.stderr
    assert "chmod" in done.stderr


# ------------------------------------------------------------------ policy.csv garbage

def test_garbage_in_policy_csv_is_a_refused_reload(gw: tuple[Gateway, Lines]) -> None:
    g, lines = gw
    school = g.cert("school", "school", "330203")
    assert g.ask(school, g.people[0].id_number, PURPOSE).id_number
    policy = g.data / "policies" / "policy.csv"
    policy.write_text("<<<<<<< HEAD\nthese are not policy lines\n=======\n")
    line = lines.wait_for(r"policy reload refused")
    assert "policy.csv:1" in line
    for _ in range(5):  # the policy in force stays: schools are still answered
        assert g.ask(school, g.people[0].id_number, PURPOSE).id_number


def test_serve_refuses_to_start_on_garbage_naming_file_and_line(setup: tuple[Path, list[SynthPerson]],
                                                                 tmp_path: Path) -> None:
    data = tmp_path / "data"
    subprocess.run(["cp", "-a", str(setup[0]), str(data)], check=True)
    policy = data / "policies" / "policy.csv"
    policy.write_text(policy.read_text() + "something else entirely\n")
    done = run_cli("serve", "--data", str(data), "--listen", "127.0.0.1:0", check=False, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert re.search(r"policy\.csv:\d+: ", done.stderr), done.stderr
    assert done.stderr.count("\n") == 1



# ------------------------------------------------------------------ revocations lifted

def _code(g: Gateway, prefix: Path, person: SynthPerson) -> grpc.StatusCode:
    try:
        g.ask(prefix, person.id_number, PURPOSE)
    except grpc.RpcError as err:
        return err.code()
    return grpc.StatusCode.OK


def _revoke(g: Gateway, name: str) -> Path:
    prefix = g.cert(name, "school", "330203")
    run_cli("cert", "revoke", "--data", str(g.data), "--serial", _serial(prefix))
    return prefix


@pytest.mark.parametrize("loss", ["moved away", "emptied"])
def test_a_lost_revocation_list_fails_closed_with_an_alert_and_heals(gw: tuple[Gateway, Lines], loss: str) -> None:
    g, lines = gw
    person = g.people[0]
    school = g.cert("school", "school", "330203")
    revoked = _revoke(g, "stolen")
    deadline = time.monotonic() + 5  # `cert revoke` contract: a running server refuses within 5 s
    while _code(g, revoked, person) != grpc.StatusCode.UNAUTHENTICATED:
        assert time.monotonic() < deadline, "revocation not in force within 5 s"
    assert _code(g, school, person) == grpc.StatusCode.OK
    path = g.data / "certs" / "revoked.txt"
    kept = path.read_bytes()
    if loss == "moved away":
        path.rename(path.with_name("revoked.txt.bak"))
    else:
        path.write_bytes(b"")
    lines.wait_for(r"ALERT: revocation list damaged")
    for prefix in (revoked, school):  # the revoked certificate is not answered again; nobody is, until repaired
        assert _code(g, prefix, person) == grpc.StatusCode.UNAVAILABLE
    entries = g.log()
    assert any(e["decision"] == "alert" and e["reason"] == "REVOCATION_LIST_DAMAGED" for e in entries)
    assert any(e["reason"] == "REVOCATION_LIST_DAMAGED" and e["decision"] == "deny" for e in entries)
    if loss == "moved away":
        path.with_name("revoked.txt.bak").rename(path)
    else:
        path.write_bytes(kept)
    lines.wait_for(r"revocation list whole again")
    assert _code(g, school, person) == grpc.StatusCode.OK
    assert _code(g, revoked, person) == grpc.StatusCode.UNAUTHENTICATED


def test_a_revocation_list_emptied_while_stopped_is_noticed_at_start(setup: tuple[Path, list[SynthPerson]],
                                                                      tmp_path: Path) -> None:
    source, people = setup
    data = tmp_path / "data"
    subprocess.run(["cp", "-a", str(source), str(data)], check=True)
    g = Gateway(tmp_path, "", None, people)  # type: ignore[arg-type]
    revoked = _revoke(g, "stolen")
    (data / "certs" / "revoked.txt").write_text("")
    proc, address = serve(data)
    g.address = address
    try:
        lines = Lines(proc)
        lines.wait_for(r"ALERT: revocation list damaged")
        assert _code(g, revoked, people[0]) == grpc.StatusCode.UNAVAILABLE
        run_cli("cert", "revoke", "--data", str(data), "--serial", _serial(revoked))  # repairs the file
        lines.wait_for(r"revocation list whole again")
        assert _code(g, revoked, people[0]) == grpc.StatusCode.UNAUTHENTICATED
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def _serial(prefix: Path) -> str:
    from cryptography import x509

    return format(x509.load_pem_x509_certificate(Path(f"{prefix}.crt").read_bytes()).serial_number, "x")
