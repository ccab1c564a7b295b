"""The gateway's side of witnessing: which witnesses it has, submitting checkpoints, and the cosigned heads.

DIR/witnesses.toml            the witnesses `permitgw witness add` recorded: name, verifier key, HOST:PORT
DIR/witnessed/<name>.checkpoint  the latest checkpoint that witness cosigned (log signature + cosignature)

Both live outside the database on purpose: someone who can rewrite the database must not also be able to
rewrite what the log is checked against. Submission runs on its own thread, never on the request path.
"""
from __future__ import annotations

import json
import logging
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.audit.checkpoint import Checkpoint, NoteError, verify_checkpoint
from gateway.audit.cosignature import add_cosignatures, parse_cosigner_key, verify_cosigned
from gateway.audit.port import LogStore
from gateway.audit.rfc9162 import consistency_proof
from gateway.audit.witness import AddCheckpoint
from gateway.audit.witness_http import WitnessUnavailable, add_checkpoint, latest
from gateway.errors import GatewayError
from gateway.files import atomic_write

log = logging.getLogger("permitgw.witness")


class WitnessConfigError(GatewayError):
    """witnesses.toml is unreadable, or a witness given to `witness add` is not valid."""


@dataclass(frozen=True)
class WitnessRef:
    name: str
    verifier_key: str
    url: str


def config_file(root: Path) -> Path:
    return root / "witnesses.toml"


def anchor_file(root: Path, name: str) -> Path:
    return root / "witnessed" / (name.replace("/", "_") + ".checkpoint")


def load(root: Path) -> list[WitnessRef]:
    path = config_file(root)
    if not path.is_file():
        return []
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
        refs = [WitnessRef(parse_cosigner_key(w["verifier_key"])[0], w["verifier_key"], w["url"])
                for w in raw.get("witness", [])]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, NoteError) as exc:
        raise WitnessConfigError(f"{path}: {exc}") from exc
    return refs


def add(root: Path, verifier_key: str, url: str) -> WitnessRef:
    """Record a witness (replacing one of the same name); returns it."""
    try:
        name = parse_cosigner_key(verifier_key)[0]
    except NoteError as exc:
        raise WitnessConfigError(f"--verifier-key: {exc}") from exc
    host, _, port = url.removeprefix("http://").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise WitnessConfigError(f"--url {url!r}: expected HOST:PORT")
    refs = [w for w in load(root) if w.name != name] + [WitnessRef(name, verifier_key, url)]
    text = "# Witnesses this gateway submits every checkpoint to (`permitgw witness add`).\n" + "".join(
        f"\n[[witness]]\nverifier_key = {json.dumps(w.verifier_key)}\nurl = {json.dumps(w.url)}\n" for w in refs)
    atomic_write(config_file(root), text.encode("utf-8"), mode=0o644, overwrite=True)
    return refs[-1]


def witnessed_by(note: bytes | str, log_verifier: str, witness_keys: list[str]) -> list[str]:
    """The names of the witnesses (among `witness_keys`) whose cosignature on the note verifies."""
    names = []
    for key in witness_keys:
        try:
            verify_cosigned(note, log_verifier, key)
        except NoteError:
            continue
        names.append(parse_cosigner_key(key)[0])
    return names


def local_anchor(root: Path, ref: WitnessRef, log_verifier: str) -> tuple[Checkpoint, bytes] | None:
    """The latest checkpoint `ref` cosigned, as this gateway last saved it (None if there is none)."""
    path = anchor_file(root, ref.name)
    if not path.is_file():
        return None
    note = path.read_bytes()
    try:
        return verify_cosigned(note, log_verifier, ref.verifier_key)[0], note
    except NoteError as exc:
        raise WitnessConfigError(f"{path}: not a checkpoint cosigned by {ref.name} ({exc})") from exc


def remote_anchor(ref: WitnessRef, origin: str, log_verifier: str) -> tuple[Checkpoint, bytes] | None:
    """Ask the witness itself for its latest cosigned checkpoint. Raises WitnessUnavailable."""
    note = latest(ref.url, origin)
    if note is None:
        return None
    try:
        return verify_cosigned(note, log_verifier, ref.verifier_key)[0], note
    except NoteError as exc:
        raise WitnessUnavailable(f"witness {ref.name} answered a note that does not verify ({exc})") from exc


