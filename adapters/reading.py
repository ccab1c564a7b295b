"""Reading bureau files: encoding detection, streamed CSV / JSON Lines rows, and each row to Parsed or Reject.

One reader for messy exports (docs/bureau-files.md): a bad line or row is a Reject naming the field, never the value.
"""
from __future__ import annotations

import codecs
import csv
import json
import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import BinaryIO

from adapters.normalising import INVISIBLE, RowError, clean
from gateway.domain.records import Record
from gateway.errors import GatewayError

log = logging.getLogger(__name__)

StrPath = str | PathLike[str]

SNIFF_BYTES = 1 << 20  # encoding is decided on (at least) the first MiB, in whole lines
MAX_LINE_BYTES = 1 << 20  # a longer physical line is a reject, so memory stays bounded
MAX_RECORD_LINES = 20  # a quoted CSV field may span at most this many physical lines
JSON_SUFFIXES = frozenset({".jsonl", ".json"})
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_COLUMN_SHOWN = re.compile(r"[A-Z][A-Z0-9_.]{0,40}")


# --------------------------------------------------------------------------------------------------
# results and errors


class UnreadableFile(GatewayError):
    """A whole file that cannot be read (wrong encoding, no header, a required column missing)."""


@dataclass(frozen=True)
class Reject:
    """A row set aside, with its file, physical line number and a reason naming the field."""

    file: str
    line: int
    reason: str


@dataclass(frozen=True)
class Parsed:
    """The canonical records one row produced."""

    file: str
    line: int
    records: tuple[Record, ...]


@dataclass(frozen=True)
class BadLine:
    """What `iter_rows` yields instead of fields for a line it cannot read (bad encoding, bad CSV/JSON)."""

    reason: str


Row = dict[str, str]
RowParser = Callable[[Row], tuple[Record, ...]]


# --------------------------------------------------------------------------------------------------
# encoding detection


