"""End to end: one log, many writers, one tree. Three replicas append under load and one is killed with SIGKILL.

Every call carries a case id of its own, so the log can be searched for it. After the load: every call that got
an answer is in the log exactly once (and no call twice), the sequence numbers are 1..n with no gap,
`permitgw audit verify` passes, and every checkpoint seen signed during the load (sampled from the checkpoints
table while the replicas replace their interim heads) is a head of the one final tree: same size, same root,
and a consistency proof from it to the final head verifies. Two different signed heads of one size — a fork —
would fail it.
"""
from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import psycopg
import pytest

from gateway.audit.checkpoint import verify_checkpoint
from gateway.audit.rfc9162 import consistency_proof, root, verify_consistency
from gateway.datadir import DataDir
from tests.conftest import run_cli
from tests.e2e.cluster import Cluster, ask, cluster
from tests.helpers import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
CALLS = 450
KILL_AFTER = 150  # answers observed before replica r1 is killed


def raise_quotas(data: Path) -> None:
    """Per-certificate quotas are not what this test is about: let one school make every call."""
    quotas = data / "policies" / "quotas.toml"
    quotas.write_text(quotas.read_text("utf-8").replace("[school]\nper_hour = 200\nper_day = 1000",
                                                         "[school]\nper_hour = -1\nper_day = -1"), "utf-8")
    assert "per_hour = -1" in quotas.read_text("utf-8")


class CheckpointSampler:
    """Reads the checkpoints table again and again while the load runs: every signed head it sees, kept."""

    def __init__(self, dsn: str) -> None:
        self.notes: set[str] = set()
        self._stop = threading.Event()
        self._dsn = dsn
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with psycopg.connect(self._dsn, autocommit=True) as db:
            while True:
                self.notes.update(r[0] for r in db.execute("SELECT note FROM permitgw.checkpoints").fetchall())
                if self._stop.wait(0.01):
                    return

    def stop(self) -> set[str]:
        self._stop.set()
        self._thread.join(timeout=10)
        return self.notes


def run_load(c: Cluster, prefix: Path, victim: int) -> dict[str, str]:
    """CALLS calls spread round-robin over the replicas from 12 threads; replica `victim` is killed -9 once
    KILL_AFTER answers have been seen. case id → "OK" or the status code's name."""
    outcome: dict[str, str] = {}
    answered = threading.Semaphore(0)
    lock = threading.Lock()
    killed = threading.Event()

    def one(n: int) -> None:
        r = c.replicas[n % len(c.replicas)]
        case = f"LOAD-{n}"
        who = c.people[n % len(c.people)].id_number
        try:
            ask(r.address, prefix, who, case, timeout=30)
        except grpc.RpcError as err:
            with lock:
                outcome[case] = err.code().name
            return
        with lock:
            outcome[case] = "OK"
        answered.release()

    def killer() -> None:
        for _ in range(KILL_AFTER):
            assert answered.acquire(timeout=120), "the load stalled before the kill"
        c.replicas[victim].kill9()
        killed.set()

    k = threading.Thread(target=killer, daemon=True)
    k.start()
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(one, range(CALLS)))
    k.join(timeout=60)
    assert killed.is_set(), "the replica was never killed mid-load"
    return outcome


def test_three_replicas_one_log_kill_9_mid_load(tmp_path: Path) -> None:
    with cluster(tmp_path, 3, people=30, checkpoint_entries=50) as c:
        raise_quotas(c.first)
        for r in c.replicas[1:]:
            raise_quotas(r.data)
        prefix = c.cert("school")
        c.start()
        sampler = CheckpointSampler(c.login.dsn)
        outcome = run_load(c, prefix, victim=1)
        for r in (c.replicas[0], c.replicas[2]):  # the others go on serving
            ask(r.address, prefix, c.people[0].id_number, f"AFTER-{r.name}")
            outcome[f"AFTER-{r.name}"] = "OK"
        c.stop()
        notes = sampler.stop()

        ok = [case for case, result in outcome.items() if result == "OK"]
        failed = Counter(result for result in outcome.values() if result != "OK")
        assert set(failed) <= {"UNAVAILABLE"}, f"calls failed other than UNAVAILABLE: {failed}"
        assert len(ok) >= KILL_AFTER + 2 and failed, (len(ok), failed)

        data = DataDir(c.first)
        store = data.open_store()
        try:
            entries = list(store.leaf_hashes())
            seqs = [seq for seq, _, _ in entries]
            assert seqs == list(range(1, len(seqs) + 1)), "the log has a gap or a repeated seq"
            logged = Counter(e.case_id for _, _, e in entries if e.decision == "allow")
            for case in ok:
                assert logged[case] == 1, f"answered call {case} is in the log {logged[case]} times"
            doubled = [case for case, n in logged.items() if n > 1]
            assert not doubled, f"calls logged twice: {doubled[:5]}"

            size = len(entries)
            final_root = root(size, store)
            verifier = data.log_verifier()
            notes.update(note for _, _, note in store.checkpoints())
            heads = [verify_checkpoint(note, verifier) for note in notes]  # every one signed with the log key
            by_size: dict[int, set[bytes]] = {}
            for h in heads:
                by_size.setdefault(h.size, set()).add(h.root)
            forks = {s: len(roots) for s, roots in by_size.items() if len(roots) > 1}
            assert not forks, f"two different signed heads of one size: {forks}"
            assert max(by_size) == size, "the last batch's head must cover the whole log"
            for h in heads:  # every signed head is a prefix of the one final tree
                assert verify_consistency(h.size, size, h.root, final_root, consistency_proof(h.size, size, store)), (
                    f"the signed head of size {h.size} is not a prefix of the log")
            print(f"\n{len(ok)} answered, {sum(failed.values())} UNAVAILABLE (the killed replica), {size} entries, "
                  f"{len(by_size)} distinct signed heads seen, no fork")
        finally:
            store.close()

        verified = run_cli("audit", "verify", "--data", str(c.first), check=False)
        assert verified.returncode == 0 and "OK" in verified.stdout, verified.stdout + verified.stderr

        c.replicas[1].start()  # the killed replica comes back on the same log and appends to it
        ask(c.replicas[1].address, prefix, c.people[0].id_number, "BACK")
        c.replicas[1].stop()
        wait_until(lambda: run_cli("audit", "verify", "--data", str(c.replicas[1].data),
                                   check=False).returncode == 0, "audit verify after the restart", 30)
