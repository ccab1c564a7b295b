"""A reason behind a decision: a rule ID (R-EMP-1, S-3 …) or a reason code of docs/domain.md, and a message.

Messages are written for officials and never contain identity numbers or names.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    message: str
