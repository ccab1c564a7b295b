"""Full verifications of the access log, recorded: the console shows when the log was last checked and how it fared.

`run_full_verification` runs exactly the check of `permitgw audit verify` (gateway/audit/verify.verify_log: every
leaf recomputed, every stored checkpoint's signature and root, the stored Merkle nodes, and any checkpoints known
outside the database given as `anchors`) over the store it is given, and records the outcome in that store.
"""
from __future__ import annotations

from collections.abc import Sequence

from gateway.audit.anchors import Anchors
from gateway.audit.oversight_rows import VerificationRecord
from gateway.audit.port import LogStore
from gateway.audit.verify import VerifyReport, summary, verify_log
from gateway.service.oversight_time import instant, log_time

MAX_MESSAGE = 500  # characters of the one-line message kept


def message(report: VerifyReport) -> str:
    """One line: the verdict `audit verify` prints, and for a failure the first problem it found."""
    verdict = summary(report)[-1]
    line = f"{verdict}: {report.problems[0]}" if report.problems else verdict
    line = " ".join(line.split())
    return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE - 1] + "\u2026"


def run_full_verification(store: LogStore, verifier: str, now: str, *, anchors: Anchors | None = None,
                          witness_keys: Sequence[str] = (), new_gateway: bool = False) -> VerificationRecord:
    """Verify the whole log with the gateway's verifier key (as `audit verify` does) and record the outcome at
    `now` (RFC 3339); the record is returned too. A failure is recorded as such, never raised."""
    at = log_time(instant(now, "now"))
    report = verify_log(store, verifier, anchors, new_gateway=new_gateway, witness_keys=list(witness_keys))
    record = VerificationRecord(at, report.ok, report.size, message(report))
    store.add_verification(record)
    return record


def latest_verification(store: LogStore) -> VerificationRecord | None:
    """The verification recorded last, or None if the log has never been verified in full."""
    return store.latest_verification()
