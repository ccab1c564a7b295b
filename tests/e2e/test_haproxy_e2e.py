"""End to end: docs/examples/haproxy.cfg, run by a real HAProxy in front of two replicas on PostgreSQL.

The shipped example is used as it is, with only its addresses, its stats socket and the lines that need a
system install (chroot, user, group, daemon) changed. Calls made through HAProxy are answered, the caller's
identity from its client certificate is what the log records (TLS passes through to the replicas), both replicas
take connections, and when one is killed HAProxy's health check takes it out and every later call is answered.
"""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from gateway.datadir import DataDir
from tests.e2e.cluster import Cluster, ask, cluster
from tests.helpers import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "haproxy.cfg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def render(example: str, listen: str, servers: list[str], stats: Path) -> str:
    text = re.sub(r"(?m)^\s*(chroot|user|group|daemon)\b.*\n", "", example)
    text = re.sub(r"(?m)^(\s*)bind \S+", rf"\g<1>bind {listen}", text)
    text = re.sub(r"(?m)^(\s*stats socket )\S+", rf"\g<1>{stats}", text)
    lines = iter(servers)

    def server(m: re.Match[str]) -> str:  # the example's servers, one per replica; the rest left out
        address = next(lines, None)
        return f"{m.group(1)}{address}{m.group(2)}" if address else ""

    return re.sub(r"(?m)^(\s*server \S+ )\S+(.*\n)", server, text)


def stat(sock: Path) -> dict[str, dict[str, str]]:
    """`show stat` on the stats socket: the backend's servers by name → their CSV fields."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock))
        s.sendall(b"show stat\n")
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    rows = raw.decode().splitlines()
    header = rows[0].lstrip("# ").split(",")
    found = [dict(zip(header, r.split(","), strict=False)) for r in rows[1:] if r]
    return {r["svname"]: r for r in found if r["pxname"] == "replicas" and r["svname"] != "BACKEND"}


def answering(sock: Path) -> bool:
    """Whether a Unix socket accepts connections yet. HAProxy's stats socket file appears when it is bound, a moment
    before it listens: waiting for the file alone let `stat` be refused (seen once in a fresh-clone run)."""
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(sock))
        except (FileNotFoundError, ConnectionRefusedError):
            return False
    return True


@contextmanager
def haproxy(c: Cluster, root: Path) -> Iterator[tuple[str, Path]]:
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    assert Path(binary).exists(), "HAProxy is not installed: `make haproxy` (as root) installs it"
    listen, sock = f"127.0.0.1:{free_port()}", root / "haproxy.sock"
    cfg = root / "haproxy.cfg"
    cfg.write_text(render(EXAMPLE.read_text(), listen, [r.address for r in c.replicas], sock))
    assert "10.0.0." not in cfg.read_text()
    proc = subprocess.Popen([binary, "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=(root / "haproxy.err").open("w"))
    try:
        wait_until(lambda: answering(sock) or proc.poll() is not None, "HAProxy's stats socket", 20)
        assert proc.poll() is None, (root / "haproxy.err").read_text()
        yield listen, sock
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def calls_per_second(address: str, prefix: Path, who: str, tag: str, n: int = 120) -> float:
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: ask(address, prefix, who, f"{tag}-{i}"), range(n)))
    return n / (time.monotonic() - started)


def test_two_replicas_behind_the_example_haproxy(tmp_path: Path) -> None:
    example = EXAMPLE.read_text()
    assert "mode tcp" in example and "ssl" not in example.split("backend", 1)[1], "TLS must pass through"
    with cluster(tmp_path, 2, people=10, tag="pgh") as c:
        prefix = c.cert("viaLB")
        c.start()
        who = c.people[0].id_number
        with haproxy(c, tmp_path) as (listen, sock):
            wait_until(lambda: all(s["status"] == "UP" for s in stat(sock).values()), "both replicas UP", 20)
            direct = calls_per_second(c.replicas[0].address, prefix, who, "DIRECT")
            through = calls_per_second(listen, prefix, who, "LB")
            sessions = {name: int(s["stot"]) for name, s in stat(sock).items()}
            assert sessions["replica1"] > 0 and sessions["replica2"] > 0, sessions

            c.replicas[1].kill9()
            wait_until(lambda: stat(sock)["replica2"]["status"].startswith("DOWN"), "replica2 marked DOWN", 20)
            for n in range(20):  # every call now reaches the replica that is left
                ask(listen, prefix, who, f"AFTER-{n}")
            print(f"\n{direct:.0f} calls/s straight to one replica, {through:.0f} calls/s through HAProxy to two "
                  f"(8 clients, a new TLS connection per call); sessions per replica {sessions}")
        c.stop()

        store = DataDir(c.first).open_store()
        try:
            via = [e for _, _, e in store.leaf_hashes() if e.case_id.startswith(("LB-", "AFTER-"))]
        finally:
            store.close()
        assert len(via) == 140 and {e.org for e in via} == {"ORG-viaLB"}, "the caller's identity reached the gateway"


def test_a_socket_bound_but_not_listening_is_not_answering(tmp_path: Path) -> None:
    """The state HAProxy's stats socket is in between its bind and its listen: the file exists, a connection is
    refused. The wait for HAProxy must not take it for ready."""
    path = tmp_path / "s.sock"
    assert not answering(path)  # no file yet
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        assert path.exists() and not answering(path)  # bound, not listening: refused
        server.listen(1)
        assert answering(path)
