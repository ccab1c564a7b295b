"""The bureau contract: what an adapter gives the importer, as one typed value per bureau.

Each bureau module provides `BUREAU`, a Bureau: its name, and each kind of file it sends (file-name pattern, the
columns it must have, how one row becomes canonical records). adapters/registry.py maps names to these values;
the importer and `permitgw import --bureau` know bureaus only through them.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from adapters.reading import Parsed, Reject, RowParser, StrPath, UnreadableFile, file_columns, iter_rows, parse_file


@dataclass(frozen=True, slots=True)
class FileKind:
    """One kind of file a bureau sends.

    `glob` is its file-name pattern, a prefix and `*` (`sbjf_*`); `required` the columns a CSV file of it must
    have. A bureau sending several kinds also names, per kind, a `marker` column only that kind has and a
    `label` saying what the file holds, so a file whose name fits no pattern is still recognised, or refused
    with a message that says what was expected.
    """

    glob: str
    parse_row: RowParser
    required: tuple[str, ...]
    marker: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        if not self.glob.endswith("*") or "*" in self.glob[:-1]:
            raise ValueError(f"file kind {self.glob!r}: the pattern must be a prefix followed by one *")

    @property
    def prefix(self) -> str:
        """The start of a file name of this kind, lower-case (names are matched in any case)."""
        return self.glob[:-1].lower()


@dataclass(frozen=True, slots=True)
class Bureau:
    """A bureau the importer reads: `name` is its registry key; `title` names it in messages ("an HRSS")."""

    name: str
    kinds: tuple[FileKind, ...]
    title: str = ""

    def __post_init__(self) -> None:
        if not self.kinds:
            raise ValueError(f"bureau {self.name!r}: no file kinds")
        if len(self.kinds) > 1 and not (self.title and all(k.marker and k.label for k in self.kinds)):
            raise ValueError(f"bureau {self.name!r}: several file kinds need a title and a marker and label each")

    @property
    def file_globs(self) -> tuple[str, ...]:
        return tuple(k.glob for k in self.kinds)

    def parse(self, path: StrPath) -> Iterator[Parsed | Reject]:
        """One Parsed or Reject per data line, in file order; raises UnreadableFile for a file that cannot be read.

        With one kind every file is read as that kind; with several, the kind is chosen by file-name prefix (any
        case), failing that by its marker column.
        """
        kind = self.kinds[0] if len(self.kinds) == 1 else self._kind_of(path)
        return parse_file(path, kind.parse_row, kind.required)

    def _kind_of(self, path: StrPath) -> FileKind:
        name = Path(path).name
        chosen = next((k for k in self.kinds if name.lower().startswith(k.prefix)), None)
        if chosen is None:
            columns = _first_columns(path)
            chosen = next((k for k in self.kinds if k.marker in columns), None)
        if chosen is None:
            prefixes = " nor ".join(k.prefix for k in self.kinds)
            markers = " nor ".join(f"a {k.marker} ({k.label})" for k in self.kinds)
            raise UnreadableFile(f"{name}: not {self.title} file: the name starts with neither {prefixes}, "
                                 f"and there is neither {markers} column")
        return chosen


def _first_columns(path: StrPath) -> tuple[str, ...]:
    """The CSV header, or for JSON Lines the field names of the first readable object."""
    columns = file_columns(path)
    if columns is not None:
        return columns
    for _, row in iter_rows(path):
        if isinstance(row, dict):
            return tuple(row)
    return ()
