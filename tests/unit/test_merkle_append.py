"""rfc9162.append_leaf and frontier: the one "append a leaf, keep the subtrees it completes" every subtree store uses.

Checked against a data file of appends to the published reference tree (tests/vectors/merkle_append.json, with its
malformed and wrong-index calls), against MTH computed naively from RFC 9162 §2.1.1, and in the way the PostgreSQL
store uses it: only the frontier of the tree fetched before a batch, each completed node kept for the next leaf.
"""
from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import pytest

from gateway.audit.rfc9162 import (
    MemoryTree,
    append_leaf,
    consistency_proof,
    frontier,
    inclusion_proof,
    leaf_hash,
    root,
)

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "merkle_append.json").read_text())
MAX = 64
LEAVES = [leaf_hash(i.to_bytes(2, "big")) for i in range(2 * MAX)]


@cache
def mth(start: int, n: int) -> bytes:
    """MTH(LEAVES[start:start+n]) straight from RFC 9162 §2.1.1."""
    if n == 1:
        return LEAVES[start]
    k = 1 << ((n - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(start, k) + mth(start + k, n - k)).digest()


class Nodes:
    """A dict of (level, index) -> hash that records what append_leaf reads and reports."""

    def __init__(self, held: dict[tuple[int, int], bytes] | None = None) -> None:
        self.held = dict(held or {})
        self.reads: list[tuple[int, int]] = []
        self.writes: list[tuple[int, int, bytes]] = []

    def left(self, level: int, index: int) -> bytes:
        self.reads.append((level, index))
        return self.held[(level, index)]

    def visit(self, level: int, index: int, node: bytes) -> None:
        assert (level, index) not in self.held, "a node is completed once"
        self.held[(level, index)] = node
        self.writes.append((level, index, node))

    def subtree(self, level: int, index: int) -> bytes:
        return self.held[(level, index)]


def test_published_tree_appends_read_and_complete_exactly_the_listed_nodes() -> None:
    nodes = Nodes()
    for case in VECTORS["appends"]:
        nodes.reads, nodes.writes = [], []
        append_leaf(case["index"], leaf_hash(bytes.fromhex(case["leaf_data"])), nodes.left, nodes.visit)
        assert nodes.reads == [tuple(r) for r in case["reads"]]
        assert nodes.writes == [(lv, ix, bytes.fromhex(h)) for lv, ix, h in case["writes"]]
        assert {tuple(r) for r in case["reads"]} <= set(frontier(case["index"]))
        assert root(case["index"] + 1, nodes) == bytes.fromhex(case["root_after"])


@pytest.mark.parametrize("case", VECTORS["bad_appends"], ids=lambda c: c["desc"])
def test_malformed_or_wrong_index_appends_fail_before_reporting_a_subtree(case: dict) -> None:
    size = case["held_size"]
    nodes = Nodes({(lv, ix): mth(ix << lv, 1 << lv) for lv, ix in frontier(size)})
    error = {"ValueError": ValueError, "KeyError": KeyError}[case["error"]]
    with pytest.raises(error):
        append_leaf(case["index"], bytes.fromhex(case["leaf"]), nodes.left, nodes.visit)
    assert all(level == 0 for level, _, _ in nodes.writes)  # at most the leaf itself, never a node above it
    if error is ValueError:
        assert nodes.writes == []


def test_every_node_completed_is_the_mth_of_its_leaves_and_memory_tree_agrees() -> None:
    nodes, tree = Nodes(), MemoryTree()
    for n, leaf in enumerate(LEAVES[:MAX]):
        append_leaf(n, leaf, nodes.left, nodes.visit)
        tree.append(leaf)
        for level, index, node in nodes.writes:
            assert node == mth(index << level, 1 << level) == tree.subtree(level, index)
        nodes.writes = []
        size = n + 1
        assert root(size, nodes) == tree.root() == mth(0, size)
        assert all(inclusion_proof(i, size, nodes) == tree.inclusion_proof(i) for i in range(size))
        assert all(consistency_proof(m, size, nodes) == tree.consistency_proof(m) for m in range(size + 1))
    expected = {(lv, ix) for lv in range(MAX.bit_length()) for ix in range(MAX >> lv)}
    assert set(nodes.held) == expected  # every complete aligned subtree, and nothing else


@pytest.mark.parametrize("start", [0, 1, 2, 3, 5, 7, 8, 13, 31, 32, 47])
def test_a_batch_needs_only_the_frontier_fetched_before_it(start: int) -> None:
    """The PostgreSQL way: fetch frontier(size) in one query, then append a batch keeping what it completes."""
    nodes = Nodes({(lv, ix): mth(ix << lv, 1 << lv) for lv, ix in frontier(start)})
    for index in range(start, start + 40):
        append_leaf(index, LEAVES[index], nodes.left, nodes.visit)
    for level, index, node in nodes.writes:
        assert node == mth(index << level, 1 << level)
    assert root(start + 40, nodes) == mth(0, start + 40)


def test_frontier_is_one_complete_subtree_per_set_bit() -> None:
    assert frontier(0) == []
    assert frontier(1) == [(0, 0)]
    assert frontier(6) == [(1, 2), (2, 0)]
    assert frontier(13) == [(0, 12), (2, 2), (3, 0)]
    for size in range(1, 200):
        assert sum(1 << level for level, _ in frontier(size)) == size
    for bad in (-1, True, 1.0, "3"):
        with pytest.raises(ValueError):
            frontier(bad)  # type: ignore[arg-type]
