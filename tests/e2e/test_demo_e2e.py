"""`permitgw demo` itself: the whole story, under 60 seconds, a refusal shown, the log verified, the console's
address and how to sign in printed, and nothing left behind (no process, no temporary directory). With
`--keep-running` the console it prints answers the auditor's certificate it printed, until SIGINT or SIGTERM."""
from __future__ import annotations

import http.client
import os
import re
import signal
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import BIN, run_cli
from tests.e2e.conftest import ServerOutput

SIGN_IN = re.compile(r"curl --cacert (\S+) --cert (\S+) --key (\S+) (https://127\.0\.0\.1:\d+/)")


def test_demo_tells_the_whole_story_quickly_and_cleans_up(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = run_cli("demo", timeout=120, env={**os.environ, "TMPDIR": str(tmp_path)})
    took = time.monotonic() - started
    out = proc.stdout
    assert took < 60, f"demo took {took:.0f} s"
    for step in ("school: may this child enrol", "refused: PERMISSION_DENIED", "[PURPOSE_NOT_ALLOWED]",
                 "facts behind housing security", "small cells suppressed", "GET /search -> 200",
                 "OK, complete and unaltered", "attestation OK", "the officers' console: https://127.0.0.1:",
                 "auditor.p12 into the browser, password ", "--keep-running", "nothing left running"):
        assert step in out, step
    assert SIGN_IN.search(out), "the demo says how to sign in with the PEM files"
    assert out.rstrip().splitlines()[-1].endswith("nothing left running")
    assert list(tmp_path.iterdir()) == [], "the demo left files behind"


def _get(url: str, cafile: str, cert: str, key: str, path: str) -> tuple[int, str]:
    ctx = ssl.create_default_context(cafile=cafile)  # the gateway CA, and nothing else, vouches for the console
    ctx.load_cert_chain(cert, key)
    host, port = url.removeprefix("https://").rstrip("/").rsplit(":", 1)
    conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8")
    finally:
        conn.close()


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_keep_running_serves_the_console_to_the_printed_certificate_until_a_signal(
        tmp_path: Path, stop_with: signal.Signals) -> None:
    proc = subprocess.Popen([str(BIN / "permitgw"), "demo", "--keep-running"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert proc.stdout is not None and proc.stderr is not None
    out, err = ServerOutput(proc.stdout), ServerOutput(proc.stderr)
    try:
        out.wait_for("running until Ctrl-C", seconds=60)
        found = SIGN_IN.search("".join(out.lines))
        assert found, out.lines[-8:]
        cafile, cert, key, url = found.groups()
        status, body = _get(url, cafile, cert, key, "/search?lang=en")
        assert status == 200 and "auditor/330200/DEMO-AUDITOR" in body
        mark = err.mark()
        assert _get(url, cafile, cert, key, "/search")[0] == 200
        err.wait_for("GET /search 200 auditor/330200/DEMO-AUDITOR", after=mark)  # served to the auditor, by name
        proc.send_signal(stop_with)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert out.text().rstrip().splitlines()[-1].endswith("nothing left running")
    assert list(tmp_path.iterdir()) == [], "the demo left files behind"
