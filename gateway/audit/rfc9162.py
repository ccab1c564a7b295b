"""RFC 9162 Merkle tree hashing, inclusion and consistency proofs, and their verifiers, over access-log leaves.

The access log must be verifiable like a Certificate Transparency log; this is the hash-tree half, hashlib only.

Proof generation reads only complete, aligned subtree hashes from a `SubtreeSource` (what the log store keeps):
subtree(level, index) is MTH of the 2**level leaves starting at leaf index * 2**level. Any other hash a proof
needs is the RFC 9162 MTH recursion over those, so a proof costs O(log² n) look-ups at worst.

Appending a leaf and the complete subtrees it finishes is `append_leaf`, the one place every store of subtrees
(MemoryTree here, the SQLite and PostgreSQL log stores) gets them from: it reads the left siblings it needs through
a callback and reports each node it completes to a visitor, which stores it (the shape of transparency-dev/merkle's
compact range Append). `frontier` names the nodes a batch of appends may read, so a store can fetch them at once.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = SHA-256 of the empty string (RFC 9162 §2.1.1)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryTree",
    "SubtreeSource",
    "append_leaf",
    "consistency_proof",
    "frontier",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]


def leaf_hash(data: bytes) -> bytes:
    """MTH of a one-entry list: SHA-256(0x00 ‖ entry bytes)."""
    return hashlib.sha256(LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(NODE_PREFIX + bytes(left) + bytes(right)).digest()


class SubtreeSource(Protocol):
    def subtree(self, level: int, index: int) -> bytes:
        """MTH of the complete subtree of 2**level leaves starting at leaf index * 2**level."""
        ...


# ---------------------------------------------------------------------------------------------------------------
# Proof generation (RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1)
# ---------------------------------------------------------------------------------------------------------------


def _split(n: int) -> int:
    """The largest power of two smaller than n (n ≥ 2): where MTH splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _range_hash(start: int, count: int, source: SubtreeSource) -> bytes:
    """MTH(D[start:start+count]) for a range the MTH recursion produces (start aligned to the range's split).

    The range is the complete subtrees of count's binary expansion, largest first, folded from the right.
    """
    if count < 1 or start % (1 << (count - 1).bit_length()) != 0:
        raise ValueError(f"[{start}, {start + count}) is not a range of the Merkle tree recursion")
    parts: list[bytes] = []
    offset = start
    for level in range(count.bit_length() - 1, -1, -1):
        if count >> level & 1:
            parts.append(source.subtree(level, offset >> level))
            offset += 1 << level
    acc = parts.pop()
    while parts:
        acc = node_hash(parts.pop(), acc)
    return acc


def root(size: int, source: SubtreeSource) -> bytes:
    """MTH(D[0:size]), the tree head's root hash for a log of `size` entries."""
    if not _is_count(size):
        raise ValueError(f"tree size must be a non-negative int, not {size!r}")
    return EMPTY_ROOT if size == 0 else _range_hash(0, size, source)


def inclusion_proof(index: int, size: int, source: SubtreeSource) -> list[bytes]:
    """PATH(index, D[0:size]): the audit path for leaf `index` in the tree of `size` leaves, bottom-up."""
    if not (_is_count(index) and _is_count(size) and index < size):
        raise ValueError(f"no inclusion proof for index {index!r} in a tree of size {size!r}")
    path: list[bytes] = []
    start, m, n = 0, index, size
    while n > 1:
        k = _split(n)
        if m < k:  # PATH(m, D[0:k]) : MTH(D[k:n])
            path.append(_range_hash(start + k, n - k, source))
            n = k
        else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            path.append(_range_hash(start, k, source))
            start, m, n = start + k, m - k, n - k
    path.reverse()
    return path


def consistency_proof(old: int, new: int, source: SubtreeSource) -> list[bytes]:
    """PROOF(old, D[0:new]) = SUBPROOF(old, D[0:new], true); empty when old is 0 or old == new."""
    if not (_is_count(old) and _is_count(new) and old <= new):
        raise ValueError(f"no consistency proof from size {old!r} to size {new!r}")
    if old in (0, new):
        return []
    proof: list[bytes] = []
    start, m, n, whole_old_tree = 0, old, new, True
    while m != n:
        k = _split(n)
        if m <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            proof.append(_range_hash(start + k, n - k, source))
            n = k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            proof.append(_range_hash(start, k, source))
            start, m, n, whole_old_tree = start + k, m - k, n - k, False
    if not whole_old_tree:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
        proof.append(_range_hash(start, m, source))
    proof.reverse()
    return proof


