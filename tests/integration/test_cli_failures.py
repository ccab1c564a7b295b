"""Every `permitgw` command, made to fail as an operator would make it fail, says why in one line.

For each command a realistic failure — a missing or loose data directory, a damaged key file, a bad argument
value, an unknown serial, a file that is not there or is a directory, a port already taken — must end with the
documented exit code (docs/cli.md: 1 the operation failed, 2 a usage error) and exactly one line on stderr,
`permitgw: …`: never a traceback, never the old catch-all's "unexpected <type>", never an identity number.
"""
from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gateway.domain import clock
from gateway.synth import psb
from gateway.synth.people import residents
from tests.conftest import run_cli
from tests.helpers import break_check, make_id

IDENTITY_NUMBER = re.compile(r"(?<!\d)(\d{17}[\dXx]|\d{15})(?!\d)")
BAD_ID = break_check(make_id())  # shaped like an identity number, its check character wrong: never to be echoed


@dataclass
class Scene:
    """Where a case runs: a fresh initialised data directory, a scratch directory, and things to keep open."""

    data: Path
    tmp: Path
    keep: ExitStack
    env: dict[str, str] = field(default_factory=dict)

    @property
    def d(self) -> list[str]:
        return ["--data", str(self.data)]

    def loosen(self, relative: str) -> None:
        path = self.data / relative
        path.chmod(0o755 if path.is_dir() else 0o644)

    def damage(self, relative: str) -> None:
        (self.data / relative).write_text("not a PEM file\n", "utf-8")

    def a_file(self) -> Path:
        """A regular file, to stand where a directory is needed."""
        path = self.tmp / "a-file"
        path.write_text("", "utf-8")
        return path

    def a_directory(self) -> Path:
        """A directory, to stand where a file to read is needed (root may read any file, not a directory)."""
        path = self.tmp / "a-directory"
        path.mkdir(exist_ok=True)
        return path

    def taken_port(self) -> str:
        """HOST:PORT of a socket this test listens on for the length of the case."""
        sock = self.keep.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        return f"127.0.0.1:{sock.getsockname()[1]}"

    def witness_dir(self) -> Path:
        wdir = self.tmp / "witness"
        run_cli("witness", "init", "--data", str(wdir), "--name", "audit.example/witness")
        return wdir


ISSUE = ["--role", "school", "--org", "SCH-1", "--name", "a school", "--district", "330203"]


def _cert_issue_out_exists(s: Scene) -> list[str]:
    out = s.tmp / "school"
    run_cli("cert", "issue", *s.d, *ISSUE, "--out", str(out))
    return ["cert", "issue", *s.d, *ISSUE, "--out", str(out)]


def _loose(relative: str, argv: Callable[[Scene], list[str]]) -> Callable[[Scene], list[str]]:
    def setup(s: Scene) -> list[str]:
        s.loosen(relative)
        return argv(s)
    return setup


def _damaged(relative: str, argv: Callable[[Scene], list[str]]) -> Callable[[Scene], list[str]]:
    def setup(s: Scene) -> list[str]:
        s.damage(relative)
        return argv(s)
    return setup


def _unknown_config_key(s: Scene) -> list[str]:
    config = s.data / "config.toml"
    config.write_text(config.read_text("utf-8") + "\n[server]\nlisten_address = \"127.0.0.1:1\"\n", "utf-8")
    return ["serve", *s.d, "--listen", "127.0.0.1:0"]


def _damaged_witness_key(s: Scene) -> list[str]:
    wdir = s.witness_dir()
    (wdir / "witness.key").write_text("not a PEM file\n", "utf-8")
    return ["witness", "serve", "--data", str(wdir), "--listen", "127.0.0.1:0"]


def _another_gateways_key(s: Scene) -> list[str]:
    people = residents(3, seed=5)
    psb.write(s.tmp / "jzdj.csv", people, seed=5)
    run_cli("import", *s.d, "--bureau", "psb", "--json", str(s.tmp / "jzdj.csv"))
    (s.data / "keys" / "pii-enc.key").write_bytes(bytes(range(32)))  # the right size, not this database's key
    return ["explain", *s.d, "--id", people[0].id_number]


def _bad_clock(s: Scene) -> list[str]:
    s.env[clock.ENV] = "2026-06-15 12:00"  # no UTC offset: refused before anything runs
    return ["demo"]


def _newer_database(s: Scene) -> list[str]:
    import sqlite3

    db = sqlite3.connect(s.data / "gateway.db")
    db.execute("PRAGMA user_version=99")  # as a later release's migrate leaves it
    db.close()
    return ["migrate", *s.d]


