"""Certificate revocation: DATA/certs/revoked.txt, one lower-case hex serial a line, and the store.

A running server re-reads the file when it changes (checked every 0.5 s) and the store every 0.5 s too (off the
request path: `poll_store`, called by the server's watcher thread), so a revoke bites within 5 s on every
replica, including those whose own file did not change. Revocations only accumulate: every serial is kept in
the store (table `revocations`: on PostgreSQL the whole cluster's truth), serials added to the file by hand are
copied there, and serials found in the store that the host's file lacks (revoked on another replica) are
written into it. A file that goes missing or loses a serial it held does not lift anything: the list reports
itself damaged (the server then refuses every call) until it is whole.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from gateway.errors import GatewayError
from gateway.identity.ca import ISSUED_LEDGER, atomic_write, issued_ledger_path, read_ledger

REVOKED_FILE = "revoked.txt"
CHECK_INTERVAL = 0.5  # seconds between stat() calls on the hot path, and between reads of the store
SERIAL_MAX_HEX = 40  # RFC 5280: at most 20 octets

_HEX_RE = re.compile(r"[0-9a-f]+")
_CANONICAL_CACHE: dict[str, str] = {}  # spelling → canonical; dict get/set are atomic
_CACHE_MAX = 65536
_log = logging.getLogger(__name__)

_Signature = tuple[int, int, int] | None  # (st_ino, st_mtime_ns, st_size); None: no file


class RevocationStore(Protocol):
    """The part of the store that keeps revocations (gateway/store/port.py)."""

    def revocations(self) -> frozenset[str]: ...
    def add_revocation(self, serial: str) -> None: ...


class InvalidSerial(GatewayError, ValueError):
    """Text that is not a certificate serial number in hex."""


class UnknownSerial(GatewayError, LookupError):
    """A serial this gateway's CA never issued (per DATA/certs/issued.jsonl)."""


def normalise_serial(text: str) -> str:
    """'  0x00AB:CD ' → 'abcd': the form of format(cert.serial_number, "x") used everywhere."""
    if not isinstance(text, str):
        raise InvalidSerial("serial must be text")
    s = text.strip().lower().replace(":", "")
    s = s.removeprefix("0x")
    if not s or not _HEX_RE.fullmatch(s):
        raise InvalidSerial(f"not a hexadecimal certificate serial: {text!r}")
    s = s.lstrip("0") or "0"
    if len(s) > SERIAL_MAX_HEX:
        raise InvalidSerial(f"serial longer than {SERIAL_MAX_HEX} hex digits: {text!r}")
    return s


def _canonical(serial_hex: str) -> str:
    """normalise_serial, memoised: the server asks about the same few serials again and again."""
    canonical = normalise_serial(serial_hex)
    if len(_CANONICAL_CACHE) >= _CACHE_MAX:
        _CANONICAL_CACHE.clear()  # bounded; callers pass serials of verified certificates anyway
    _CANONICAL_CACHE[serial_hex] = canonical
    return canonical


def known_serials(data_dir: Path) -> frozenset[str]:
    """Serials recorded in the issue ledger of this gateway's CA (DATA/certs/issued.jsonl)."""
    return _ledger_serials(issued_ledger_path(data_dir))


def _ledger_serials(ledger: Path) -> frozenset[str]:
    serials: set[str] = set()
    for record in read_ledger(ledger):
        with contextlib.suppress(InvalidSerial):
            serials.add(normalise_serial(record["serial"]))
    return frozenset(serials)


