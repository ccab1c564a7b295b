"""Checkpoints known outside the database: what the log is held against by `audit verify` and at `serve`.

Sources, strongest first: each witness asked directly (its own state), the cosigned checkpoint the gateway
saved from each witness (DIR/witnessed/), and a checkpoint the verifier remembered (`--checkpoint FILE`, like
the Go checksum database client's cache). Someone who can rewrite the database can change none of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gateway.audit.checkpoint import Checkpoint, NoteError, verify_checkpoint
from gateway.audit.witness_http import WitnessUnavailable
from gateway.audit.witnessing import WitnessConfigError, load, local_anchor, remote_anchor


@dataclass(frozen=True)
class Anchor:
    source: str  # e.g. "witness audit.ningbo/w1", "the saved cosignature of witness …", "the remembered checkpoint"
    checkpoint: Checkpoint
    witnessed: bool


@dataclass
class Anchors:
    found: list[Anchor] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def witnessed(self) -> Anchor | None:
        """The largest checkpoint a witness cosigned, if any."""
        cosigned = [a for a in self.found if a.witnessed]
        return max(cosigned, key=lambda a: a.checkpoint.size) if cosigned else None


def collect(root: Path, origin: str, log_verifier: str, remembered: bytes | None = None, *,
            ask: bool = True) -> Anchors:
    out = Anchors()
    try:
        refs = load(root)
    except WitnessConfigError as exc:
        out.problems.append(str(exc))
        refs = []
    for ref in refs:
        try:
            saved = local_anchor(root, ref, log_verifier)
        except WitnessConfigError as exc:
            out.problems.append(str(exc))
            saved = None
        if saved is not None:
            out.found.append(Anchor(f"the saved cosignature of witness {ref.name}", saved[0], True))
        if not ask:
            continue
        try:
            remote = remote_anchor(ref, origin, log_verifier)
        except WitnessUnavailable as exc:
            out.warnings.append(f"could not ask witness {ref.name} for its latest checkpoint ({exc})")
            continue
        if remote is not None:
            out.found.append(Anchor(f"witness {ref.name}", remote[0], True))
    if remembered is not None:
        try:
            cp = verify_checkpoint(remembered, log_verifier, origin=origin)
        except NoteError as exc:
            out.problems.append(f"the saved checkpoint does not verify with this gateway's key ({exc})")
        else:
            out.found.append(Anchor("the saved checkpoint", cp, False))
    if not out.found:
        out.warnings.append("no independent checkpoint (no witness has cosigned one, and no --checkpoint): this "
                            "shows only that the log agrees with itself; whoever can write the database could "
                            "have rewritten it")
    return out
