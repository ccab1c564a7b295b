"""Before `serve` opens its port: refuse a log that disagrees with what is known outside the database.

A log rewritten, truncated or replaced with database access alone is consistent with no witnessed checkpoint;
serving (and signing) it would launder the forgery. The check reads O(log n) stored subtrees per anchor, so it
costs nothing on a large log; `permitgw audit verify` does the full recomputation.
"""
from __future__ import annotations

from gateway.audit.anchors import Anchors
from gateway.audit.checkpoint import NoteError, verify_checkpoint
from gateway.audit.port import LogStore
from gateway.audit.rfc9162 import root
from gateway.errors import GatewayError


class LogRefused(GatewayError):
    """The stored log is not one the gateway may go on extending; the message says why, on one line."""


def check_log(store: LogStore, verifier: str, anchors: Anchors) -> None:
    size = store.log_size()
    latest = store.checkpoints()[-1:]
    signed = 0
    if latest:
        try:
            signed = verify_checkpoint(latest[0][2].encode("utf-8"), verifier).size
        except NoteError as exc:
            raise LogRefused(f"the latest stored checkpoint does not verify ({exc})") from exc
    if size != signed:
        raise LogRefused(f"the log holds {size} entries but its latest signed checkpoint covers {signed}: "
                         f"{abs(size - signed)} entries no signature covers; run `permitgw audit verify`")
    for anchor in anchors.found:
        cp = anchor.checkpoint
        if cp.size > size:
            raise LogRefused(f"the log holds {size} entries but {anchor.source} has a checkpoint of size {cp.size}: "
                             "entries were removed; run `permitgw audit verify`")
        try:
            ours = root(cp.size, store)
        except KeyError:
            ours = b""
        if ours != cp.root:
            raise LogRefused(f"the log is not consistent with the checkpoint of size {cp.size} from {anchor.source}:"
                             " it was rewritten; run `permitgw audit verify`")
    if anchors.problems:
        raise LogRefused(anchors.problems[0])
