"""Which adapter reads which bureau's files: the one place a new bureau is added to the importer.

Each adapter module provides `FILE_GLOB` and `parse(path) -> Iterator[Parsed | Reject]`.
"""
from __future__ import annotations

from types import ModuleType

from adapters import psb

BUREAUS: dict[str, ModuleType] = {"psb": psb}
PLANNED = ("hrss", "housing", "market", "agri", "education")  # ◆ DESIGN.md; adapters arrive in Stage 2