class Submitter:
    """Submits the newest signed checkpoint to every witness, off the request path, and keeps the cosignatures."""

    def __init__(self, root: Path, refs: list[WitnessRef], log_verifier: str, store: LogStore,
                 retry_seconds: float = 1.0, on_cosigned: Callable[[str, Checkpoint], None] | None = None) -> None:
        self._root, self._refs, self._verifier, self._store = root, refs, log_verifier, store
        self._cosigned: tuple[int, bytes] | None = None  # the newest note with every cosignature gathered so far
        self._retry = retry_seconds
        self._on_cosigned = on_cosigned
        self._latest: bytes | None = None
        self._witnessed: dict[str, int] = {}
        self._complaint: dict[str, str] = {}  # the last problem logged per witness: said once, not per batch
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="witness-submit", daemon=True)
        for ref in refs:
            try:
                anchor = local_anchor(root, ref, log_verifier)
            except WitnessConfigError:
                anchor = None
            self._witnessed[ref.name] = anchor[0].size if anchor else -1  # -1: ask the witness (409 says)
        if refs:
            self._thread.start()

    def submit(self, note: bytes) -> None:
        self._latest = note
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """Try once more to have the last checkpoint witnessed, then stop."""
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait(self._retry)
            self._wake.clear()
            note = self._latest
            if note is not None:
                for ref in self._refs:
                    try:
                        self._submit_one(ref, note)
                    except Exception:  # one witness failing never stops the others, nor the gateway
                        log.exception("submitting a checkpoint to witness %s failed", ref.name)
            if self._stopping and note is self._latest:  # stopping: only once the newest one was tried
                return

    def _submit_one(self, ref: WitnessRef, note: bytes) -> None:
        cp = verify_checkpoint(note, self._verifier)
        for _ in range(2):  # a 409 tells us the witness's size; the second try carries the right proof
            old = self._witnessed[ref.name]
            if old == cp.size:
                return
            base = max(old, 0)
            if base > cp.size and self._store.log_size() >= base:
                log.debug("witness %s already cosigned %d entries (a head another replica or worker signed); "
                          "not submitting the older head of %d", ref.name, base, cp.size)
                return
            if base > cp.size:
                log.error("witness %s has cosigned %d entries but this log signs %d: the log lost entries",
                          ref.name, base, cp.size)
                return
            request = AddCheckpoint(base, tuple(consistency_proof(base, cp.size, self._store)), note)
            try:
                status, body = add_checkpoint(ref.url, request)
            except WitnessUnavailable as exc:
                self._complain(ref, logging.WARNING, f"{exc}; retrying every {self._retry:g} s")
                return
            if status == 200:
                cosigned = add_cosignatures(note, body.decode("utf-8"))
                verify_cosigned(cosigned, self._verifier, ref.verifier_key)
                path = anchor_file(self._root, ref.name)
                path.parent.mkdir(mode=0o700, exist_ok=True)
                atomic_write(path, cosigned, mode=0o644, overwrite=True)  # outside the database: the anchor
                self._witnessed[ref.name] = cp.size
                gathered = self._cosigned[1] if self._cosigned and self._cosigned[0] == cp.size else note
                self._cosigned = (cp.size, add_cosignatures(gathered, body.decode("utf-8")))
                self._store.add_cosignatures(cp.size, self._cosigned[1].decode("utf-8"))  # beside the checkpoint
                if self._complaint.pop(ref.name, None) is not None:
                    log.warning("witness %s cosigns again (size %d)", ref.name, cp.size)
                if self._on_cosigned:
                    self._on_cosigned(ref.name, cp)
                return
            if status == 409 and body.strip().isdigit():
                self._witnessed[ref.name] = int(body.strip())
                continue
            self._complain(ref, logging.ERROR, f"witness {ref.name} refused the checkpoint: {status} "
                           f"{body.decode('utf-8', 'replace').strip()[:200]}")
            return

    def _complain(self, ref: WitnessRef, level: int, message: str) -> None:
        if self._complaint.get(ref.name) != message:
            self._complaint[ref.name] = message
            log.log(level, "%s", message)
