"""Which adapter reads which bureau's files: the one place a new bureau is added to the importer and CLI.

Each adapter module provides `FILE_GLOBS` and `parse(path) -> Iterator[Parsed | Reject]`.
"""
from __future__ import annotations

from types import ModuleType

from adapters import agri, education, housing, hrss, market, psb

BUREAUS: dict[str, ModuleType] = {
    "psb": psb,
    "hrss": hrss,
    "housing": housing,
    "market": market,
    "agri": agri,
    "education": education,
}
