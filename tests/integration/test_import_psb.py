"""`permitgw import --bureau psb` on real files: every row accounted for, idempotent, nothing leaked."""
from __future__ import annotations

import json
from pathlib import Path

from gateway.datadir import DataDir
from gateway.synth import psb
from gateway.synth.people import residents
from tests.conftest import run_cli


def _import(data: DataDir, *files: Path) -> dict[str, object]:
    return json.loads(run_cli("import", "--data", str(data.root), "--bureau", "psb", "--json",
                              *map(str, files)).stdout)


def test_messy_file_counts_add_up_and_reimport_changes_nothing(data: DataDir, tmp_path: Path) -> None:
    people = residents(300, seed=21)
    src = tmp_path / "jzdj_messy.csv"
    made = psb.write(src, people, seed=21, messy_rate=0.4, encoding="gb18030")
    first = _import(data, src)
    assert first["read"] == made["rows"]
    assert first["read"] == first["accepted"] + first["rejected"] + first["duplicates"]
    assert made["bad_id"] > 0 and made["duplicates"] > 0, "the sample must hold both kinds of mess"
    assert (first["rejected"], first["duplicates"]) == (made["bad_id"], made["duplicates"])
    assert first["accepted"] == made["rows"] - made["bad_id"] - made["duplicates"]
    store = data.open_store()
    before = store.counts()
    store.close()

    second = _import(data, src)
    assert second["read"] == first["read"]
    assert second["accepted"] == 0
    assert second["duplicates"] == first["accepted"] + first["duplicates"]
    assert second["rejected"] == first["rejected"]
    store = data.open_store()
    after = store.counts()
    store.close()
    assert {k: v for k, v in after.items() if k != "imports"} == {k: v for k, v in before.items() if k != "imports"}


def test_rejects_file_names_file_line_reason_and_no_values(data: DataDir, tmp_path: Path) -> None:
    people = residents(200, seed=8)
    src = tmp_path / "jzdj_bad.csv"
    made = psb.write(src, people, seed=8, messy_rate=0.5)
    summary = _import(data, src)
    assert made["bad_id"] > 0 and summary["rejected"] == made["bad_id"]
    text = Path(summary["rejects_file"]).read_text("utf-8")
    lines = text.splitlines()
    assert lines[0] == "file,line,reason"
    for line in lines[1:]:
        name, lineno, reason = line.split(",", 2)
        assert name == "jzdj_bad.csv" and int(lineno) >= 2 and reason.startswith(("GMSFHM", "JHRGMSFHM"))
    for p in people:
        assert p.id_number not in text and p.id_number[:17] not in text and p.name not in text


def test_legacy_hukou_nature_is_never_stored(data: DataDir, tmp_path: Path) -> None:
    src = tmp_path / "jzdj_hkxz.csv"
    psb.write(src, residents(50, seed=2), seed=2)  # every row carries HKXZ 农业/非农业
    _import(data, src)
    raw = b"".join(p.read_bytes() for p in data.root.glob("gateway.db*"))
    for word in ("农业", "非农业"):
        assert word.encode("utf-8") not in raw and word.encode("gb18030") not in raw


def test_unknown_bureau_and_unreadable_file_fail_clearly(data: DataDir, tmp_path: Path) -> None:
    proc = run_cli("import", "--data", str(data.root), "--bureau", "civil", str(tmp_path / "x.csv"), check=False)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    utf16 = tmp_path / "jzdj_u16.csv"
    utf16.write_text("GMSFHM,XM\n", encoding="utf-16")
    proc = run_cli("import", "--data", str(data.root), "--bureau", "psb", str(utf16), check=False)
    assert proc.returncode == 1 and "UTF-16" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("import", "--data", str(data.root), "--bureau", "psb", str(tmp_path / "missing.csv"), check=False)
    assert proc.returncode == 1 and "no such file" in proc.stderr
