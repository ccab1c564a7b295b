"""Shared test helpers: valid identity numbers built from their parts, and real bureau files on disk.

Adapters must be tested on bytes as bureaus send them, so files are written in an explicit encoding.
"""
from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest

from gateway.audit.entry import AccessEntry
from gateway.datadir import DataDir
from gateway.domain.idnumber import check_char
from gateway.store.port import Store
from gateway.store.sqlite import SqliteStore

FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


def make_id(region: str = "330203", birth: _dt.date = _dt.date(1990, 1, 1), seq: int = 123) -> str:
    """A valid 18-character identity number (odd seq = man, even = woman)."""
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + check_char(first17)


def make_legacy15(region: str = "330203", birth: _dt.date = _dt.date(1965, 7, 1), seq: int = 45) -> str:
    """A legacy 15-digit number (two-digit year, no check character); birth year must be 19xx."""
    assert 1900 <= birth.year <= 1999
    return f"{region}{birth:%y%m%d}{seq:03d}"


def upgrade15(legacy: str) -> str:
    """The 18-digit form of a legacy number per GB 11643 ('19' inserted, check character appended)."""
    first17 = legacy[:6] + "19" + legacy[6:]
    return first17 + check_char(first17)


def make_id_with_check(check: str, region: str = "330203", birth: _dt.date = _dt.date(1988, 8, 8)) -> str:
    """A valid number whose check character is `check` (e.g. 'X'), found by trying sequence numbers."""
    for seq in range(1000):
        candidate = make_id(region, birth, seq)
        if candidate[-1] == check:
            return candidate
    raise AssertionError(f"no sequence gives check character {check}")


def break_check(valid: str) -> str:
    """The same number with a wrong check character."""
    wrong = "0" if valid[-1] != "0" else "1"
    return valid[:-1] + wrong


def csv_line(values: Sequence[str]) -> str:
    """One CSV line; values holding a comma, quote or newline are quoted."""
    out = []
    for v in values:
        if any(c in v for c in ',"\n\r'):
            v = '"' + v.replace('"', '""') + '"'
        out.append(v)
    return ",".join(out)


def write_lines(path: Path, lines: Iterable[str | bytes], encoding: str = "utf-8", bom: bool = False) -> Path:
    """Write lines (str encoded with `encoding`, bytes as they are), each ended by CRLF as exports do."""
    data = bytearray(b"\xef\xbb\xbf" if bom else b"")
    for line in lines:
        data += line if isinstance(line, bytes) else line.encode(encoding)
        data += b"\r\n"
    path.write_bytes(bytes(data))
    return path


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    encoding: str = "utf-8",
    bom: bool = False,
) -> Path:
    return write_lines(path, [csv_line(header), *(csv_line(r) for r in rows)], encoding, bom)


def write_jsonl(path: Path, objects: Iterable[object]) -> Path:
    return write_lines(path, [json.dumps(o, ensure_ascii=False) for o in objects])


def wait_until(condition: Callable[[], object], what: str, seconds: float = 30.0, poll: float = 0.02) -> float:
    """Poll an observed condition until it holds; fail naming `what` after `seconds`. Returns the time taken.

    The one way tests wait: for something they can see happen, with a deadline generous enough for a slow,
    loaded machine — never a fixed sleep that guesses how long the thing takes."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, f"timed out after {seconds} s waiting for {what}"
        time.sleep(poll)  # polling interval, not a synchronisation point
    return time.monotonic() - start


def script_module(path: Path, name: str) -> ModuleType:
    """A script outside the package (bench/, tools/) loaded as module `name`, with its own directory on sys.path
    while it loads (as running it from there would) and registered in sys.modules (dataclasses look it up)."""
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(path.parent))


def log_entry(i: int) -> AccessEntry:
    """An allowed access-log entry, distinct for each i (its case id and subject)."""
    return AccessEntry("2026-11-21T00:00:00Z", "school/330203/x", "ab", "school", "x", "330203", "m", "p", f"c{i}",
                       "o", f"{i:064x}", "allow", "S-1", "v")


@contextmanager
def write_held_open(store: Store, deadline: float) -> Iterator[None]:
    """The store's writer inside a transaction (as through a COMMIT and its fsync) that has inserted revocation
    "0bad", for the body's duration; committed after it."""
    inside, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store._write("access_log") as sql:  # type: ignore[attr-defined]
            sql.run("INSERT INTO revocations (serial, time) VALUES (?, ?)", ("0bad", "2026-11-21T00:00:00Z"))
            inside.set()
            release.wait(deadline)

    holder = threading.Thread(target=writer)
    holder.start()
    try:
        assert inside.wait(deadline), "the writer never began its transaction"
        yield
    finally:
        release.set()
        holder.join(deadline)


@pytest.fixture(name="store")
def sqlite_store(data: DataDir) -> Iterator[SqliteStore]:
    """The fixture `store` (a module takes it with `store = helpers.sqlite_store`): the data directory's SQLite store,
    closed after the test."""
    opened = data.open_store()
    assert isinstance(opened, SqliteStore)
    yield opened
    opened.close()
