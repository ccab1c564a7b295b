"""`permitgw demo` itself: the whole story, under 60 seconds, a refusal shown, the log verified, and
nothing left behind (no process, no temporary directory)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from tests.conftest import run_cli


def test_demo_tells_the_whole_story_quickly_and_cleans_up(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = run_cli("demo", timeout=120, env={**os.environ, "TMPDIR": str(tmp_path)})
    took = time.monotonic() - started
    out = proc.stdout
    assert took < 60, f"demo took {took:.0f} s"
    for step in ("school: may this child enrol", "refused: PERMISSION_DENIED", "[PURPOSE_NOT_ALLOWED]",
                 "facts behind housing security", "small cells suppressed", "OK, complete and unaltered",
                 "attestation OK", "nothing left running"):
        assert step in out, step
    assert list(tmp_path.iterdir()) == [], "the demo left files behind"