def _database_missing(s: Scene) -> list[str]:
    (s.data / "gateway.db").unlink()  # migrate makes no new one: only init does
    return ["migrate", *s.d]


def _search(s: Scene) -> list[str]:
    return ["audit", "search", *s.d]


def _verify(s: Scene) -> list[str]:
    return ["audit", "verify", *s.d]


def _serve(s: Scene) -> list[str]:
    return ["serve", *s.d, "--listen", "127.0.0.1:0"]


def _issue(s: Scene) -> list[str]:
    return ["cert", "issue", *s.d, *ISSUE, "--out", str(s.tmp / "school")]


POLICY = ["--role", "school", "--district", "330203", "--purpose", "compulsory-education",
          "--method", "CheckEnrollment"]

# (command, situation) → (argv from a scene, exit code)
CASES: dict[tuple[str, str], tuple[Callable[[Scene], list[str]], int]] = {
    ("init", "data directory under a regular file"):
        (lambda s: ["init", "--data", str(s.a_file() / "data")], 1),
    ("cert issue", "CA key with a loose mode"): (_loose("keys/ca.key", _issue), 1),
    ("cert issue", "damaged CA certificate"): (_damaged("keys/ca.crt", _issue), 1),
    ("cert issue", "unknown district"):
        (lambda s: ["cert", "issue", *s.d, *ISSUE[:-1], "999999", "--out", str(s.tmp / "school")], 1),
    ("cert issue", "its files already exist"): (_cert_issue_out_exists, 1),
    ("cert revoke", "serial never issued"): (lambda s: ["cert", "revoke", *s.d, "--serial", "abcdef0123"], 1),
    ("cert revoke", "serial not hexadecimal"): (lambda s: ["cert", "revoke", *s.d, "--serial", "zz-top"], 1),
    ("cert revoke", "missing data directory"):
        (lambda s: ["cert", "revoke", "--data", str(s.tmp / "nowhere"), "--serial", "ab"], 1),
    ("import", "file that is not there"):
        (lambda s: ["import", *s.d, "--bureau", "psb", str(s.tmp / "jzdj.csv")], 1),
    ("import", "directory given as the file"):
        (lambda s: ["import", *s.d, "--bureau", "psb", str(s.a_directory())], 1),
    ("import", "encryption key with a loose mode"):
        (_loose("keys/pii-enc.key", lambda s: ["import", *s.d, "--bureau", "psb", str(s.tmp / "x.csv")]), 1),
    ("serve", "missing data directory"):
        (lambda s: ["serve", "--data", str(s.tmp / "nowhere"), "--listen", "127.0.0.1:0"], 1),
    ("serve", "server key with a loose mode"): (_loose("keys/server.key", _serve), 1),
    ("serve", "damaged signing key"): (_damaged("keys/signing.key", _serve), 1),
    ("serve", "damaged CA certificate"): (_damaged("keys/ca.crt", _serve), 1),
    ("serve", "unknown key in config.toml"): (_unknown_config_key, 1),
    ("explain", "identity number with a wrong check character"):
        (lambda s: ["explain", *s.d, "--id", BAD_ID], 1),
    ("explain", "encryption key of another database"): (_another_gateways_key, 1),
    ("explain", "date that is not a date"):
        (lambda s: ["explain", *s.d, "--id", make_id(), "--as-of", "2026-02-30"], 1),
    ("policy explain", "unknown purpose"):
        (lambda s: ["policy", "explain", *s.d, *POLICY[:5], "sightseeing", *POLICY[6:]], 1),
    ("policy explain", "unknown method"):
        (lambda s: ["policy", "explain", *s.d, *POLICY[:7], "NoSuchMethod"], 1),
    ("policy explain", "config.toml with a loose mode"):
        (_loose("config.toml", lambda s: ["policy", "explain", *s.d, *POLICY]), 1),
    ("audit search", "blind-index key with a loose mode"): (_loose("keys/pii-index.key", _search), 1),
    ("audit search", "signing key with a loose mode"): (_loose("keys/signing.key", _search), 1),
    ("audit search", "time that is not a time"): (lambda s: ["audit", "search", *s.d, "--since", "yesterday"], 1),
    ("audit search", "identity number with a wrong check character"):
        (lambda s: ["audit", "search", *s.d, "--subject", BAD_ID], 1),
    ("audit verify", "saved checkpoint that is not there"):
        (lambda s: ["audit", "verify", *s.d, "--checkpoint", str(s.tmp / "checkpoint.txt")], 1),
    ("audit verify", "damaged signing key"): (_damaged("keys/signing.key", _verify), 1),
    ("audit verify", "damaged CA certificate"): (_damaged("keys/ca.crt", _verify), 1),
    ("audit verify", "keys directory with a loose mode"): (_loose("keys", _verify), 1),
    ("attest verify", "file that is not there"):
        (lambda s: ["attest", "verify", str(s.tmp / "attestation.txt"), "--key", "x"], 1),
    ("attest verify", "directory given as the file"):
        (lambda s: ["attest", "verify", str(s.a_directory()), "--key", "x"], 1),
    ("attest verify", "neither key nor data directory"):
        (lambda s: ["attest", "verify", str(s.a_file())], 1),
    ("attest verify", "data directory with a loose mode"):
        (_loose("keys/signing.key", lambda s: ["attest", "verify", str(s.a_file()), *s.d]), 1),
    ("witness init", "name with a space"):
        (lambda s: ["witness", "init", "--data", str(s.tmp / "w"), "--name", "audit bureau"], 1),
    ("witness init", "directory under a regular file"):
        (lambda s: ["witness", "init", "--data", str(s.a_file() / "w"), "--name", "audit.example/witness"], 1),
    ("witness serve", "not a witness directory"):
        (lambda s: ["witness", "serve", "--data", str(s.a_directory()), "--listen", "127.0.0.1:0"], 1),
    ("witness serve", "port in use"):
        (lambda s: ["witness", "serve", "--data", str(s.witness_dir()), "--listen", s.taken_port()], 1),
    ("witness serve", "damaged witness key"): (_damaged_witness_key, 1),
    ("witness add", "verifier key that is not one"):
        (lambda s: ["witness", "add", *s.d, "--verifier-key", "audit+1234", "--url", "127.0.0.1:1"], 1),
    ("witness add", "missing data directory"):
        (lambda s: ["witness", "add", "--data", str(s.tmp / "nowhere"), "--verifier-key", "k", "--url", "h:1"], 1),
    ("migrate", "missing data directory"): (lambda s: ["migrate", "--data", str(s.tmp / "nowhere")], 1),
    ("migrate", "database of a newer permitgw"): (_newer_database, 1),
    ("migrate", "database file missing"): (_database_missing, 1),
    ("synth", "no residents"): (lambda s: ["synth", "--out", str(s.tmp / "out"), "--residents", "0"], 1),
    ("synth", "output under a regular file"):
        (lambda s: ["synth", "--out", str(s.a_file() / "out"), "--residents", "2"], 1),
    ("demo", "clock setting without a UTC offset"): (_bad_clock, 2),
}

