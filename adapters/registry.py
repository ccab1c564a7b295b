"""Which adapter reads which bureau's files: the one place a new bureau is added to the importer.

Each adapter module provides `FILE_GLOBS` and `parse(path) -> Iterator[Parsed | Reject]`.
"""
from __future__ import annotations

from types import ModuleType

from adapters import housing, hrss, psb

BUREAUS: dict[str, ModuleType] = {"psb": psb, "hrss": hrss, "housing": housing}
PLANNED = ("market", "agri", "education")  # ◆ DESIGN.md; being added in Stage 2