def _codec_label(encoding: str) -> str:
    return "GB18030" if encoding == "gb18030" else "UTF-8"


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _physical_lines(f: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(1-based line number, bytes with terminator) per line; None for a line longer than MAX_LINE_BYTES."""
    lineno = 0
    while raw := f.readline(MAX_LINE_BYTES + 1):
        lineno += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = f.readline(MAX_LINE_BYTES)
            yield lineno, None
        else:
            yield lineno, raw


def _sample(path: StrPath) -> Iterator[bytes]:
    """Whole lines from the start: at least SNIFF_BYTES, and on until one line is not plain ASCII."""
    seen = 0
    nonascii = False
    with open(path, "rb") as f:
        for _, raw in _physical_lines(f):
            if raw is None:
                continue
            yield raw
            seen += len(raw)
            nonascii = nonascii or not raw.isascii()
            if seen >= SNIFF_BYTES and nonascii:
                return


def _refuse_binary(name: str, index: int, raw: bytes) -> None:
    if index == 0 and raw.startswith(_UTF16_BOMS):
        raise UnreadableFile(f"{name}: UTF-16 is not accepted; send UTF-8 or GB18030")
    if b"\x00" in raw:
        raise UnreadableFile(f"{name}: contains NUL bytes (UTF-16 or binary?); send UTF-8 or GB18030")


def _votes(path: StrPath, name: str) -> tuple[bool, int, int, int]:
    """(UTF-8 BOM?, non-ASCII lines, how many of them decode as UTF-8, how many as GB18030)."""
    bom = False
    lines = utf8 = gb = 0
    for i, raw in enumerate(_sample(path)):
        _refuse_binary(name, i, raw)
        bom = bom or (i == 0 and raw.startswith(codecs.BOM_UTF8))
        if not raw.isascii():
            lines += 1
            utf8 += _decodes(raw, "utf-8")
            gb += _decodes(raw, "gb18030")
    return bom, lines, utf8, gb


def detect_encoding(path: StrPath) -> str:
    """'utf-8-sig', 'utf-8' or 'gb18030', decided by trial-decoding whole lines of the file's start.

    The codec that decodes most of the non-ASCII lines wins (UTF-8 first: GB18030 text is almost never
    valid UTF-8, the reverse is common), so one corrupt line stays a per-line reject. NUL bytes (UTF-16,
    binary), a start that neither codec mostly decodes, or a file that cannot be opened raise UnreadableFile.
    """
    name = Path(path).name
    try:
        bom, lines, utf8, gb = _votes(path, name)
    except OSError as exc:
        raise UnreadableFile(f"{name}: cannot be read ({type(exc).__name__})") from exc
    if 2 * utf8 >= lines:
        return "utf-8-sig" if bom else "utf-8"
    if 2 * gb >= lines and not bom:
        return "gb18030"
    raise UnreadableFile(f"{name}: neither UTF-8 nor GB18030")


# --------------------------------------------------------------------------------------------------
# streaming rows


def _decoded_lines(path: StrPath, encoding: str) -> Iterator[tuple[int, str | BadLine]]:
    """Each physical line decoded on its own, terminator removed; an undecodable line becomes a BadLine."""
    bad = BadLine(f"line is not valid {_codec_label(encoding)}")
    with open(path, "rb") as f:
        for lineno, raw in _physical_lines(f):
            if raw is None:
                yield lineno, BadLine(f"line is longer than {MAX_LINE_BYTES} bytes")
                continue
            try:
                yield lineno, raw.rstrip(b"\r\n").decode(encoding)
            except UnicodeDecodeError:
                yield lineno, bad


def _is_json(path: StrPath, encoding: str) -> bool:
    if Path(path).suffix.lower() in JSON_SUFFIXES:
        return True
    for _, text in _decoded_lines(path, encoding):
        if isinstance(text, str) and text.strip():
            return text.lstrip(" \t" + INVISIBLE).startswith("{")
    return False


# CSV quote states, as Python's csv module reads a record (non-strict)
_START, _FIELD, _QUOTED, _QUOTE_IN_QUOTED = range(4)


def _scan_quotes(text: str, state: int) -> int:
    """The csv quote state after reading `text`; _QUOTED at the end means the record goes on."""
    if '"' not in text:  # most lines: no quote changes nothing inside one, and the last character decides the rest
        if state == _QUOTED or not text:
            return state
        return _START if text[-1] == "," else _FIELD
    for ch in text:
        if state == _QUOTED:
            state = _QUOTE_IN_QUOTED if ch == '"' else _QUOTED
        elif ch == ",":
            state = _START
        elif state in (_START, _QUOTE_IN_QUOTED):
            state = _QUOTED if ch == '"' else _FIELD
    return state


def _split_csv(record: str) -> list[str] | BadLine:
    try:
        return next(csv.reader([record]))
    except (csv.Error, StopIteration):
        return BadLine("line is not valid CSV")


def _csv_records(lines: Iterator[tuple[int, str | BadLine]]) -> Iterator[tuple[int, list[str] | BadLine]]:
    """Logical CSV records (a quoted field may span lines), numbered by their first physical line.

    A quote left open for MAX_RECORD_LINES lines (or to the end) rejects its first line only; the lines
    it swallowed are read again, so none is lost.
    """
    pending: deque[tuple[int, str | BadLine]] = deque()

    def take() -> tuple[int, str | BadLine] | None:
        return pending.popleft() if pending else next(lines, None)

    while (item := take()) is not None:
        lineno, text = item
        if isinstance(text, BadLine):
            yield lineno, text
            continue
        if not text.strip():
            continue
        if '"' not in text and "\r" not in text and "\x00" not in text:  # most lines: csv.reader's fields exactly
            yield lineno, text.split(",")
            continue
        state = _scan_quotes(text, _START)
        extra: list[tuple[int, str]] = []
        while state == _QUOTED and len(extra) < MAX_RECORD_LINES:
            nxt = take()
            if nxt is None or isinstance(nxt[1], BadLine):
                if nxt is not None:
                    pending.appendleft(nxt)
                break
            extra.append((nxt[0], nxt[1]))
            state = _scan_quotes(nxt[1], _QUOTED)
        if state == _QUOTED:
            pending.extendleft(reversed(extra))
            yield lineno, BadLine("line is not valid CSV: unterminated quoted field")
            continue
        yield lineno, _split_csv("\n".join([text, *(t for _, t in extra)]))


def _column_label(key: str) -> str:
    """A header name safe to print: a first data row taken for a header must not leak its values."""
    return key if _COLUMN_SHOWN.fullmatch(key) else "(unnamed)"


def _normalise_header(name: str, values: list[str]) -> list[str]:
    keys = [clean(v).upper() for v in values]
    seen: set[str] = set()
    for key in keys:
        if key and key in seen:
            raise UnreadableFile(f"{name}: duplicate column {_column_label(key)}")
        seen.add(key)
    return keys


def _csv_header(path: StrPath, records: Iterator[tuple[int, list[str] | BadLine]]) -> list[str]:
    name = Path(path).name
    first = next(records, None)
    if first is None:
        raise UnreadableFile(f"{name}: empty file, no header row")
    lineno, values = first
    if isinstance(values, BadLine):
        raise UnreadableFile(f"{name}: header (line {lineno}) is unreadable: {values.reason}")
    return _normalise_header(name, values)


def _csv_rows(path: StrPath, encoding: str) -> Iterator[tuple[int, Row | BadLine]]:
    records = _csv_records(_decoded_lines(path, encoding))
    header = _csv_header(path, records)
    width, unnamed = len(header), "" in header  # a column without a name is not a field
    for lineno, values in records:
        if isinstance(values, BadLine):
            yield lineno, values
        elif len(values) != width:
            yield lineno, BadLine(f"line has {len(values)} fields, the header has {width}")
        elif unnamed:
            yield lineno, {k: v for k, v in zip(header, values, strict=True) if k}
        else:
            yield lineno, dict(zip(header, values))  # noqa: B905 — the widths are equal: checked just above


def _json_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _json_row(text: str) -> Row | BadLine:
    try:
        obj = json.loads(text.strip(" \t" + INVISIBLE))
    except (json.JSONDecodeError, RecursionError):
        return BadLine("line is not valid JSON")
    if not isinstance(obj, dict):
        return BadLine("line is not a JSON object")
    row: Row = {}
    for key, value in obj.items():
        k = clean(key).upper()
        if k in row:
            return BadLine(f"duplicate field {_column_label(k)}")
        row[k] = _json_text(value)
    return row


def _json_rows(path: StrPath, encoding: str) -> Iterator[tuple[int, Row | BadLine]]:
    for lineno, text in _decoded_lines(path, encoding):
        if isinstance(text, BadLine):
            yield lineno, text
        elif text.strip(" \t\r\n" + INVISIBLE):
            yield lineno, _json_row(text)


def _rows(path: StrPath, encoding: str, is_json: bool) -> Iterator[tuple[int, Row | BadLine]]:
    return _json_rows(path, encoding) if is_json else _csv_rows(path, encoding)


def iter_rows(path: StrPath) -> Iterator[tuple[int, Row | BadLine]]:
    """Stream (physical line number, fields) in constant memory; keys upper-cased and stripped.

    CSV with a header (line 1) or JSON Lines (by extension, or a first character `{`). Blank lines are
    skipped. A line that cannot be read yields a BadLine instead of fields, which parse_file rejects.
    Raises UnreadableFile (when iterated) for a file that cannot be read at all.
    """
    encoding = detect_encoding(path)
    yield from _rows(path, encoding, _is_json(path, encoding))


def _columns(path: StrPath, encoding: str) -> tuple[str, ...]:
    return tuple(_csv_header(path, _csv_records(_decoded_lines(path, encoding))))


def file_columns(path: StrPath) -> tuple[str, ...] | None:
    """The normalised header of a CSV file; None for JSON Lines, which has no header."""
    encoding = detect_encoding(path)
    return None if _is_json(path, encoding) else _columns(path, encoding)


# --------------------------------------------------------------------------------------------------
# driving a bureau's row parser


def _check_columns(path: StrPath, encoding: str, required_columns: Iterable[str]) -> None:
    columns = _columns(path, encoding)
    missing = [c.upper() for c in required_columns if c.upper() not in columns]
    if missing:
        raise UnreadableFile(f"{Path(path).name}: missing required column(s) {', '.join(missing)}")


def _parse_one(name: str, lineno: int, row: Row | BadLine, row_parser: RowParser) -> Parsed | Reject:
    if isinstance(row, BadLine):
        return Reject(name, lineno, row.reason)
    try:
        return Parsed(name, lineno, tuple(row_parser(row)))
    except RowError as exc:
        return Reject(name, lineno, str(exc))
    except Exception as exc:  # one bad row must not stop an import; the message may hold values
        log.warning("%s line %d: unexpected %s in row parser", name, lineno, type(exc).__name__)
        return Reject(name, lineno, f"unexpected error: {type(exc).__name__}")


def _drive(
    path: StrPath, rows: Iterator[tuple[int, Row | BadLine]], row_parser: RowParser
) -> Iterator[Parsed | Reject]:
    name = Path(path).name
    for lineno, row in rows:
        yield _parse_one(name, lineno, row, row_parser)


def parse_file(
    path: StrPath, row_parser: RowParser, required_columns: Iterable[str] = ()
) -> Iterator[Parsed | Reject]:
    """One Parsed or Reject per non-blank data line, in file order (duplicates are the importer's call).

    The file's encoding and (for CSV) its header and required columns are checked now, so an unreadable
    file raises UnreadableFile from this call rather than once the import has started. JSON Lines has no
    header: a missing field there is the row parser's "missing".
    """
    encoding = detect_encoding(path)
    is_json = _is_json(path, encoding)
    if not is_json:
        _check_columns(path, encoding, required_columns)
    return _drive(path, _rows(path, encoding, is_json), row_parser)
