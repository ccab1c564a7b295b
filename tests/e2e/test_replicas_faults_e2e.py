"""End to end: replicas under load lose their database connections, fail closed, and heal by themselves.

The replicas' backends are killed again and again with pg_terminate_backend while calls keep coming; then the
role is locked out (no login) so that every replica must say NOT_SERVING, and let in again, after which every
replica must serve again within a few seconds, without a restart. Throughout, a call is either answered — and
then its entry is in the log exactly once — or refused with UNAVAILABLE, never INTERNAL or anything else.

An import that loses its connection exits non-zero with one line; run again, it completes, and the database
holds exactly what a clean import into a fresh database holds.
"""
from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.client import channel
from gateway.datadir import DataDir
from gateway.synth import psb
from gateway.synth.people import residents
from tests.conftest import BIN, run_cli
from tests.e2e.cluster import Cluster, ask, cluster, make_data_dir
from tests.helpers import wait_until
from tests.pg import own_login

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
HEAL_SECONDS = 10.0  # "serves again within a few seconds"
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


class Load:
    """Threads calling the replicas round-robin, each call with a case id of its own, until stopped."""

    def __init__(self, c: Cluster, prefix: Path, threads: int = 6) -> None:
        self.c, self.prefix = c, prefix
        self.outcome: dict[str, str] = {}
        self._numbers = itertools.count()
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for t in self._threads:
            t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            n = next(self._numbers)
            case = f"F-{n}"
            r = self.c.replicas[n % len(self.c.replicas)]
            try:
                ask(r.address, self.prefix, self.c.people[n % len(self.c.people)].id_number, case, timeout=30)
                result = "OK"
            except grpc.RpcError as err:
                result = err.code().name
            with self._changed:
                self.outcome[case] = result
                self._changed.notify_all()

    def answered(self) -> int:
        with self._changed:
            return sum(1 for r in self.outcome.values() if r == "OK")

    def wait_answers(self, more: int, seconds: float) -> float:
        """Wait until `more` further calls have been answered; the time it took."""
        started = time.monotonic()
        with self._changed:
            goal = sum(1 for r in self.outcome.values() if r == "OK") + more
            assert self._changed.wait_for(lambda: sum(1 for r in self.outcome.values() if r == "OK") >= goal,
                                          timeout=seconds), f"fewer than {more} answers within {seconds} s"
        return time.monotonic() - started

    def stop(self) -> dict[str, str]:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)
        with self._changed:
            return dict(self.outcome)


def health(address: str, prefix: Path) -> int:
    with channel(address, prefix) as ch:
        return int(health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=10).status)


