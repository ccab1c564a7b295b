"""`permitgw audit verify`: recompute the Merkle tree from the stored entries and hold it against every signed
checkpoint in the database — and, above all, against the checkpoints known outside it (gateway/audit/anchors.py).

Any entry modified, deleted, inserted or reordered under a checkpoint changes the root it must hash to; a
truncated log is shorter than a checkpoint it once had. Checkpoints in the database prove nothing against
someone who can rewrite the database, so only a witnessed (or remembered) checkpoint makes the log "unaltered".
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gateway.audit.anchors import Anchor, Anchors
from gateway.audit.checkpoint import Checkpoint, NoteError, verify_checkpoint
from gateway.audit.port import LogStore
from gateway.audit.rfc9162 import MemoryTree, leaf_hash, root
from gateway.audit.witnessing import witnessed_by


@dataclass
class VerifyReport:
    size: int = 0
    checkpoints: int = 0
    signed_size: int = 0
    witnessed_size: int | None = None
    witnessed_by: str = ""
    independent: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def unsigned(self) -> int:
        """Entries no signature covers: each batch is signed as it commits, so these were not written by the gateway."""
        return max(self.size - self.signed_size, 0)


def recompute(store: LogStore, report: VerifyReport) -> MemoryTree:
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


def verify_log(store: LogStore, verifier: str, anchors: Anchors | None = None, *, new_gateway: bool = False,
               witness_keys: list[str] | None = None) -> VerifyReport:
    """Check the log; cosignatures stored beside checkpoints count as independent checkpoints too (a database
    writer can delete a cosignature but cannot make one), verified with `witness_keys` from outside the database."""
    report = VerifyReport()
    tree = recompute(store, report)
    anchors = anchors or Anchors()
    for size, stored_root, note in store.checkpoints():
        report.checkpoints += 1
        try:
            cp = verify_checkpoint(note.encode("utf-8"), verifier)
        except NoteError as exc:
            report.problems.append(f"checkpoint of size {size}: signature does not verify ({exc})")
            continue
        cosigned = witness_keys and note.count("\u2014 ") > 1  # more signature lines than the log's own
        for name in witnessed_by(note, verifier, witness_keys or []) if cosigned else []:
            anchors.found.append(Anchor(f"the cosignature by witness {name} stored with it", cp, True))
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
    if report.unsigned:
        report.problems.append(f"{report.unsigned} entries (from {report.signed_size + 1}) are covered by no "
                               "signature: the gateway signs every batch as it commits, so it did not write them")
    if report.size == 0 and not new_gateway:
        report.problems.append("the log is empty: a gateway that has served calls never has an empty log "
                               "(give --new-gateway if this gateway has really never served)")
    report.problems.extend(anchors.problems)
    report.warnings.extend(anchors.warnings)
    for anchor in anchors.found:
        check_against(tree, anchor.checkpoint, f"{anchor.source} of size {anchor.checkpoint.size}", report)
        report.independent += 1
    best = anchors.witnessed()
    if best is not None:
        report.witnessed_size, report.witnessed_by = best.checkpoint.size, best.source
    return report


def summary(report: VerifyReport) -> list[str]:
    """The lines `audit verify` prints: counts first, then warnings, problems and the verdict."""
    covered = (f"{min(report.witnessed_size, report.size)} covered by the witnessed checkpoint of size "
               f"{report.witnessed_size} ({report.witnessed_by})" if report.witnessed_size is not None
               else "none covered by a witnessed checkpoint")
    lines = [f"log: {report.size} entries, {covered}, {report.unsigned} not covered by any signature; "
             f"{report.checkpoints} checkpoints signed by the gateway, the latest of size {report.signed_size}"]
    lines += [f"WARNING: {w}" for w in report.warnings]
    lines += [f"PROBLEM: {p}" for p in report.problems]
    if not report.ok:
        lines.append(f"FAILED: {len(report.problems)} problem(s)")
    elif report.independent:
        lines.append(f"OK: the log is complete and unaltered, checked against {report.independent} independent "
                     "checkpoint(s)")
    else:
        lines.append("OK (unconfirmed): the log agrees with its own signatures only; see the WARNING above")
    return lines
