"""Test vectors for the console's in-browser proof check (gateway/console/static/verify.js), made by the log's own code.

Each case is what an Entry page would carry (#proof-data, the cells marked data-entry-field, the key the officer
pinned) and what verify.js must conclude: outcome ok / failed / no-key, and for a failure the step and the reason.
The valid cases come from gateway.audit (MemoryTree, Checkpoint, sign_checkpoint, AccessEntry.canonical_bytes)
with a fixed Ed25519 key, so the browser is tested against the same bytes the gateway writes; the negative cases
are each one lie a server could tell. tests/unit/test_console_vectors.py fails when this output and the committed
tests/vectors/console_proofs.json differ.

    python tools/console_vectors.py            # rewrite tests/vectors/console_proofs.json
    python tools/console_vectors.py --check    # exit 1 if the committed file is stale
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import sys
from dataclasses import replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.checkpoint import Checkpoint, key_id, sign_checkpoint, sign_note, verifier_key
from gateway.audit.entry import AccessEntry
from gateway.audit.rfc9162 import MemoryTree, leaf_hash

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "console_proofs.json"
ORIGIN = "permitgw.ningbo/0c0ffee0c0ffee00"
TREE_SIZES = (1, 2, 3, 7, 8, 100)
NON_ASCII_INDEX = 1  # in each tree, this entry's organisation and reason are Chinese text
SUBJECTS_INDEX = 2  # …and this one names a child's guardians in `subjects`

Json = dict[str, object]


def fixed_key(label: str) -> Ed25519PrivateKey:
    """An Ed25519 key from a fixed seed: Ed25519 signatures are deterministic, so the vectors are too."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"permitgw console vectors: {label}".encode()).digest())


LOG_KEY = fixed_key("log")
OTHER_KEY = fixed_key("another log")


def entry(i: int) -> AccessEntry:
    """The i-th entry of the synthetic log: ordinary calls, one with Chinese text and one about several people."""
    base = AccessEntry(
        time=f"2026-06-15T04:{i // 60 % 60:02d}:{i % 60:02d}.{i:06d}Z",
        principal="police/330203/PSB-330203",
        serial=f"{0x1000 + i:x}",
        role="police",
        org="PSB-330203",
        district="330203",
        method="/permitgw.v1.Permit/GetPermitStatus",
        purpose="permit-check",
        case_id=f"CASE-{i:04d}",
        operator_id=f"op-{i % 5}",
        subject=hashlib.sha256(f"person {i}".encode()).hexdigest(),
        decision="allow" if i % 4 else "deny",
        reason="OK" if i % 4 else "POLICY_DENIED",
        policy_version="2026.06.1",
        seq=i + 1,
    )
    if i == NON_ASCII_INDEX:
        base = replace(base, org="宁波市公安局海曙分局", reason="规则 R-3：居住证——核验", case_id="案-0001")
    if i == SUBJECTS_INDEX:
        others = tuple(hashlib.sha256(f"guardian {i} {k}".encode()).hexdigest() for k in (1, 2))
        base = replace(base, method="/permitgw.v1.Permit/GetGuardians", subjects=others)
    return base


def shown(value: object) -> str:
    """How an Entry page shows a value of the proven entry in its data-entry-field cell (as verify.js expects)."""
    if isinstance(value, list):
        return ", ".join(shown(v) for v in value)
    return "" if value is None else str(value)


def page_fields(e: AccessEntry) -> dict[str, str]:
    """Every key of the canonical JSON and the text its cell shows."""
    return {k: shown(v) for k, v in json.loads(e.canonical_bytes()).items()}


def proof_page(size: int, index: int) -> tuple[Json, dict[str, str]]:
    """#proof-data and the shown fields for leaf `index` of the synthetic log at `size`, signed by LOG_KEY."""
    entries = [entry(i) for i in range(size)]
    tree = MemoryTree(leaf_hash(e.canonical_bytes()) for e in entries)
    note = sign_checkpoint(Checkpoint(ORIGIN, size, tree.root()), ORIGIN, LOG_KEY).decode("utf-8")
    data: Json = {
        "entry": base64.b64encode(entries[index].canonical_bytes()).decode("ascii"),
        "index": index,
        "size": size,
        "proof": [p.hex() for p in tree.inclusion_proof(index)],
        "checkpoint": note,
        "origin": ORIGIN,
    }
    return data, page_fields(entries[index])


def case(name: str, data: Json, fields: dict[str, str], outcome: str, step: str | None = None,
         reason: str | None = None, pinned: str | None = "log") -> Json:
    keys = {"log": verifier_key(ORIGIN, LOG_KEY.public_key())}
    return {
        "name": name,
        "pinned_key": keys.get(pinned, pinned) if pinned is not None else None,
        "proof_data": data,
        "fields": fields,
        "expect": {"outcome": outcome, "step": step, "reason": reason},
    }