# ---------------------------------------------------------------------------------------------------------------
# Verification (RFC 9162 §2.1.3.2, §2.1.4.2): False on anything malformed, never an exception
# ---------------------------------------------------------------------------------------------------------------


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


def _is_path(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray) and all(
        _is_hash(p) for p in value
    )


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    """Right-shift fn and sn equally until LSB(fn) is set or fn is 0."""
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True iff `proof` shows the leaf with hash `leaf_hash` at `index` in the tree of `size` with `root`."""
    if not (_is_hash(leaf_hash) and _is_hash(root) and _is_count(index) and _is_count(size) and _is_path(proof)):
        return False
    if index >= size:
        return False
    fn, sn, r = index, size - 1, bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_while_even(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def _trivially_consistent(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """The cases §2.1.4.2 leaves out: an empty old tree, or the same size (both need an empty proof)."""
    if proof:
        return False
    if old == 0:
        return old_root == EMPTY_ROOT
    return old_root == new_root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """True iff `proof` shows the tree of size `old` with `old_root` is a prefix of the one of size `new`."""
    if not (_is_count(old) and _is_count(new) and _is_hash(old_root) and _is_hash(new_root) and _is_path(proof)):
        return False
    if old > new:
        return False
    if old == 0 or old == new:
        return _trivially_consistent(old, new, old_root, new_root, proof)
    if not proof:
        return False
    path = [bytes(old_root), *proof] if old & (old - 1) == 0 else list(proof)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = bytes(path[0])
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_while_even(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


# ---------------------------------------------------------------------------------------------------------------
# Appending: the complete subtrees a new leaf finishes
# ---------------------------------------------------------------------------------------------------------------


def frontier(size: int) -> list[tuple[int, int]]:
    """(level, index) of the complete subtrees a tree of `size` leaves ends with, lowest level first: one per set
    bit of size. They are every left sibling that `append_leaf` may read while leaves size, size + 1, ... are
    appended (each later one it reads was reported by an earlier append of the same batch)."""
    if not _is_count(size):
        raise ValueError(f"tree size must be a non-negative int, not {size!r}")
    return [(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1]


def append_leaf(index: int, leaf: bytes, left: Callable[[int, int], bytes],
                visit: Callable[[int, int, bytes], None]) -> None:
    """Append leaf hash `leaf` as leaf `index` of a tree that holds exactly `index` leaves.

    Reports the leaf, then each aligned subtree it completes (those whose last leaf it is), to `visit(level,
    index, hash)`, bottom-up. The left sibling of each completed subtree is read with `left(level, index)`; it is a
    node of `frontier(index)`. A store persists exactly what `visit` is given. Raises ValueError for an index
    that is not a non-negative int or a leaf that is not a hash; whatever `left` raises for a node it does not
    hold (a wrong index) passes through, before anything above the leaf is reported.
    """
    if not _is_count(index):
        raise ValueError(f"a leaf index is a non-negative int, not {index!r}")
    if not _is_hash(leaf):
        raise ValueError(f"a leaf hash is {HASH_SIZE} bytes")
    node, level, position = bytes(leaf), 0, index
    visit(level, position, node)
    while position & 1:
        node = node_hash(left(level, position - 1), node)
        level, position = level + 1, position >> 1
        visit(level, position, node)


# ---------------------------------------------------------------------------------------------------------------
# An in-memory store of complete subtrees
# ---------------------------------------------------------------------------------------------------------------


class MemoryTree(SubtreeSource):
    """Leaf hashes plus every complete aligned subtree hash, stored as leaves are appended (as the log store does)."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for leaf in leaf_hashes:
            self.append(leaf)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def __len__(self) -> int:
        return self.size

    def append(self, leaf: bytes) -> int:
        """Add one leaf hash; store each subtree it completes. Returns the leaf's index."""
        index = self.size
        append_leaf(index, leaf, lambda level, i: self._levels[level][i], self._store)
        return index

    def _store(self, level: int, index: int, node: bytes) -> None:
        if level == len(self._levels):
            self._levels.append([])
        self._levels[level].append(node)

    def subtree(self, level: int, index: int) -> bytes:
        if not (_is_count(level) and _is_count(index)) or level >= len(self._levels) or index >= len(
            self._levels[level]
        ):
            raise KeyError(f"no complete subtree at level {level}, index {index} in a tree of {self.size}")
        return self._levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return root(self.size if size is None else self._checked(size), self)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self.size if size is None else self._checked(size), self)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        return consistency_proof(old, self.size if new is None else self._checked(new), self)

    def _checked(self, size: int) -> int:
        if not _is_count(size) or size > self.size:
            raise ValueError(f"tree size {size!r} is beyond the {self.size} leaves held")
        return size
