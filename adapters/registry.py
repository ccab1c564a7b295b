"""Which adapter reads which bureau's files: the one place a new bureau is added to the importer and CLI.

A typed map from a bureau's name to the Bureau its module provides (adapters/contract.py).
"""
from __future__ import annotations

from adapters import agri, education, housing, hrss, market, psb
from adapters.contract import Bureau

BUREAUS: dict[str, Bureau] = {b.name: b for b in (psb.BUREAU, hrss.BUREAU, housing.BUREAU, market.BUREAU,
                                                  agri.BUREAU, education.BUREAU)}