def valid_cases() -> list[Json]:
    cases = []
    for size in TREE_SIZES:
        for index in sorted({0, size // 2, size - 1}):
            data, fields = proof_page(size, index)
            cases.append(case(f"valid size {size} index {index}", data, fields, "ok"))
    for index, what in ((NON_ASCII_INDEX, "non-ASCII text"), (SUBJECTS_INDEX, "subjects")):
        data, fields = proof_page(7, index)
        cases.append(case(f"valid {what} (size 7 index {index})", data, fields, "ok"))
    return cases


def _with_note(data: Json, note: str) -> Json:
    out = copy.deepcopy(data)
    out["checkpoint"] = note
    return out


def negative_cases() -> list[Json]:
    data, fields = proof_page(8, 3)
    size8_root = MemoryTree(leaf_hash(entry(i).canonical_bytes()) for i in range(8)).root()
    cases: list[Json] = []

    def neg(name: str, step: str, reason: str, d: Json | None = None, f: dict[str, str] | None = None,
            pinned: str | None = "log") -> None:
        cases.append(case(name, d if d is not None else data, f if f is not None else fields, "failed", step,
                          reason, pinned))

    entry_bytes = bytearray(base64.b64decode(str(data["entry"])))
    at = entry_bytes.index(b"CASE-0003") + len("CASE-000")
    entry_bytes[at] = ord("4")  # still valid JSON with the same keys: only the hash can tell
    neg("altered entry byte", "root", "root-mismatch",
        {**data, "entry": base64.b64encode(bytes(entry_bytes)).decode("ascii")})
    neg("altered field value shown in the page", "fields", "field-mismatch", f={**fields, "case_id": "CASE-0004"})
    neg("page shows a field the entry does not have", "fields", "field-mismatch", f={**fields, "seq": "4"})
    hashes = data["proof"]
    assert isinstance(hashes, list)
    proof = [str(p) for p in hashes]
    wrong = [*proof[:1], hashlib.sha256(b"not a node").hexdigest(), *proof[2:]]
    neg("wrong proof element", "root", "root-mismatch", {**data, "proof": wrong})
    neg("proof too short", "path", "proof-length", {**data, "proof": proof[:-1]})
    neg("proof too long", "path", "proof-length", {**data, "proof": [*proof, proof[-1]]})
    neg("wrong index (same path length)", "root", "root-mismatch", {**data, "index": 4})
    neg("index beyond the tree", "path", "proof-length", {**data, "index": 8})
    neg("proof element not hex", "path", "proof-malformed", {**data, "proof": [proof[0][:-1] + "g", *proof[1:]]})

    other_note = sign_checkpoint(Checkpoint(ORIGIN, 8, size8_root), ORIGIN, OTHER_KEY).decode("utf-8")
    neg("checkpoint signed by another key", "signature", "no-signature", _with_note(data, other_note))
    body = Checkpoint(ORIGIN, 8, size8_root).body()
    forged_sig = base64.b64encode(key_id(ORIGIN, LOG_KEY.public_key()).to_bytes(4, "big") + OTHER_KEY.sign(body))
    forged = body.decode() + "\n\u2014 " + ORIGIN + " " + forged_sig.decode("ascii") + "\n"
    neg("another key's signature under the pinned key's ID", "signature", "bad-signature", _with_note(data, forged))
    good_key = verifier_key(ORIGIN, LOG_KEY.public_key())
    name, kid, material = good_key.split("+", 2)
    bad_id = f"{(int(kid, 16) ^ 1):08x}"
    neg("pinned key's ID does not match", "key", "key-id", pinned=f"{name}+{bad_id}+{material}")
    neg("pinned key is not a verifier key", "key", "key-malformed", pinned="not a key")
    neg("pinned key base64 malformed", "key", "key-malformed", pinned=f"{name}+{kid}+{material[:-2]}*=")
    note = str(data["checkpoint"])
    root_line = base64.b64encode(size8_root).decode("ascii")
    altered_root = base64.b64encode(hashlib.sha256(b"another root").digest()).decode("ascii")
    neg("altered root in the note", "signature", "bad-signature",
        _with_note(data, note.replace(root_line, altered_root)))
    neg("wrong origin", "checkpoint", "origin", {**data, "origin": "permitgw.ningbo/ffffffffffffffff"})
    neg("size mismatch", "checkpoint", "size", {**data, "size": 9})
    neg("malformed base64 entry", "leaf", "entry-malformed", {**data, "entry": str(data["entry"])[:-3] + "!=="})
    sig_line = note[note.rindex("\u2014 "):]
    neg("malformed base64 signature", "signature", "note-malformed",
        _with_note(data, note.replace(sig_line, sig_line[:-3] + "#=\n")))
    neg("note without a signature block", "signature", "note-malformed", _with_note(data, body.decode()))
    unsigned_other = sign_note(body, "someone-else", OTHER_KEY).decode("utf-8")
    neg("note signed only by an unknown key name", "signature", "no-signature", _with_note(data, unsigned_other))
    cases.append(case("no key pinned", data, fields, "no-key", pinned=None))
    return cases


def build() -> Json:
    return {
        "about": "Cases for gateway/console/static/verify.js; generated by tools/console_vectors.py, do not edit.",
        "origin": ORIGIN,
        "verifier_key": verifier_key(ORIGIN, LOG_KEY.public_key()),
        "cases": valid_cases() + negative_cases(),
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is stale: run python tools/console_vectors.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