def _parse(text: str) -> frozenset[str]:
    """Serials of the file; blank lines, '#' comments and malformed lines are skipped (and logged)."""
    serials: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            serials.add(normalise_serial(entry))
        except InvalidSerial:
            _log.warning("%s line %d is not a serial; ignored", REVOKED_FILE, number)
    return frozenset(serials)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Serialise writers across processes (readers never lock)."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class RevocationList:
    """The revoked serials: DATA/certs/revoked.txt together with the store, and whatever was seen before.

    is_revoked() is lock-free: a frozenset is swapped atomically; at most once per check_interval
    one caller stat()s the file and re-reads it (and the store) if (inode, mtime_ns, size) changed.
    poll_store() re-reads the store (and the file) at most once per check_interval whatever the file does:
    the way a revocation made on another replica arrives; the server calls it from a thread of its own.
    `damage` says why the list cannot be trusted ("" when whole): the file is missing while revocations
    exist, or lacks serials it should hold: those it held before (as this process saw it or wrote it) and those
    the store had when this process first read it (a process cannot tell a file emptied while it was stopped
    from one that missed revocations made meanwhile, so both fail closed and say how to repair). A serial that
    appears in the store later was revoked elsewhere: it is in force at once and appended to the file.
    With `shared_store` (replicas on one PostgreSQL database) the store is the cluster's list and other replicas
    add to it while this one is stopped, so at start too a stored serial the file lacks is taken as revoked
    elsewhere and appended, not reported as damage (the refusal never depended on the file: the store has it).
    A serial the file held and lost, or a missing file while revocations exist, is damage in both modes.
    `on_damage` is told of every change of `damage`. `clock` (monotonic seconds) is injectable for tests.
    """

    def __init__(self, path: Path, *, store: RevocationStore | None = None, check_interval: float = CHECK_INTERVAL,
                 on_damage: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, shared_store: bool = False) -> None:
        self.path = Path(path)  # DATA/certs/revoked.txt; the issue ledger is its sibling issued.jsonl
        self._store = store
        self._shared = shared_store
        self._interval = check_interval
        self._clock = clock
        self.on_damage = on_damage
        self._refreshing = threading.Lock()
        self._serials: frozenset[str] = frozenset()  # every serial known revoked: only ever grows
        self._filed: frozenset[str] = frozenset()  # every serial the file held (read or written by us): grows
        self._signature: _Signature = None
        self._next_check = 0.0
        self._next_store_read = 0.0
        self._read_once = False  # whether the store has been read since this process started
        self.store_reads = 0  # how many times the store was read (tests watch the bound on it)
        self.damage = ""
        with self._refreshing:
            self._reload()

    # ------------------------------------------------------------ read path

    def is_revoked(self, serial_hex: str) -> bool:
        """True if revoked. Any spelling normalise_serial accepts; InvalidSerial if not hex."""
        if self._clock() >= self._next_check:
            self._maybe_refresh()
        canonical = _CANONICAL_CACHE.get(serial_hex)
        if canonical is None:
            canonical = _canonical(serial_hex)
        return canonical in self._serials

    def serials(self) -> frozenset[str]:
        """The current set (refreshed if due)."""
        if self._clock() >= self._next_check:
            self._maybe_refresh()
        return self._serials

    def whole(self) -> str:
        """"" if the list can be trusted, else why not (refreshed if due)."""
        if self._clock() >= self._next_check:
            self._maybe_refresh()
        return self.damage

    def __len__(self) -> int:
        return len(self.serials())

    def _maybe_refresh(self) -> None:
        if not self._refreshing.acquire(blocking=False):
            return  # another thread is at it; answer from the current set
        try:
            self._next_check = self._clock() + self._interval
            if self._stat() != self._signature:
                self._reload()
        finally:
            self._refreshing.release()

    def poll_store(self) -> bool:
        """Re-read the store (and the file) if check_interval has passed since the last read: revocations made
        on other replicas, whose files this host does not see. Meant for a thread of its own, never a request:
        a slow database delays only it. True if it read."""
        if self._store is None or self._clock() < self._next_store_read:
            return False
        with self._refreshing:
            self._reload()
        return True

    def _stat(self) -> _Signature:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read_file(self) -> tuple[frozenset[str], _Signature] | None:
        """The file's serials and signature from one open file; (∅, None) if missing; None if unreadable."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return frozenset(), None
        except OSError as exc:
            _log.error("cannot read %s (%s); keeping %d known revocations", self.path, exc, len(self._serials))
            return None
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            text = fh.read().decode("utf-8", errors="replace")
        return _parse(text), (st.st_ino, st.st_mtime_ns, st.st_size)

    def _reload(self) -> None:
        """Read the file and the store; copy hand-added serials to the store and serials revoked elsewhere to the
        file; say whether the file is whole. Caller holds self._refreshing, so the set and its signature always
        belong together."""
        read = self._read_file()
        if read is None:
            return
        in_file, signature = read
        stored: frozenset[str] = frozenset()
        if self._store is not None:
            self._next_store_read = self._clock() + self._interval
            self.store_reads += 1
            try:
                stored = self._store.revocations()
                for serial in sorted(in_file - stored):  # revoked by hand in the file: keep it for good
                    self._store.add_revocation(serial)
            except Exception as exc:  # the store is down: keep what is known, try again at the next check
                _log.error("cannot read revocations from the store (%s); keeping %d known", exc, len(self._serials))
                return
        self._serials = self._serials | stored | in_file  # in force at once; one reference assignment (atomic)
        if signature is None and not self._serials and self._store is not None and self._create_empty():
            read = self._read_file()  # nothing revoked yet: from now on the file exists, and its loss is seen
            if read is None:
                return
            in_file, signature = read
        if not self._read_once:  # at start every stored serial belongs in the file: an emptied file is noticed
            self._filed = self._filed if self._shared else self._filed | stored  # (shared: revoked elsewhere)
            self._read_once = True
        if signature is not None:
            elsewhere = stored - in_file - self._filed  # revoked on another replica: this host's copy catches up
            if elsewhere and self._append(elsewhere):
                read = self._read_file()
                if read is None:
                    return
                in_file, signature = read
            self._filed = self._filed | in_file
        known = self._serials
        lacking = self._filed - in_file
        if signature is None and known:
            damage = f"{self.path} is missing; {len(known)} revoked certificate(s) would be accepted again"
        elif lacking:
            damage = (f"{self.path} lacks {len(lacking)} of {len(known)} revoked serials (e.g. {min(lacking)}); "
                      f"restore it, or rewrite it from the database with `permitgw cert revoke --serial "
                      f"{min(lacking)}`")
        else:
            damage = ""
        self._signature = signature
        if damage != self.damage:
            self.damage = damage
            if self.on_damage is not None:
                self.on_damage(damage)

    # ------------------------------------------------------------ write path

    def _create_empty(self) -> bool:
        """An empty file where there is none and nothing is revoked (a new gateway, or a replica's fresh copy of
        its directory), so that a later loss of the file is told apart from a file never made."""
        try:
            with _exclusive(self.path.with_name(REVOKED_FILE + ".lock")):
                if not self.path.exists():
                    atomic_write(self.path, b"", mode=0o600, overwrite=False)
        except (OSError, GatewayError) as exc:
            _log.error("cannot create %s (%s)", self.path, exc)
            return False
        return True

    def _append(self, serials: frozenset[str]) -> bool:
        """Add serials to the existing file (under the writers' lock; never re-creating a file that went missing,
        which must stay reported). False, logged, if it cannot be written: the serials are in force anyway."""
        try:
            with _exclusive(self.path.with_name(REVOKED_FILE + ".lock")):
                current = self.path.read_text(encoding="utf-8")
                missing = sorted(serials - _parse(current))
                if missing:
                    if current and not current.endswith("\n"):
                        current += "\n"
                    atomic_write(self.path, (current + "".join(f"{s}\n" for s in missing)).encode(), mode=0o600,
                                 overwrite=True)
        except OSError as exc:  # FileNotFoundError included: a file gone missing is damage, reported as such
            _log.error("cannot add %d serial(s) revoked elsewhere to %s (%s); they are refused all the same",
                       len(serials), self.path, exc)
            return False
        return True

    def revoke(self, serial_hex: str, *, require_issued: bool = True) -> None:
        """Add a serial (idempotent). InvalidSerial if not hex; UnknownSerial if this CA never issued
        it (unless require_issued=False). The serial goes to the store first, then the file is rewritten
        with every known serial (which also repairs a damaged file); readers see old or new."""
        serial = normalise_serial(serial_hex)
        if require_issued and serial not in _ledger_serials(self.path.with_name(ISSUED_LEDGER)):
            raise UnknownSerial(f"serial {serial} was never issued by this gateway's CA "
                                f"(not in {self.path.with_name(ISSUED_LEDGER)})")
        if self._store is not None:
            self._store.add_revocation(serial)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _exclusive(self.path.with_name(REVOKED_FILE + ".lock")):
            try:
                current = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                current = ""
            have = _parse(current)
            stored = self._store.revocations() if self._store is not None else frozenset()
            missing = sorted((stored | self._serials | {serial}) - have)
            if missing:
                if current and not current.endswith("\n"):
                    current += "\n"
                atomic_write(self.path, (current + "".join(f"{s}\n" for s in missing)).encode(), mode=0o600,
                             overwrite=True)
        with self._refreshing:  # this instance sees its own revoke at once
            self._reload()
