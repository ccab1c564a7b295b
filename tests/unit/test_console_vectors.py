"""The browser proof vectors stay the project's truth: regenerated from the log's own code, they equal the file.

tests/vectors/console_proofs.json drives the browser test of gateway/console/static/verify.js. If the entry
encoding, the Merkle tree or the checkpoint format changes, the generator's output changes and this test says to
re-run tools/console_vectors.py. The Python verifiers must also agree with every case the browser accepts, and
reject the lies the browser must catch in the proof or the signature.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gateway.audit.checkpoint import NoteError, verify_checkpoint
from gateway.audit.rfc9162 import leaf_hash, verify_inclusion
from tests.helpers import script_module

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "console_proofs.json"
Case = dict[str, Any]  # one case of the parsed JSON file


def generator() -> ModuleType:
    return script_module(ROOT / "tools" / "console_vectors.py", "console_vectors")


def cases() -> list[Case]:
    found: list[Case] = json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]
    return found


def test_committed_vectors_are_what_the_generator_makes() -> None:
    assert generator().render() == VECTORS.read_text(encoding="utf-8"), (
        "tests/vectors/console_proofs.json is stale: run `python tools/console_vectors.py`")


def test_every_required_situation_is_covered() -> None:
    names = {str(c["name"]) for c in cases()}
    sizes = {c["proof_data"]["size"] for c in cases() if c["expect"]["outcome"] == "ok"}
    assert {1, 2, 3, 7, 8, 100} <= sizes
    for needed in ("altered entry byte", "altered field value shown in the page", "wrong proof element",
                   "proof too short", "proof too long", "wrong index (same path length)",
                   "checkpoint signed by another key", "pinned key's ID does not match", "altered root in the note",
                   "wrong origin", "size mismatch", "malformed base64 entry", "malformed base64 signature",
                   "no key pinned", "valid non-ASCII text (size 7 index 1)", "valid subjects (size 7 index 2)"):
        assert needed in names


def _python_verdict(case: Case) -> bool:
    """What gateway.audit's own verifiers say about the proof and signature of a case."""
    data = case["proof_data"]
    key = case["pinned_key"]
    try:
        cp = verify_checkpoint(data["checkpoint"], str(key), origin=data["origin"])
        entry = base64.b64decode(data["entry"], validate=True)
    except (NoteError, ValueError):
        return False
    proof = [bytes.fromhex(p) for p in data["proof"]] if all(
        isinstance(p, str) and len(p) == 64 and all(ch in "0123456789abcdef" for ch in p) for p in data["proof"]
    ) else None
    return (proof is not None and cp.size == data["size"]
            and verify_inclusion(leaf_hash(entry), data["index"], data["size"], proof, cp.root))


@pytest.mark.parametrize("case", [c for c in cases() if c["pinned_key"] is not None], ids=lambda c: str(c["name"]))
def test_python_agrees_with_the_expected_outcome(case: Case) -> None:
    expect = case["expect"]
    if expect["step"] == "fields":  # the proof is sound; only the page lies about what it shows
        assert _python_verdict(case)
        entry = json.loads(base64.b64decode(case["proof_data"]["entry"]))
        shown = {k: generator().shown(v) for k, v in entry.items()}
        assert shown != case["fields"]
    else:
        assert _python_verdict(case) == (expect["outcome"] == "ok")
