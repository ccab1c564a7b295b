"""RFC 9162 Merkle tree: published Certificate Transparency vectors, then exhaustive and property tests up to 64 leaves.

The vectors are data files (tests/vectors/ct_*.json, sources noted inside); the properties check the proofs against a
naive MTH/PATH/PROOF written straight from RFC 9162 §2.1 here, and that any single flipped bit makes verification fail.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audit.rfc9162 import (
    EMPTY_ROOT,
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
REF = json.loads((VECTORS / "ct_reference_tree.json").read_text())
PROBES = json.loads((VECTORS / "ct_transparency_dev_probes.json").read_text())
MAX = 64


def unhex(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# --- a naive reference written from RFC 9162 §2.1, over a fixed list of 2 * MAX leaves -------------------------------

LEAVES = [leaf_hash(bytes([i])) for i in range(2 * MAX)]  # the CT test trees use one-byte entries 0, 1, 2, ...


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def mth(start: int, n: int) -> bytes:
    """MTH(D[start:start+n])."""
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return LEAVES[start]
    k = _k(n)
    return hashlib.sha256(b"\x01" + mth(start, k) + mth(start + k, n - k)).digest()


def naive_path(m: int, start: int, n: int) -> list[bytes]:
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return naive_path(m, start, k) + [mth(start + k, n - k)]
    return naive_path(m - k, start + k, n - k) + [mth(start, k)]


def naive_subproof(m: int, start: int, n: int, whole: bool) -> list[bytes]:
    if m == n:
        return [] if whole else [mth(start, m)]
    k = _k(n)
    if m <= k:
        return naive_subproof(m, start, k, whole) + [mth(start + k, n - k)]
    return naive_subproof(m - k, start + k, n - k, False) + [mth(start, k)]


def naive_proof(m: int, n: int) -> list[bytes]:
    return [] if m in (0, n) else naive_subproof(m, 0, n, True)


TREE = MemoryTree(LEAVES)  # one store; proofs for every smaller size come from it, as they do from the log's store


def inclusion_cases() -> Iterator[tuple[int, int]]:
    for n in range(1, MAX + 1):
        for i in range(n):
            yield i, n


def consistency_cases() -> Iterator[tuple[int, int]]:
    for n in range(MAX + 1):
        for m in range(n + 1):
            yield m, n


# --- published vectors: the RFC 6962 reference tree (certificate-transparency / transparency-dev) -------------------

REF_LEAVES = [leaf_hash(d) for d in unhex(REF["leaves"])]
REF_TREE = MemoryTree(REF_LEAVES)
REF_ROOTS = {0: bytes.fromhex(REF["empty_root"])} | {r["size"]: bytes.fromhex(r["hash"]) for r in REF["roots"]}


def test_empty_root_is_the_published_one() -> None:
    assert EMPTY_ROOT == REF_ROOTS[0] == REF_TREE.root(0) == MemoryTree().root()


@pytest.mark.parametrize("vector", REF["hasher"], ids=lambda v: v["desc"])
def test_hasher_vectors(vector: dict) -> None:
    if vector["kind"] == "leaf":
        got = leaf_hash(bytes.fromhex(vector["input"]))
    else:
        got = node_hash(bytes.fromhex(vector["left"]), bytes.fromhex(vector["right"]))
    assert got.hex() == vector["hash"]


@pytest.mark.parametrize("size", range(1, 9))
def test_reference_roots(size: int) -> None:
    assert root(size, REF_TREE) == REF_ROOTS[size]
    assert MemoryTree(REF_LEAVES[:size]).root() == REF_ROOTS[size]


@pytest.mark.parametrize("vector", REF["inclusion"], ids=lambda v: f"leaf{v['leaf_number']}-of-{v['size']}")
def test_reference_inclusion_proofs(vector: dict) -> None:
    index, size, path = vector["leaf_number"] - 1, vector["size"], unhex(vector["path"])
    assert inclusion_proof(index, size, REF_TREE) == path
    assert verify_inclusion(REF_LEAVES[index], index, size, path, REF_ROOTS[size])


@pytest.mark.parametrize("vector", REF["consistency"], ids=lambda v: f"{v['old']}-to-{v['new']}")
def test_reference_consistency_proofs(vector: dict) -> None:
    old, new, proof = vector["old"], vector["new"], unhex(vector["proof"])
    assert consistency_proof(old, new, REF_TREE) == proof
    assert verify_consistency(old, new, REF_ROOTS[old], REF_ROOTS[new], proof)


def test_reference_invalid_inclusion_parameters() -> None:
    table = REF["verify_inclusion_invalid"]
    for index, size in table["index_size_pairs"]:
        for leaf, top in table["leaf_root_pairs"]:
            proof = unhex(table["proof"])
            assert verify_inclusion(bytes.fromhex(leaf), index, size, proof, bytes.fromhex(top)) is False


@pytest.mark.parametrize("row", REF["verify_consistency_edge"], ids=lambda r: f"{r['old']}-{r['new']}")
def test_reference_consistency_edge_cases(row: dict) -> None:
    got = verify_consistency(row["old"], row["new"], bytes.fromhex(row["root1"]), bytes.fromhex(row["root2"]),
                             unhex(row["proof"]))
    assert got is row["here_ok"]


def test_trivial_consistency_with_well_formed_roots() -> None:
    """What the placeholder-root rows above stand for, with 32-byte roots: the cases RFC 9162 §2.1.4.2 leaves out."""
    r1, r5 = REF_ROOTS[1], REF_ROOTS[5]
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, r5, [])
    assert verify_consistency(5, 5, r5, r5, [])
    assert not verify_consistency(0, 5, r1, r5, [])  # a size-0 tree head must carry the empty root
    assert not verify_consistency(5, 5, r5, r1, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, r5, [r5])


@pytest.mark.parametrize("probe", PROBES["inclusion"], ids=lambda p: p["file"])
def test_published_inclusion_probes(probe: dict) -> None:
    ok = verify_inclusion(bytes.fromhex(probe["leaf_hash"]), probe["leaf_index"], probe["tree_size"],
                          unhex(probe["proof"]), bytes.fromhex(probe["root"]))
    assert ok is not probe["want_err"]


@pytest.mark.parametrize("probe", PROBES["consistency"], ids=lambda p: p["file"])
def test_published_consistency_probes(probe: dict) -> None:
    ok = verify_consistency(probe["size1"], probe["size2"], bytes.fromhex(probe["root1"]),
                            bytes.fromhex(probe["root2"]), unhex(probe["proof"]))
    assert ok is not probe["want_err"]


# --- MemoryTree: incrementally stored complete subtrees ---------------------------------------------------------------


def test_memory_tree_roots_match_naive_mth_at_every_size() -> None:
    grown = MemoryTree()
    for n in range(MAX + 1):
        assert grown.root() == MemoryTree(LEAVES[:n]).root() == mth(0, n), n
        assert [grown.root(m) for m in range(n + 1)] == [mth(0, m) for m in range(n + 1)]
        assert grown.append(LEAVES[n]) == n


def test_memory_tree_stores_exactly_the_complete_aligned_subtrees() -> None:
    for n in range(MAX + 1):
        tree = MemoryTree(LEAVES[:n])
        for level in range(8):
            width = 1 << level
            for index in range(MAX // width + 2):
                if (index + 1) * width <= n:
                    assert tree.subtree(level, index) == mth(index * width, width)
                else:
                    with pytest.raises(KeyError):
                        tree.subtree(level, index)


def test_memory_tree_rejects_what_it_cannot_answer() -> None:
    tree = MemoryTree(LEAVES[:5])
    with pytest.raises(ValueError):
        tree.append(b"short")
    with pytest.raises(ValueError):
        tree.root(6)
    with pytest.raises(ValueError):
        tree.inclusion_proof(0, 6)
    with pytest.raises(ValueError):
        tree.consistency_proof(2, 6)


# --- every proof for every size up to 64 ------------------------------------------------------------------------------


def test_every_inclusion_proof_matches_the_rfc_and_verifies() -> None:
    for i, n in inclusion_cases():
        proof = inclusion_proof(i, n, TREE)
        assert proof == naive_path(i, 0, n), (i, n)
        assert verify_inclusion(LEAVES[i], i, n, proof, mth(0, n)), (i, n)


def test_every_consistency_proof_matches_the_rfc_and_verifies() -> None:
    for m, n in consistency_cases():
        proof = consistency_proof(m, n, TREE)
        assert proof == naive_proof(m, n), (m, n)
        assert verify_consistency(m, n, mth(0, m), mth(0, n), proof), (m, n)


def test_proofs_from_an_exact_size_store_equal_those_from_a_bigger_one() -> None:
    for n in (1, 2, 3, 7, 8, 13, 32, 33, 63, 64):
        exact = MemoryTree(LEAVES[:n])
        assert [exact.inclusion_proof(i) for i in range(n)] == [inclusion_proof(i, n, TREE) for i in range(n)]
        assert [exact.consistency_proof(m) for m in range(n + 1)] == [consistency_proof(m, n, TREE)
                                                                      for m in range(n + 1)]


# --- tampering: flipped bits, wrong index, wrong size ---------------------------------------------------------------


def sampled_bit(*key: int) -> int:
    """A deterministic spread of bit positions over a 32-byte hash (every one of the 256 is reached; test below)."""
    return (sum(k * p for k, p in zip(key, (7, 13, 31, 59), strict=False)) + 3) % 256


class Coverage:
    def __init__(self) -> None:
        self.bits: set[int] = set()
        self.positions: set[int] = set()

    def bit(self, position: int, *key: int) -> int:
        b = sampled_bit(position, *key)
        self.bits.add(b)
        self.positions.add(position)
        return b


def test_inclusion_fails_with_any_flipped_bit_sampled_for_every_proof() -> None:
    cov = Coverage()
    for i, n in inclusion_cases():
        proof, top, leaf = inclusion_proof(i, n, TREE), mth(0, n), LEAVES[i]
        for j in range(len(proof)):
            tampered = [*proof[:j], flip(proof[j], cov.bit(j, i, n)), *proof[j + 1:]]
            assert not verify_inclusion(leaf, i, n, tampered, top), (i, n, j)
        assert not verify_inclusion(flip(leaf, sampled_bit(n, i, 1)), i, n, proof, top)
        assert not verify_inclusion(leaf, i, n, proof, flip(top, sampled_bit(i, n, 2)))
    assert cov.bits == set(range(256))
    assert cov.positions == set(range(max(len(inclusion_proof(i, n, TREE)) for i, n in inclusion_cases())))


def test_consistency_fails_with_any_flipped_bit_sampled_for_every_proof() -> None:
    cov = Coverage()
    for m, n in consistency_cases():
        proof, old_root, new_root = consistency_proof(m, n, TREE), mth(0, m), mth(0, n)
        for j in range(len(proof)):
            tampered = [*proof[:j], flip(proof[j], cov.bit(j, m, n)), *proof[j + 1:]]
            assert not verify_consistency(m, n, old_root, new_root, tampered), (m, n, j)
        assert not verify_consistency(m, n, flip(old_root, sampled_bit(m, n, 1)), new_root, proof), (m, n)
        if m > 0:  # anything is consistent with the empty tree, whatever its new root
            assert not verify_consistency(m, n, old_root, flip(new_root, sampled_bit(n, m, 2)), proof), (m, n)
    assert cov.bits == set(range(256))
    assert cov.positions == set(range(max(len(consistency_proof(m, n, TREE)) for m, n in consistency_cases())))


SELECTED_INCLUSION = [(0, 1), (5, 8), (37, 64), (62, 63), (32, 33), (16, 45)]
SELECTED_CONSISTENCY = [(0, 7), (6, 7), (6, 8), (37, 64), (31, 63), (1, 64), (48, 48), (21, 55)]


@pytest.mark.parametrize(("i", "n"), SELECTED_INCLUSION)
def test_inclusion_every_bit_of_every_hash_for_selected_proofs(i: int, n: int) -> None:
    proof, top, leaf = inclusion_proof(i, n, TREE), mth(0, n), LEAVES[i]
    for bit in range(256):
        assert not verify_inclusion(flip(leaf, bit), i, n, proof, top)
        assert not verify_inclusion(leaf, i, n, proof, flip(top, bit))
        for j in range(len(proof)):
            assert not verify_inclusion(leaf, i, n, [*proof[:j], flip(proof[j], bit), *proof[j + 1:]], top)


@pytest.mark.parametrize(("m", "n"), SELECTED_CONSISTENCY)
def test_consistency_every_bit_of_every_hash_for_selected_proofs(m: int, n: int) -> None:
    proof, old_root, new_root = consistency_proof(m, n, TREE), mth(0, m), mth(0, n)
    for bit in range(256):
        assert not verify_consistency(m, n, flip(old_root, bit), new_root, proof)
        if m > 0:
            assert not verify_consistency(m, n, old_root, flip(new_root, bit), proof)
        for j in range(len(proof)):
            assert not verify_consistency(m, n, old_root, new_root, [*proof[:j], flip(proof[j], bit), *proof[j + 1:]])


@settings(max_examples=300, deadline=None)
@given(st.integers(1, MAX).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n))), st.integers(0, 255),
       st.integers(0, 10))
def test_inclusion_flipped_bit_property(case: tuple[int, int], bit: int, which: int) -> None:
    i, n = case
    proof, top, leaf = inclusion_proof(i, n, TREE), mth(0, n), LEAVES[i]
    j = which % (len(proof) + 2)
    if j == len(proof):
        leaf = flip(leaf, bit)
    elif j == len(proof) + 1:
        top = flip(top, bit)
    else:
        proof[j] = flip(proof[j], bit)
    assert not verify_inclusion(leaf, i, n, proof, top)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, MAX).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))), st.integers(0, 255),
       st.integers(0, 12))
def test_consistency_flipped_bit_property(case: tuple[int, int], bit: int, which: int) -> None:
    m, n = case
    proof, old_root, new_root = consistency_proof(m, n, TREE), mth(0, m), mth(0, n)
    j = which % (len(proof) + 2)
    if j == len(proof):
        old_root = flip(old_root, bit)
    elif j == len(proof) + 1:
        new_root = flip(new_root, bit)
    else:
        proof[j] = flip(proof[j], bit)
    assert not verify_consistency(m, n, old_root, new_root, proof)


def test_inclusion_fails_at_a_wrong_index() -> None:
    for i, n in inclusion_cases():
        proof, top = inclusion_proof(i, n, TREE), mth(0, n)
        for wrong in {i - 1, i + 1, i ^ 1, i ^ 2, n - 1 - i, n, n + 1} - {i}:
            assert not verify_inclusion(LEAVES[i], wrong, n, proof, top), (i, n, wrong)


def test_inclusion_proof_binds_the_tree_size() -> None:
    """A proof checked against another size's tree head fails; against the same root, size × 2 and size ÷ 2 fail.

    (The RFC 9162 algorithm does not always reject the right root paired with another size of the same shape — a
    tree head signs size and root together, so that pair cannot arise from a log.)
    """
    for i, n in inclusion_cases():
        proof, top = inclusion_proof(i, n, TREE), mth(0, n)
        for wrong in {n - 1, n + 1, n * 2, n // 2} - {n}:
            assert not verify_inclusion(LEAVES[i], i, wrong, proof, mth(0, wrong)), (i, n, wrong)
        for wrong in {n * 2, n // 2} - {n}:
            assert not verify_inclusion(LEAVES[i], i, wrong, proof, top), (i, n, wrong)


def test_consistency_proof_binds_both_sizes() -> None:
    for m, n in consistency_cases():
        if m in (0, n):
            continue
        proof = consistency_proof(m, n, TREE)
        for wrong in {m - 1, m + 1, m ^ 2} - {m}:
            if 0 < wrong <= n:
                assert not verify_consistency(wrong, n, mth(0, wrong), mth(0, n), proof), (m, n, wrong)
        for wrong in {n - 1, n + 1, n * 2, n // 2} - {n}:
            assert not verify_consistency(m, wrong, mth(0, m), mth(0, wrong), proof), (m, n, wrong)


def test_consistency_fails_with_an_edited_proof() -> None:
    for m, n in consistency_cases():
        proof, old_root, new_root = consistency_proof(m, n, TREE), mth(0, m), mth(0, n)
        if not proof:
            continue
        for tampered in (proof[:-1], proof[1:], [*proof, proof[-1]], [proof[0], *proof], [EMPTY_ROOT, *proof],
                         [*proof, new_root], list(reversed(proof)) if len(proof) > 1 and proof[0] != proof[-1] else []):
            assert not verify_consistency(m, n, old_root, new_root, tampered), (m, n)
        assert not verify_consistency(m, n, new_root, old_root, proof), (m, n)


# --- malformed input: False, never an exception ---------------------------------------------------------------------

JUNK: list[object] = [None, -1, 1.5, True, "00", b"", b"\x00" * 31, b"\x00" * 33, [b"\x00" * 32, None], ["ab"], {},
                      2**70]


def test_verifiers_return_false_on_malformed_input() -> None:
    proof, top = inclusion_proof(3, 8, TREE), mth(0, 8)
    good = (LEAVES[3], 3, 8, proof, top)
    assert verify_inclusion(*good)
    for position in range(5):
        for junk in JUNK:
            args = list(good)
            args[position] = junk
            assert verify_inclusion(*args) is False, (position, junk)
    cproof = consistency_proof(3, 8, TREE)
    cgood = (3, 8, mth(0, 3), top, cproof)
    assert verify_consistency(*cgood)
    for position in range(5):
        for junk in JUNK:
            args = list(cgood)
            args[position] = junk
            assert verify_consistency(*args) is False, (position, junk)


def test_index_at_or_beyond_size_and_old_beyond_new_fail() -> None:
    assert not verify_inclusion(LEAVES[0], 0, 0, [], EMPTY_ROOT)
    assert not verify_inclusion(LEAVES[1], 1, 1, [], LEAVES[1])
    assert not verify_consistency(5, 4, mth(0, 5), mth(0, 4), consistency_proof(4, 5, TREE))
    assert not verify_consistency(1, 0, LEAVES[0], EMPTY_ROOT, [])


hashes = st.binary(min_size=0, max_size=40) | st.just(LEAVES[0])
anything = st.none() | st.integers(-3, 2**65) | st.booleans() | st.text(max_size=3) | hashes


@settings(max_examples=300, deadline=None)
@given(anything, anything, anything, st.lists(hashes, max_size=4) | anything, anything)
def test_verifiers_never_raise(a: object, b: object, c: object, d: object, e: object) -> None:
    assert verify_inclusion(a, b, c, d, e) in (True, False)  # type: ignore[arg-type]
    assert verify_consistency(a, b, c, d, e) in (True, False)  # type: ignore[arg-type]


def test_generators_reject_impossible_requests() -> None:
    for call in (lambda: inclusion_proof(8, 8, TREE), lambda: inclusion_proof(-1, 8, TREE),
                 lambda: consistency_proof(9, 8, TREE), lambda: consistency_proof(-1, 8, TREE),
                 lambda: root(-1, TREE)):
        with pytest.raises(ValueError):
            call()


# --- cost: proofs read O(log² n) stored subtrees, never O(n) ----------------------------------------------------------


class CountingSource:
    """Answers any aligned subtree with a made-up hash and counts the look-ups (no tree is needed to count)."""

    def __init__(self) -> None:
        self.lookups = 0

    def subtree(self, level: int, index: int) -> bytes:
        self.lookups += 1
        return hashlib.sha256(f"{level}/{index}".encode()).digest()


def count(call: Callable[[CountingSource], object]) -> int:
    source = CountingSource()
    call(source)
    return source.lookups


@pytest.mark.parametrize("n", [2**40 - 1, 2**40 + 1, 10**12 + 12345, 3 * 2**33 + 7, 2**62 + 2**61 - 1])
def test_proofs_cost_at_most_log_squared_lookups(n: int) -> None:
    bound = n.bit_length() ** 2
    assert count(lambda s: root(n, s)) == bin(n).count("1")
    for i in (0, 1, n // 3, n // 2, n - 2, n - 1):
        assert count(lambda s, i=i: inclusion_proof(i, n, s)) <= bound
    for m in (1, 2, n // 3, n // 2 + 1, n - 1):
        assert count(lambda s, m=m: consistency_proof(m, n, s)) <= bound
