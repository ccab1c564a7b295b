"""Recorded full verifications over the in-memory store: the check is audit verify's own, its outcome is recorded
(ok or failed, the size, one line), and the latest record is what the console shows."""
from __future__ import annotations

import dataclasses

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.checkpoint import Checkpoint, sign_checkpoint, verifier_key
from gateway.audit.entry import AccessEntry
from gateway.audit.rfc9162 import root
from gateway.audit.verify import verify_log
from gateway.service.oversight_verify import MAX_MESSAGE, latest_verification, message, run_full_verification
from tests.fakes import FakeStore

ORIGIN = "permitgw.test/oversight"
KEY = Ed25519PrivateKey.generate()
VERIFIER = verifier_key(ORIGIN, KEY.public_key())
NOW = "2026-06-15T12:00:00+08:00"


def entry(i: int) -> AccessEntry:
    return AccessEntry(f"2026-06-15T03:{i:02d}:00.000000Z", "school/330203/o1", "ab", "school", "o1", "330203",
                       "/permitgw.v1.Residence/GetStatus", "enrolment", f"case-{i}", "op", "", "allow", "OK", "v1")


def signed_log(n: int) -> FakeStore:
    store = FakeStore()
    store.append_accesses([entry(i) for i in range(n)])
    note = sign_checkpoint(Checkpoint(ORIGIN, n, root(n, store)), ORIGIN, KEY).decode("utf-8")
    store.add_checkpoint(n, root(n, store), note)
    return store


def test_an_intact_log_is_recorded_as_verified() -> None:
    store = signed_log(5)
    assert latest_verification(store) is None
    record = run_full_verification(store, VERIFIER, NOW)
    assert (record.time, record.ok, record.size) == ("2026-06-15T04:00:00.000000Z", True, 5)
    assert record.message.startswith("OK") and "\n" not in record.message
    assert latest_verification(store) == record == store.verifications[-1]


def test_a_tampered_log_is_recorded_as_failed_with_its_first_problem() -> None:
    store = signed_log(5)
    store.entries[2] = dataclasses.replace(store.entries[2], purpose="curiosity")
    record = run_full_verification(store, VERIFIER, NOW)
    assert (record.ok, record.size) == (False, 5)
    assert record.message.startswith("FAILED") and "entry 3 was altered" in record.message
    assert latest_verification(store) == record


def test_it_is_audit_verifys_own_check_and_the_latest_record_wins() -> None:
    store = signed_log(3)
    run_full_verification(store, VERIFIER, "2026-06-15T01:00:00Z")
    other = verifier_key(ORIGIN, Ed25519PrivateKey.generate().public_key())  # not the gateway's key
    record = run_full_verification(store, other, "2026-06-15T02:00:00Z")
    assert not record.ok and record.ok == verify_log(store, other).ok
    assert [r.ok for r in store.verifications] == [True, False]
    assert latest_verification(store) == record


def test_an_empty_log_fails_unless_the_gateway_is_new() -> None:
    assert not run_full_verification(FakeStore(), VERIFIER, NOW).ok
    assert run_full_verification(FakeStore(), VERIFIER, NOW, new_gateway=True).ok


def test_the_message_is_one_bounded_line() -> None:
    report = verify_log(signed_log(2), VERIFIER)
    report.problems.append("a problem\nspanning lines " + "z" * 2000)
    line = message(report)
    assert "\n" not in line and len(line) == MAX_MESSAGE and line.startswith("FAILED: 1 problem(s): a problem")