def test_replicas_under_load_fail_closed_when_their_connections_die_and_heal(tmp_path: Path) -> None:
    with cluster(tmp_path, 3, people=30, checkpoint_entries=50, tag="pgf") as c:
        for r in c.replicas:  # one client makes all the load: lift its quota (not what this test is about)
            quotas = r.data / "policies" / "quotas.toml"
            quotas.write_text(quotas.read_text().replace("[school]\nper_hour = 200\nper_day = 1000",
                                                         "[school]\nper_hour = -1\nper_day = -1"))
        prefix, officer = c.cert("school"), c.cert("officer", "police")
        c.start()
        load = Load(c, prefix)
        load.wait_answers(30, 60)

        blips = []
        for _ in range(5):  # connections killed under load: the replicas reconnect at once and go on
            assert c.login.kill() >= 1
            blips.append(load.wait_answers(20, 30))

        c.login.lock_out()  # now nobody can reconnect: every replica must say so
        for r in c.replicas:
            wait_until(lambda r=r: health(r.address, officer) == NOT_SERVING,  # type: ignore[misc]
                       f"{r.name} health NOT_SERVING", 15)
        refused_before = Counter(load.outcome.values())["UNAVAILABLE"]
        wait_until(lambda: Counter(load.outcome.values())["UNAVAILABLE"] > refused_before + 10,
                   "calls refused while locked out", 30)
        c.login.let_in()
        healed_at = time.monotonic()
        for r in c.replicas:
            wait_until(lambda r=r: health(r.address, officer) == SERVING,  # type: ignore[misc]
                       f"{r.name} health SERVING again", HEAL_SECONDS)
        load.wait_answers(30, HEAL_SECONDS)
        healed = time.monotonic() - healed_at
        outcome = load.stop()
        c.stop()

        failed = Counter(r for r in outcome.values() if r != "OK")
        ok = [case for case, r in outcome.items() if r == "OK"]
        assert set(failed) == {"UNAVAILABLE"}, f"calls failed other than UNAVAILABLE: {failed}"
        store = DataDir(c.first).open_store()
        try:
            entries = list(store.leaf_hashes())
        finally:
            store.close()
        assert [seq for seq, _, _ in entries] == list(range(1, len(entries) + 1))
        logged = Counter(e.case_id for _, _, e in entries if e.decision == "allow" and e.case_id.startswith("F-"))
        for case in ok:
            assert logged[case] == 1, f"answered call {case} is in the log {logged[case]} times"
        assert not [case for case, n in logged.items() if n > 1], "a call logged twice"
        verified = run_cli("audit", "verify", "--data", str(c.first), check=False)
        assert verified.returncode == 0 and "OK" in verified.stdout, verified.stdout + verified.stderr
        print(f"\n{len(ok)} answered, {failed['UNAVAILABLE']} UNAVAILABLE; after a kill, 20 more answers within "
              f"{max(blips):.2f} s; after the lock-out, all 3 replicas SERVING and answering {healed:.2f} s after "
              "the database let them in")


def _counts(dsn: str) -> dict[str, int]:
    tables = ("persons", "registrations", "permits", "guardianships", "facts")
    with psycopg.connect(dsn, autocommit=True) as db:
        return {t: int(db.execute(f"SELECT count(*) FROM permitgw.{t}").fetchone()[0])  # type: ignore[index]
                for t in tables}


def test_an_import_that_loses_its_connection_fails_in_one_line_and_a_rerun_completes_it(tmp_path: Path) -> None:
    people = residents(15000, seed=23)
    src = tmp_path / "big.csv"
    psb.write(src, people, seed=23, messy_rate=0.0)
    small = residents(5, seed=17)
    with own_login("pgi") as cut, own_login("pgj") as clean:
        broken = make_data_dir(tmp_path / "a", cut, small)
        reference = make_data_dir(tmp_path / "b", clean, small)
        run_cli("import", "--data", str(reference), "--bureau", "psb", "--json", str(src), timeout=600)
        expected = _counts(clean.dsn)

        before = _counts(cut.dsn)["persons"]
        proc = subprocess.Popen([str(BIN / "permitgw"), "import", "--data", str(broken), "--bureau", "psb", "--json",
                                 str(src)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: _counts(cut.dsn)["persons"] > before or proc.poll() is not None,
                       "the import to commit its first batch", 120)
            assert proc.poll() is None, "the import finished before its connection could be cut: make the file larger"
            assert cut.kill() >= 1
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 1, (proc.returncode, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("permitgw: PostgreSQL") and "Traceback" not in err, err
        partial = _counts(cut.dsn)["persons"]
        assert before < partial < expected["persons"], "the cut must fall mid-import"

        rerun = json.loads(run_cli("import", "--data", str(broken), "--bureau", "psb", "--json", str(src),
                                   timeout=600).stdout)
        assert rerun["read"] == rerun["accepted"] + rerun["rejected"] + rerun["duplicates"]
        assert rerun["duplicates"] >= partial - before, "rows committed before the cut count as duplicates"
        assert _counts(cut.dsn) == expected, "nothing lost, nothing doubled"
        print(f"\nimport cut after {partial - before} of {len(people)} people; the rerun completed it: {expected}")
