"""Import under stress: a SIGKILL mid-file loses no committed row and the re-run duplicates none;
a terminal gets a progress bar with rows/s and ETA, `--json` gets the summary and no bar."""
from __future__ import annotations

import contextlib
import json
import os
import pty
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from gateway.datadir import DataDir
from gateway.synth import psb
from gateway.synth.people import residents
from tests.conftest import BIN, run_cli


def _counts(data: DataDir) -> dict[str, int]:
    store = data.open_store()
    try:
        return {k: v for k, v in store.counts().items() if k not in ("imports", "access_log")}
    finally:
        store.close()


def _committed_persons(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as con:
        return int(con.execute("SELECT count(*) FROM persons").fetchone()[0])


def _kill_after_committed(data: DataDir, src: Path, at_least: int) -> int:
    """Start an import, wait until `at_least` persons are committed, freeze the database, kill the importer.

    The kill lands at an observed point, whatever the machine's speed: once the test holds SQLite's write
    lock, the importer can commit nothing more, so the count read under that lock is exactly what the
    killed import left behind.
    """
    proc = subprocess.Popen([str(BIN / "permitgw"), "import", "--data", str(data.root), "--bureau", "psb",
                             "--json", str(src)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while _committed_persons(data.database) < at_least:
            assert proc.poll() is None, f"the import ended before {at_least} persons were committed"
            assert time.monotonic() < deadline, "no progress within 120 s"
            proc_wait(proc, 0.005)
        with contextlib.closing(sqlite3.connect(data.database, timeout=30, isolation_level=None)) as con:
            con.execute("BEGIN IMMEDIATE")  # the importer's next commit now waits for us
            committed = int(con.execute("SELECT count(*) FROM persons").fetchone()[0])
            assert proc.poll() is None, "the import finished before the kill"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            con.execute("ROLLBACK")
        return committed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def proc_wait(proc: subprocess.Popen[bytes], seconds: float) -> None:
    """Give the importer the CPU for a moment (returns early if it exits); not a synchronisation point."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=seconds)


def test_sigkill_mid_import_then_rerun_equals_a_clean_import(data: DataDir, tmp_path: Path) -> None:
    src = tmp_path / "jzdj_big.csv"
    made = psb.write(src, residents(6000, seed=31), seed=31, messy_rate=0.2)
    (data.config_file).write_text('[import]\nbatch_size = 200\n')
    first = _kill_after_committed(data, src, at_least=200)  # after the first batch
    second = _kill_after_committed(data, src, at_least=first + 600)  # three batches later (the rest are duplicates)
    killed_after = [first, second]
    rerun = json.loads(run_cli("import", "--data", str(data.root), "--bureau", "psb", "--json", str(src)).stdout)
    assert rerun["read"] == made["rows"] == rerun["accepted"] + rerun["rejected"] + rerun["duplicates"]
    assert rerun["rejected"] == made["bad_id"]

    clean = DataDir(tmp_path / "clean")
    run_cli("init", "--data", str(clean.root))
    once = json.loads(run_cli("import", "--data", str(clean.root), "--bureau", "psb", "--json", str(src)).stdout)
    assert _counts(data) == _counts(clean), "kill + re-run must end exactly where one clean import ends"
    assert 0 < killed_after[0] < _counts(clean)["persons"], f"the kill should land mid-file: {killed_after}"
    # rows committed before the kills are duplicates on the re-run, not accepted twice
    assert rerun["accepted"] < once["accepted"]


def test_progress_bar_on_a_terminal_and_none_with_json(data: DataDir, tmp_path: Path) -> None:
    src = tmp_path / "jzdj_p.csv"
    psb.write(src, residents(3000, seed=4), seed=4)
    (data.config_file).write_text('[import]\nbatch_size = 100\n')
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(BIN / "permitgw"), "import", "--data", str(data.root), "--bureau", "psb", str(src)],
                            stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    out, _ = proc.communicate(timeout=120)
    bar = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        bar += chunk
    os.close(master)
    assert proc.returncode == 0, out
    text = bar.decode("utf-8", "replace")
    assert "rows/s" in text and "ETA" in text and "100%" in text, text[-300:]
    assert out.startswith("read 3000: accepted 3000")

    quiet = run_cli("import", "--data", str(data.root), "--bureau", "psb", "--json", str(src))
    assert json.loads(quiet.stdout)["duplicates"] == 3000 and quiet.stderr == ""