COMMANDS = ("init", "cert issue", "cert revoke", "import", "serve", "explain", "policy explain", "audit search",
            "audit verify", "attest verify", "witness init", "witness serve", "witness add", "synth", "demo", "migrate")


def test_every_command_has_a_failure_case() -> None:
    assert sorted({command for command, _ in CASES}) == sorted(COMMANDS)


@pytest.fixture
def scene(tmp_path: Path, _template_data: Path) -> Iterator[Scene]:
    """A copy of an initialised data directory (conftest's template) and an empty scratch directory."""
    shutil.copytree(_template_data, tmp_path / "data")
    (tmp_path / "scratch").mkdir()
    with ExitStack() as keep:
        yield Scene(tmp_path / "data", tmp_path / "scratch", keep)


@pytest.mark.parametrize(("command", "situation"), sorted(CASES), ids=[f"{c} - {s}" for c, s in sorted(CASES)])
def test_a_failure_is_one_line(command: str, situation: str, scene: Scene) -> None:
    setup, code = CASES[command, situation]
    argv = setup(scene)
    assert " ".join(argv).startswith(command), f"the case for {command!r} runs {argv[:2]}"
    proc = run_cli(*argv, check=False, env=scene.env)
    said = f"{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == code, f"{command} ({situation}) exited {proc.returncode}, not {code}:\n{said}"
    assert "Traceback" not in said, f"{command} ({situation}) printed a traceback:\n{said}"
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("permitgw: "), f"{command} ({situation}): {proc.stderr!r}"
    assert "unexpected" not in lines[0], f"{command} ({situation}) is not explained: {lines[0]}"
    assert not IDENTITY_NUMBER.search(said), f"{command} ({situation}) printed an identity number: {said}"


def test_serve_on_a_port_in_use_ends_with_one_line(scene: Scene) -> None:
    """The server's start-up notes come first (and gRPC's own log line); the failure is the last line."""
    proc = run_cli("serve", *scene.d, "--listen", scene.taken_port(), check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    ours = [line for line in proc.stderr.splitlines() if line.startswith("permitgw")]
    assert len(ours) == 1 and ours[0].startswith("permitgw: cannot listen on "), proc.stderr
    assert proc.stderr.splitlines()[-1] == ours[0]
