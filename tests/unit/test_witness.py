"""The witness's decision, pure: state + request → cosign (with a valid c2sp cosignature) or refuse."""
from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.checkpoint import Checkpoint, sign_checkpoint, verifier_key
from gateway.audit.cosignature import add_cosignatures, cosigner_verifier_key, verify_cosigned
from gateway.audit.rfc9162 import MemoryTree, leaf_hash
from gateway.audit.witness import AddCheckpoint, Head, decide

ORIGIN = "permitgw.ningbo/test"
LOG_KEY = Ed25519PrivateKey.generate()
LOG_VKEY = verifier_key(ORIGIN, LOG_KEY.public_key())
W_KEY = Ed25519PrivateKey.generate()
W_NAME = "audit.ningbo/w1"
W_VKEY = cosigner_verifier_key(W_NAME, W_KEY.public_key())
LOGS = {ORIGIN: LOG_VKEY}


def tree(n: int, salt: str = "") -> MemoryTree:
    return MemoryTree(leaf_hash(f"{salt}{i}".encode()) for i in range(n))


def note(t: MemoryTree, size: int, key: Ed25519PrivateKey = LOG_KEY) -> bytes:
    return sign_checkpoint(Checkpoint(ORIGIN, size, t.root(size)), ORIGIN, key)


def ask(old: int, proof: list[bytes], n: bytes, heads: dict[str, Head]) -> tuple[int, bytes, Head | None]:
    a = decide(AddCheckpoint(old, tuple(proof), n).encode(), LOGS, heads, W_NAME, W_KEY, lambda: 1_700_000_000)
    return a.status, a.body, a.head


def test_first_checkpoint_is_cosigned_and_the_cosignature_verifies() -> None:
    t = tree(5)
    status, body, head = ask(0, [], note(t, 5), {})
    assert status == 200 and head is not None and head.size == 5
    cp, when = verify_cosigned(add_cosignatures(note(t, 5), body.decode()), LOG_VKEY, W_VKEY)
    assert (cp.size, when) == (5, 1_700_000_000)


def test_consistent_extension_is_cosigned() -> None:
    t = tree(9)
    _, _, head = ask(0, [], note(t, 5), {})
    status, _, new = ask(5, t.consistency_proof(5, 9), note(t, 9), {ORIGIN: head})  # type: ignore[dict-item]
    assert status == 200 and new is not None and new.size == 9


def test_a_rewritten_log_is_refused() -> None:
    honest, forged = tree(9), tree(9, salt="x")
    _, _, head = ask(0, [], note(honest, 5), {})
    status, _, new = ask(5, forged.consistency_proof(5, 9), note(forged, 9), {ORIGIN: head})  # type: ignore[dict-item]
    assert status == 422 and new is None


def test_a_smaller_or_stale_size_gets_409_with_the_witness_size() -> None:
    t = tree(9)
    _, _, head = ask(0, [], note(t, 9), {})
    status, body, new = ask(0, [], note(t, 5), {ORIGIN: head})  # type: ignore[dict-item]
    assert (status, body, new) == (409, b"9\n", None)


def test_a_checkpoint_not_signed_by_the_log_is_refused() -> None:
    status, _, head = ask(0, [], note(tree(3), 3, key=Ed25519PrivateKey.generate()), {})
    assert status == 403 and head is None


def test_an_unknown_log_and_garbage_are_refused() -> None:
    other = Ed25519PrivateKey.generate()
    stranger = sign_checkpoint(Checkpoint("someone/else", 1, tree(1).root(1)), "someone/else", other)
    assert ask(0, [], stranger, {})[0] == 404
    a = decide(b"old x\n\nnot a note", LOGS, {}, W_NAME, W_KEY, lambda: 0)
    assert a.status == 400 and a.head is None


def test_same_size_needs_the_same_root() -> None:
    t, forged = tree(4), tree(4, salt="y")
    _, _, head = ask(0, [], note(t, 4), {})
    assert ask(4, [], note(forged, 4), {ORIGIN: head})[0] == 422  # type: ignore[dict-item]
    assert ask(4, [], note(t, 4), {ORIGIN: head})[0] == 200  # type: ignore[dict-item]
