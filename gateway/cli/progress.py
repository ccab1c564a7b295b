"""A one-line terminal progress bar for long imports: rows read, rows per second, ETA when known.

Written to stderr only when it is a terminal; `--json` runs print no bar.
"""
from __future__ import annotations

import time
from typing import Protocol, TextIO


class _Counts(Protocol):
    read: int
    accepted: int
    rejected: int
    duplicates: int


class Progress:
    def __init__(self, out: TextIO, total: int | None = None) -> None:
        self.out, self.total, self.start, self._last = out, total, time.monotonic(), 0.0

    def update(self, counts: _Counts, *, force: bool = False) -> None:
        now = time.monotonic()
        if now - self._last < 0.2 and not force:
            return
        self._last = now
        rate = counts.read / max(now - self.start, 1e-9)
        line = (f"\r{counts.read:>10,} rows  {rate:>9,.0f} rows/s  "
                f"accepted {counts.accepted:,}  rejected {counts.rejected:,}")
        if self.total:
            share = min(counts.read / self.total, 1.0)
            filled = int(share * 24)
            eta = max(self.total - counts.read, 0) / rate if rate else 0
            line = f"\r[{'#' * filled}{'.' * (24 - filled)}] {share:4.0%}" + line[1:] + f"  ETA {eta:,.0f} s"
        self.out.write(line)
        self.out.flush()

    def done(self) -> None:
        self.out.write("\n")
        self.out.flush()
