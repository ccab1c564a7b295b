"""End to end: a certificate revoked on one replica is refused by every replica within 5 s.

Three replicas share one PostgreSQL schema, each on its own copy of the data directory. `permitgw cert revoke`
runs against the first replica's directory only (so only that host's certs/revoked.txt changes); the other two
must learn it from the database. None of them may turn "damaged" because its own file lacks the serial: the
other certificates keep being answered everywhere.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from cryptography import x509

from tests.conftest import run_cli
from tests.e2e.cluster import ask, cluster
from tests.e2e.conftest import wait_until_revoked

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
REVOKE_WITHIN = 5.0


def serial_of(prefix: Path) -> str:
    return format(x509.load_pem_x509_certificate(Path(f"{prefix}.crt").read_bytes()).serial_number, "x")


def test_a_revocation_on_one_replica_is_refused_by_every_replica_within_5_s(tmp_path: Path) -> None:
    with cluster(tmp_path, 3) as c:
        doomed, other = c.cert("doomed"), c.cert("other")
        c.start()
        who = c.people[0].id_number
        for r in c.replicas:
            ask(r.address, doomed, who, "BEFORE")
            ask(r.address, other, who, "BEFORE")

        run_cli("cert", "revoke", "--data", str(c.first), "--serial", serial_of(doomed))
        revoked_at = time.monotonic()
        for r in c.replicas:
            wait_until_revoked(lambda r=r: ask(r.address, doomed, who, "AFTER"),  # type: ignore[misc]
                               REVOKE_WITHIN - (time.monotonic() - revoked_at))
        took = time.monotonic() - revoked_at
        assert took < REVOKE_WITHIN, f"the last replica refused the certificate {took:.1f} s after the revoke"
        print(f"\nrevocation in force on all 3 replicas {took:.2f} s after `cert revoke`")

        for r in c.replicas:  # nobody turned "damaged": the other certificate is still answered everywhere
            ask(r.address, other, who, "STILL")
            assert r.out is not None and not any("damaged" in line for line in r.out.lines), r.out.lines
            # the host's own file catches up, so it stays a complete copy of the cluster's revocations
            assert serial_of(doomed) in (r.data / "certs" / "revoked.txt").read_text().split()

        # and it stays so: a restart of a replica whose directory never saw the revoke still refuses it
        c.replicas[2].stop()
        c.replicas[2].start()
        wait_until_revoked(lambda: ask(c.replicas[2].address, doomed, who, "RESTART"), REVOKE_WITHIN)
        ask(c.replicas[2].address, other, who, "RESTART")

        # a replica stopped while another revoked starts whole: it refuses the new revocation at once, answers
        # the others (not "damaged"), and its file catches up
        late = c.cert("late")
        ask(c.replicas[1].address, late, who, "LATE-BEFORE")
        c.replicas[1].stop()
        run_cli("cert", "revoke", "--data", str(c.first), "--serial", serial_of(late))
        c.replicas[1].start()
        wait_until_revoked(lambda: ask(c.replicas[1].address, late, who, "LATE-AFTER"), REVOKE_WITHIN)
        ask(c.replicas[1].address, other, who, "LATE-OTHER")
        assert serial_of(late) in (c.replicas[1].data / "certs" / "revoked.txt").read_text().split()
        c.stop()
