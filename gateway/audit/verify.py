"""`permitgw audit verify`: recompute the Merkle tree from the stored entries and hold it against every
signed checkpoint — and, offline, against a checkpoint an auditor saved earlier.

Any entry modified, deleted, inserted or reordered under a checkpoint changes the root it must hash to;
a truncated log is shorter than a checkpoint it once had.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gateway.audit.checkpoint import Checkpoint, NoteError, verify_checkpoint
from gateway.audit.rfc9162 import MemoryTree, leaf_hash, root
from gateway.store.port import Store


@dataclass
class VerifyReport:
    size: int = 0
    checkpoints: int = 0
    signed_size: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def recompute(store: Store, report: VerifyReport) -> MemoryTree:
    """The tree of the entries as they are now, noting entries whose stored leaf no longer matches."""
    tree = MemoryTree()
    expected = 1
    for seq, stored_leaf, entry in store.leaf_hashes():
        if seq != expected:
            report.problems.append(f"entries {expected}..{seq - 1} are missing (sequence jumps to {seq})"
                                   if seq > expected else f"entry {seq} is out of order")
        leaf = leaf_hash(entry.canonical_bytes())
        if leaf != stored_leaf:
            report.problems.append(f"entry {seq} was altered: its content no longer hashes to its leaf")
        tree.append(leaf)
        expected = seq + 1
    report.size = tree.size
    return tree


def check_against(tree: MemoryTree, cp: Checkpoint, what: str, report: VerifyReport) -> None:
    if cp.size > tree.size:
        report.problems.append(f"{what} covers {cp.size} entries but the log holds {tree.size}: entries were removed")
    elif root(cp.size, tree) != cp.root:
        report.problems.append(f"{what}: the log's first {cp.size} entries no longer hash to its root "
                               "(an entry was altered, removed, inserted or reordered)")


def verify_log(store: Store, verifier: str, saved: bytes | None = None) -> VerifyReport:
    report = VerifyReport()
    tree = recompute(store, report)
    for size, stored_root, note in store.checkpoints():
        report.checkpoints += 1
        try:
            cp = verify_checkpoint(note.encode("utf-8"), verifier)
        except NoteError as exc:
            report.problems.append(f"checkpoint of size {size}: signature does not verify ({exc})")
            continue
        if (cp.size, cp.root) != (size, stored_root):
            report.problems.append(f"checkpoint of size {size}: its row does not match its signed note")
        check_against(tree, cp, f"checkpoint of size {cp.size}", report)
        report.signed_size = max(report.signed_size, cp.size)
    try:
        stored_ok = not tree.size or root(tree.size, tree) == root(tree.size, store)
    except KeyError:
        stored_ok = False
    if not stored_ok:
        report.problems.append("the stored Merkle nodes do not match the entries (proofs served would be wrong)")
    if saved is not None:
        try:
            cp = verify_checkpoint(saved, verifier)
        except NoteError as exc:
            report.problems.append(f"the saved checkpoint does not verify with this gateway's key ({exc})")
        else:
            check_against(tree, cp, f"the saved checkpoint of size {cp.size}", report)
    return report
