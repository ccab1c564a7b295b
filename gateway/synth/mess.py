"""The mess of real bureau exports, shared by the synthetic writers, with the counts an importer must match.

As psb.py does it (docs/bureau-files.md): a share of rows gets spaces, full-width digits, a lower-case x, mixed
date and month formats, legacy district 330204; a tenth of those a failing check digit; a tenth is written twice.
"""
from __future__ import annotations

import csv
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from gateway.synth.psb import corrupt_check_digit

# what a column holds, for the mess it may get
ID, IDS, DATE, MONTH, DISTRICT = "id", "ids", "date", "month", "district"
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")  # bureaus send UTF-8 (with or without BOM) or GB18030

Row = list[str]
BadRow = Callable[[Row, Row], None]


def file_rng(seed: int, name: str) -> random.Random:
    """A file's own random stream: a string seed is hashed with SHA-512, not Python's per-process hash."""
    return random.Random(f"{seed}:{name}")


def pick_encoding(seed: int, name: str, messy_rate: float) -> str:
    """UTF-8 for clean output; for messy output each file's encoding is drawn by seed and file name."""
    if not messy_rate:
        return "utf-8"
    return file_rng(seed, f"{name}:encoding").choice(ENCODINGS)


_FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def messy_id(pid: str, rng: random.Random) -> str:
    return rng.choice((pid, f"  {pid} ", pid.translate(_FULLWIDTH), pid.lower()))


def messy_date(iso: str, rng: random.Random) -> str:
    y, m, d = iso[:4], int(iso[5:7]), int(iso[8:10])
    return rng.choice((f"{y}{m:02d}{d:02d}", iso, f"{y}/{m}/{d}", f"{y}年{m}月{d}日"))


def messy_month(yyyymm: str, rng: random.Random) -> str:
    return yyyymm if rng.random() < 0.5 else f"{yyyymm[:4]}-{yyyymm[4:]}"


def messy_district(code: str, rng: random.Random) -> str:
    return "330204" if code == "330212" and rng.random() < 0.5 else code


_MESS: dict[str, Callable[[str, random.Random], str]] = {
    ID: messy_id, IDS: messy_id, DATE: messy_date, MONTH: messy_month, DISTRICT: messy_district}


def bad_subject(column: int) -> BadRow:
    """The usual bad row: the subject's identity number (from the clean row) fails its check digit."""

    def spoil(row: Row, clean: Row) -> None:
        row[column] = corrupt_check_digit(clean[column])

    return spoil


class Sink:
    """Writes clean rows, making a share of them messy, and counts rows, messy, duplicates and bad_id.

    Rows that need no CSV quoting are joined directly (csv.writer is slow on Chinese text); the rest go
    through csv.writer, so the file is exactly what csv.writer alone would write.
    """

    def __init__(self, f: TextIO, kinds: Sequence[str], rng: random.Random, rate: float, bad: BadRow) -> None:
        self._f = f
        self._csv = csv.writer(f)
        self._kinds = [(i, _MESS[k]) for i, k in enumerate(kinds) if k]
        self._rng = rng
        self._rate = rate
        self._bad = bad
        self.counts = {"rows": 0, "messy": 0, "duplicates": 0, "bad_id": 0}

    def put_header(self, columns: Sequence[str]) -> None:
        self._csv.writerow(columns)

    def _flush(self, lines: list[str]) -> None:
        if lines:
            lines.append("")
            self._f.write("\r\n".join(lines))

    def _write(self, rows: Sequence[Row]) -> None:
        lines: list[str] = []
        for row in rows:
            line = ",".join(row)
            if line.count(",") == len(row) - 1 and '"' not in line and "\n" not in line and "\r" not in line:
                lines.append(line)
            else:  # a field with a comma, quote or line break: csv.writer quotes it, in its place
                self._flush(lines)
                lines = []
                self._csv.writerow(row)
        self._flush(lines)

    def put(self, rows: Sequence[Row]) -> None:
        if not self._rate:
            self._write(rows)
            self.counts["rows"] += len(rows)
            return
        draw, rate = self._rng.random, self._rate
        out: list[Row] = []
        for row in rows:
            if draw() < rate:
                self._messy(row, out)
            else:
                out.append(row)
        self._write(out)
        self.counts["rows"] += len(out)

    def _messy(self, clean: Row, out: list[Row]) -> None:
        rng, counts = self._rng, self.counts
        row = list(clean)
        for i, mess in self._kinds:
            if row[i]:
                row[i] = mess(row[i], rng)
        bad = rng.random() < 0.1
        if bad:
            self._bad(row, clean)
        copies = 2 if rng.random() < 0.1 else 1
        out.extend([row] * copies)
        counts["messy"] += 1
        counts["bad_id"] += copies if bad else 0  # every copy of a bad row is a reject
        counts["duplicates"] += 0 if bad else copies - 1  # a repeated good row is a duplicate


@contextmanager
def sink(path: Path, columns: Sequence[str], kinds: Sequence[str], *, rng: random.Random, messy_rate: float,
         encoding: str, bad: BadRow) -> Iterator[Sink]:
    """Open `path`, write the header, and yield a Sink for the rows; the counts stay on the Sink."""
    if len(kinds) != len(columns):
        raise ValueError("one kind per column")
    with path.open("w", newline="", encoding=encoding) as f:
        out = Sink(f, kinds, rng, messy_rate, bad)
        out.put_header(columns)
        yield out
