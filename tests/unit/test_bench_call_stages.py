"""bench/call_stages.py wraps the gateway's functions by name: every stage it names must exist, or the benchmark
would stop (or, worse, measure nothing) after a rename. bench/ is not a package: the module is loaded from its file."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import script_module

ROOT = Path(__file__).resolve().parents[2]
stages = script_module(ROOT / "bench" / "call_stages.py", "bench_call_stages")


@pytest.mark.parametrize(("module", "owner", "name", "label"), stages.STAGES)
def test_every_stage_names_a_function_of_the_gateway(module: str, owner: str, name: str, label: str) -> None:
    found = importlib.import_module(module)
    holder = getattr(found, owner) if owner else found
    assert callable(getattr(holder, name)), label


def test_each_measured_method_has_its_handler_stage_and_labels_are_distinct() -> None:
    labels = [label for *_, label in stages.STAGES]
    assert len(labels) == len(set(labels))
    assert set(stages.METHODS.values()) <= set(labels)



class _Recorder:
    """Any method: noted, answering what AuditLog.append_leaf would (a sequence number and a leaf hash)."""

    def __init__(self) -> None:
        self.called: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def method(*args: Any, **kwargs: Any) -> Any:
            self.called.append(name)
            return 7, bytes(32)

        return method


class _NoAnomalies:
    def observe(self, entry: Any) -> list[Any]:
        return []


def test_the_hand_off_stage_wraps_what_gate_log_calls_for_every_entry() -> None:
    """Gate.log once called AuditLog.append and then append_leaf: a stage left on the old name measured nothing but
    alerts. Logging one call must go through the hand-off stage exactly once."""
    from gateway.audit.entry import Decision
    from gateway.server.gate import Call, Gate

    audit = _Recorder()
    gate = Gate.__new__(Gate)
    gate.audit, gate.anomalies, gate.metrics = audit, _NoAnomalies(), _Recorder()  # type: ignore[assignment]
    gate.log(Call(method="/permitgw.v1.PermitService/GetPermitStatus", policy_version="v1"), Decision.ALLOW, "VALID")
    handoff = [name for _, owner, name, label in stages.STAGES if owner == "AuditLog" and "hand-off" in label]
    assert len(handoff) == 1 and audit.called.count(handoff[0]) == 1
