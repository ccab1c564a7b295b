"""The Merkle frontier a store keeps in memory between its append batches (sql_core.append_accesses): used only
while the log holds exactly the entries it was made for, so that appends by another store on the same database
(serve --workers, replicas) and failed batches never make a wrong tree. Real SQLite files."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.audit.rfc9162 import MemoryTree, frontier, leaf_hash
from gateway.datadir import DataDir
from gateway.store.sqlite import SqliteStore
from tests.helpers import log_entry


def _stores(data: DataDir, n: int) -> Iterator[SqliteStore]:
    for _ in range(n):
        store = data.open_store()
        assert isinstance(store, SqliteStore)
        yield store


def _assert_tree_right(store: SqliteStore) -> None:
    """Every stored subtree of the frontier equals the one recomputed from the entries themselves."""
    tree = MemoryTree(leaf_hash(entry.canonical_bytes()) for _, _, entry in store.leaf_hashes())
    assert tree.size == store.log_size()
    for level, index in frontier(tree.size):
        assert store.subtree(level, index) == tree.subtree(level, index), f"subtree {level}/{index}"
    assert tree.root() == MemoryTree([leaf for _, leaf, _ in store.leaf_hashes()]).root()


def _merkle_reads(store: SqliteStore) -> list[str]:
    seen: list[str] = []
    store._db.set_trace_callback(lambda statement: seen.append(statement) if "FROM merkle" in statement else None)
    return seen


def test_a_store_appending_alone_reads_no_merkle_rows_after_its_first_batch(data: DataDir) -> None:
    [store] = _stores(data, 1)
    try:
        store.append_accesses([log_entry(i) for i in range(5)])
        reads = _merkle_reads(store)
        for i in range(5, 40, 7):
            store.append_accesses([log_entry(j) for j in range(i, i + 7)])
        assert reads == [], "the frontier it committed itself was fetched again"
        _assert_tree_right(store)
    finally:
        store.close()


def test_stores_taking_turns_on_one_database_build_one_right_tree(data: DataDir) -> None:
    a, b = _stores(data, 2)
    try:
        reads = _merkle_reads(a)
        seq = 0
        for turn, size in enumerate((3, 1, 4, 1, 5, 9, 2, 6)):
            store = (a, b)[turn % 2]
            assert store.append_accesses([log_entry(seq + k) for k in range(size)]) == list(range(seq + 1,
                                                                                              seq + size + 1))
            seq += size
        assert reads, "a, after b appended, must fetch the frontier again"
        _assert_tree_right(a)
    finally:
        a.close()
        b.close()


def test_a_batch_that_did_not_commit_leaves_no_frontier_behind(data: DataDir) -> None:
    a, b = _stores(data, 2)
    try:
        a.append_accesses([log_entry(i) for i in range(3)])

        def refuse(*_: object) -> tuple[bytes, str, int | None]:
            raise RuntimeError("signing failed")

        with pytest.raises(RuntimeError, match="signing failed"):
            a.append_accesses([log_entry(i) for i in range(3, 6)], sign=refuse)  # rolled back
        assert a.log_size() == 3
        # another process appends as many entries with other content: a frontier of size 6 kept from the failed
        # batch would now be wrong for the next one
        b.append_accesses([log_entry(i) for i in range(100, 103)])
        a.append_accesses([log_entry(i) for i in range(103, 110)])
        _assert_tree_right(a)
    finally:
        a.close()
        b.close()


def test_leaf_hashes_given_by_the_caller_make_the_same_tree(data: DataDir) -> None:
    (store,) = _stores(data, 1)
    entries = [log_entry(i) for i in range(7)]
    assert store.append_accesses(entries[:3], leaves=[leaf_hash(e.canonical_bytes()) for e in entries[:3]]) == [1, 2, 3]
    assert store.append_accesses(entries[3:]) == [4, 5, 6, 7]
    _assert_tree_right(store)
    with pytest.raises(ValueError, match="2 leaf hashes for 1 entries"):
        store.append_accesses([log_entry(8)], leaves=[b"\0" * 32, b"\0" * 32])
    assert store.log_size() == 7
