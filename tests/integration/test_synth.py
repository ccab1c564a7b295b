"""`permitgw synth`: one synthetic population in every bureau's dialect — deterministic, consistent, countable.

The files are read back as a bureau would send them (headers of docs/bureau-files.md, identity numbers per GB 11643),
and the writers' counts are held to what an importer must report for the same files.
"""
from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters import registry
from gateway.datadir import DataDir
from gateway.domain.dates import parse_date, parse_month
from gateway.domain.districts import District
from gateway.domain.idnumber import IdNumber, InvalidIdNumber
from gateway.synth import psb
from gateway.synth.people import residents
from gateway.synth.write import BUREAU_FILES, write_all, write_bureaus
from tests.conftest import run_cli

AS_OF = _dt.date(2026, 3, 1)
N, SEED, MESSY = 600, 11, 0.3

# docs/bureau-files.md, column for column (written out here, not taken from the writers)
HEADERS = {
    "jzdj": "GMSFHM,XM,XB,CSRQ,HJDZ_XZQH,JZDZ,JZD_XZQH,JZDJRQ,ZSLX,JZZBH,FZRQ,YXQZ,QZRQ,JZZZT,HKXZ,JHRGMSFHM,RCLB",
    "sbjf": "AAC002,AAC003,AAB001,AAB004,AAE140,AAE002,AAE003,AAA115",
    "ldht": "AAC002,AAB001,AAB004,AAE030,AAE031,JYDJ",
    "bdc": "BDCQZH,QLRZJH,QLRMC,FWZL,XZQH,DJSJ,GYRZJH",
    "czfw": "BAH,CZRZJH,CHZRZJH,FWDZ,XZQH,QSRQ,ZZRQ,BAZT",
    "yyzz": "TYSHXYDM,FDDBRZJH,DJRQ,ZXRQ,LX",
    "tdcb": "HTBH,CBFZJH,LX,QSRQ,ZZRQ",
    "xj": "XJH,XM,SFZJH,XXDM,XXMC,XD,RXNY,XJZT,JHR1SFZJH,JHR1GX,JHR2SFZJH,JHR2GX",
}
SUBJECT = {"jzdj": "GMSFHM", "sbjf": "AAC002", "ldht": "AAC002", "bdc": "QLRZJH", "czfw": "CHZRZJH",
           "yyzz": "FDDBRZJH", "tdcb": "CBFZJH", "xj": "SFZJH"}


def _ids(value: str) -> str:
    return ";".join(IdNumber.parse(v).value for v in value.split(";")) if value.strip() else ""


def _district(value: str) -> str:
    return District.parse(value).code


def _date(value: str) -> str:
    return parse_date(value).isoformat() if value else ""


def _month(value: str) -> str:
    return parse_month(value).replace("-", "") if value else ""


def _skip(value: str) -> str:
    return ""


def _id(value: str) -> str:
    return IdNumber.parse(value).value


# how each file's messy columns read back: to the clean file's spelling
NORMALISE: dict[str, dict[str, Callable[[str], str]]] = {
    "jzdj": {"GMSFHM": _id, "JHRGMSFHM": _ids, "CSRQ": _date, "JZDJRQ": _date, "FZRQ": _date, "YXQZ": _date,
             "QZRQ": _date, "JZD_XZQH": _district, "HKXZ": _skip},  # HKXZ is drawn at random per row: not data
    "sbjf": {"AAC002": _id, "AAE002": _month, "AAE003": _month},
    "ldht": {"AAC002": _id, "AAE030": _date, "AAE031": _date},
    "bdc": {"QLRZJH": _id, "GYRZJH": _ids, "XZQH": _district, "DJSJ": _date},
    "czfw": {"CZRZJH": _id, "CHZRZJH": _id, "XZQH": _district, "QSRQ": _date, "ZZRQ": _date},
    "yyzz": {"FDDBRZJH": _id, "DJRQ": _date, "ZXRQ": _date},
    "tdcb": {"CBFZJH": _id, "QSRQ": _date, "ZZRQ": _date},
    "xj": {"SFZJH": _id, "JHR1SFZJH": _ids, "JHR2SFZJH": _ids, "RXNY": _month},
}


def _kind(path: Path) -> str:
    return path.name.split("_", 1)[0]


def _text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_text(path), newline="")))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, str]]]:
    out = tmp_path_factory.mktemp("clean")
    write_all(out, residents=N, seed=SEED, as_of=AS_OF)
    return {_kind(p): _rows(p) for p in sorted(out.iterdir())}


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[Path, dict[str, int]]]:
    out = tmp_path_factory.mktemp("messy")
    return out, write_bureaus(out, residents(N, SEED, AS_OF), seed=SEED, messy_rate=MESSY)


@pytest.fixture(scope="module")
def jzdj(clean: dict[str, list[dict[str, str]]]) -> dict[str, dict[str, str]]:
    return {r["GMSFHM"]: r for r in clean["jzdj"]}


def _digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


# --- determinism ----------------------------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        write_all(tmp_path / name, residents=300, seed=seed, messy_rate=0.2, as_of=AS_OF)
        runs[name] = _digests(tmp_path / name)
    assert sorted(runs["a"]) == sorted(name for files in BUREAU_FILES.values() for name, _ in files)
    assert runs["a"] == runs["b"]
    assert all(runs["a"][f] != runs["c"][f] for f in runs["a"])


def test_output_does_not_depend_on_hash_randomisation(tmp_path: Path) -> None:
    write_all(tmp_path / "here", residents=300, seed=9, messy_rate=0.2, as_of=AS_OF)
    code = ("import datetime, pathlib, sys; from gateway.synth.write import write_all; "
            "write_all(pathlib.Path(sys.argv[1]), residents=300, seed=9, messy_rate=0.2, "
            "as_of=datetime.date(2026, 3, 1))")
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", code, str(tmp_path / hash_seed)], check=True, env=env, timeout=120)
        assert _digests(tmp_path / hash_seed) == _digests(tmp_path / "here")


def test_psb_people_are_as_before_lives_were_added(tmp_path: Path) -> None:
    """residents() keeps its random stream for the PSB fields: this file's bytes predate gateway/synth/lives.py."""
    path = tmp_path / "jzdj_golden.csv"
    psb.write(path, residents(60, seed=5, as_of=AS_OF), seed=5)
    assert hashlib.sha256(path.read_bytes()).hexdigest().startswith("e5e7304f0021545c")


# --- the files as bureaus send them ---------------------------------------------------------------------------


def test_every_file_has_its_bureau_header(clean: dict[str, list[dict[str, str]]],
                                          messy: tuple[Path, dict[Path, dict[str, int]]]) -> None:
    assert sorted(clean) == sorted(HEADERS)
    for path in messy[1]:
        assert _text(path).splitlines()[0] == HEADERS[_kind(path)], path.name
    for kind, rows in clean.items():
        assert ",".join(rows[0]) == HEADERS[kind] and rows, kind


def test_clean_files_are_plain_csv_utf8(tmp_path: Path) -> None:
    write_all(tmp_path, residents=200, seed=4, as_of=AS_OF)
    for path in tmp_path.iterdir():
        text = path.read_bytes().decode("utf-8")  # no BOM, no GB18030 without mess
        buf = io.StringIO()
        csv.writer(buf).writerows(csv.reader(io.StringIO(text, newline="")))
        assert buf.getvalue() == text, f"{path.name} is not what csv.writer writes"


def test_clean_identity_numbers_are_valid_and_canonical(clean: dict[str, list[dict[str, str]]]) -> None:
    id_columns = {c for cols in NORMALISE.values() for c, f in cols.items() if f in (_id, _ids)}
    for kind, rows in clean.items():
        for row in rows:
            for column in id_columns & row.keys():
                for value in filter(None, row[column].split(";")):
                    assert IdNumber(value).value == value, (kind, column)


def test_credit_codes_are_valid_gb32100(clean: dict[str, list[dict[str, str]]]) -> None:
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # 3**i mod 31 (GB 32100-2015)
    codes = [r["TYSHXYDM"] for r in clean["yyzz"]]
    assert codes and len(set(codes)) == len(codes)
    for code in codes:
        total = sum(chars.index(c) * w for c, w in zip(code[:17], weights, strict=True))
        assert len(code) == 18 and code[17] == chars[(31 - total % 31) % 31], code
    assert {r["LX"] for r in clean["yyzz"]} <= {"GTGSH", "QY", "MFQY", "SWS"}


# --- one population across the bureaus ----------------------------------------------------------------------


def test_other_bureaus_name_people_in_jzdj(clean: dict[str, list[dict[str, str]]],
                                           jzdj: dict[str, dict[str, str]]) -> None:
    for kind, column in (("sbjf", "AAC002"), ("ldht", "AAC002"), ("yyzz", "FDDBRZJH"), ("tdcb", "CBFZJH"),
                         ("czfw", "CHZRZJH"), ("xj", "SFZJH"), ("xj", "JHR1SFZJH"), ("xj", "JHR2SFZJH")):
        values = {r[column] for r in clean[kind]} - {""}
        assert values and values <= jzdj.keys(), (kind, column)
    assert all(jzdj[r["AAC002"]]["XM"] == r["AAC003"] for r in clean["sbjf"])
    assert all(jzdj[r["SFZJH"]]["XM"] == r["XM"] for r in clean["xj"])
    co_owners = {c for r in clean["bdc"] for c in r["GYRZJH"].split(";") if c}
    assert co_owners and co_owners <= jzdj.keys()


def test_housing_agrees_with_the_psb_housing_type(clean: dict[str, list[dict[str, str]]],
                                                  jzdj: dict[str, dict[str, str]]) -> None:
    titles = defaultdict(list)
    for r in clean["bdc"]:
        titles[r["FWZL"]].append(r)
    rentals = defaultdict(list)
    for r in clean["czfw"]:
        rentals[r["CHZRZJH"]].append(r)
    seen = Counter()
    for pid, p in jzdj.items():
        zslx = p["ZSLX"]
        if p["JHRGMSFHM"]:  # a child lives in the guardian's home
            assert zslx == jzdj[p["JHRGMSFHM"]]["ZSLX"]
            continue
        here = titles[p["JZDZ"]]
        states = [r["BAZT"] for r in rentals[pid]]
        if zslx == "11":
            assert any(t["QLRZJH"] == pid and t["XZQH"] == p["JZD_XZQH"] for t in here), "own home without a title"
        elif zslx == "12":
            owners = [t["QLRZJH"] for t in here]
            assert owners and pid not in owners, "a relative's home must be the relative's"
            assert all(o in jzdj or o.startswith("3302") for o in owners), "relative: a migrant, or a Ningbo local"
            seen["12 in jzdj" if owners[0] in jzdj else "12 local"] += 1
        elif zslx == "31":
            assert states == ["1"], "a registered rental has one registration with BAZT 1"
        else:
            assert not here and states in ([], ["0"]) and (zslx == "32" or not states), zslx
            seen[f"{zslx} {states}"] += 1
    assert seen["12 in jzdj"] and seen["12 local"] and seen["32 ['0']"] and seen["32 []"], seen


def test_enrolments_agree_with_the_psb(clean: dict[str, list[dict[str, str]]],
                                       jzdj: dict[str, dict[str, str]]) -> None:
    stages = Counter()
    for r in clean["xj"]:
        child = jzdj[r["SFZJH"]]
        assert r["XJH"] == "G" + r["SFZJH"]
        assert len(r["XXDM"]) == 10 and r["XXDM"].isdigit() and r["XXDM"][1:7] == child["JZD_XZQH"]
        assert r["RXNY"] <= f"{AS_OF:%Y%m}" and r["XJZT"] in {"01", "02", "03", "04"}
        guardians = [(r[f"JHR{i}SFZJH"], r[f"JHR{i}GX"]) for i in (1, 2) if r[f"JHR{i}SFZJH"]]
        for gid, relation in guardians:
            assert relation == {"1": "51", "2": "52"}[jzdj[gid]["XB"]]
        if child["JHRGMSFHM"]:
            assert child["JHRGMSFHM"] in [g for g, _ in guardians]
        else:
            assert not guardians and r["XD"] == "GX"
        age = (AS_OF - _dt.date.fromisoformat(child["CSRQ"])).days // 365
        stages[r["XD"]] += 1
        if r["XJZT"] != "04":
            assert {"XX": 5 <= age <= 13, "CZ": 11 <= age <= 16, "GZ": 14 <= age <= 18, "ZZ": 14 <= age <= 18,
                    "GX": 17 <= age <= 25}[r["XD"]], (r["XD"], age)
    assert set(stages) == {"XX", "CZ", "GZ", "ZZ", "GX"} and stages["XX"] > stages["GX"]
    assert Counter(r["XJZT"] for r in clean["xj"]).most_common(1)[0][0] == "01"


def test_contributions_hold_every_r_si_case(clean: dict[str, list[dict[str, str]]]) -> None:
    rows = clean["sbjf"]
    assert {r["AAE140"] for r in rows} == {"110", "210", "310", "410", "510"}
    assert {r["AAA115"] for r in rows} == {"10", "21", "31"}
    now = f"{AS_OF:%Y%m}"
    assert all(r["AAE002"] <= r["AAE003"] <= now for r in rows)
    months: dict[str, set[str]] = defaultdict(set)
    paid: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in rows:
        months[r["AAC002"]].add(r["AAE002"])
        paid[r["AAC002"], r["AAE002"]].add(r["AAE140"])
    assert max(len(m) for m in months.values()) <= 36
    assert any(types == {"410"} for types in paid.values()), "a month with only work-injury insurance"
    keys = Counter((r["AAC002"], r["AAB001"], r["AAE140"], r["AAE002"]) for r in rows)
    assert max(keys.values()) == 1, "one row per person, unit, insurance and month"


def test_employers_and_businesses_agree_with_contributions(clean: dict[str, list[dict[str, str]]]) -> None:
    units = {r["AAC002"]: r["AAB001"] for r in clean["sbjf"]}
    contracts = {r["AAC002"]: r["AAB001"] for r in clean["ldht"]}
    licences = {r["FDDBRZJH"]: r["TYSHXYDM"] for r in clean["yyzz"]}
    assert not contracts.keys() & licences.keys()
    for pid, unit in units.items():
        assert unit == contracts.get(pid, licences.get(pid, unit)), "insured by the employer or own business"
    assert {r["JYDJ"] for r in clean["ldht"]} == {"0", "1"}
    assert all(r["AAE031"] == "" or r["AAE030"] < r["AAE031"] for r in clean["ldht"])
    assert {r["LX"] for r in clean["tdcb"]} == {"TDLZ", "YZZ", "JTYZ"}


# --- mess, and the counts an importer must match -------------------------------------------------------------


def _normalised(kind: str, row: dict[str, str]) -> tuple[str, ...]:
    rules = NORMALISE[kind]
    return tuple(rules.get(column, str)(value) for column, value in row.items())


def _subject_valid(kind: str, row: dict[str, str]) -> bool:
    try:
        IdNumber.parse(row[SUBJECT[kind]])
    except InvalidIdNumber:
        return False
    return True


def test_messy_files_read_back_as_the_clean_ones_with_exact_counts(
        clean: dict[str, list[dict[str, str]]], messy: tuple[Path, dict[Path, dict[str, int]]]) -> None:
    for path, counts in messy[1].items():
        kind = _kind(path)
        rows = _rows(path)
        good = [_normalised(kind, r) for r in rows if _subject_valid(kind, r)]
        bad = [tuple(r.values()) for r in rows if not _subject_valid(kind, r)]
        expected = {_normalised(kind, r) for r in clean[kind]}
        assert counts["rows"] == len(rows), kind
        assert counts["bad_id"] == len(bad), kind
        assert counts["duplicates"] == len(good) - len(set(good)), kind
        assert set(good) <= expected, kind
        assert len(set(good)) + len(set(bad)) == len(expected), kind
        if kind == "xj":
            assert all(r["XJH"] == "G" + r["SFZJH"] for r in rows if not _subject_valid(kind, r))
    totals = Counter()
    for counts in messy[1].values():
        totals.update(counts)
    assert totals["bad_id"] and totals["duplicates"] and totals["messy"]


def test_messy_files_hold_every_kind_of_mess(messy: tuple[Path, dict[Path, dict[str, int]]]) -> None:
    text = "".join(_text(p) for p in messy[1])
    for sign in ("年", "/", "330204", "  "):
        assert sign in text, sign
    assert any(c in text for c in "０１２３４５６７８９"), "full-width digits"
    assert any(line.split(",")[0].endswith("x") for line in text.splitlines()), "lower-case x"
    encodings = set()
    for path in messy[1]:
        raw = path.read_bytes()
        encodings.add("bom" if raw.startswith(b"\xef\xbb\xbf") else "utf-8" if _utf8(raw) else "gb18030")
    assert len(encodings) >= 2, encodings


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_write_all_refuses_nonsense(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="residents"):
        write_all(tmp_path, residents=0)
    with pytest.raises(ValueError, match="messy"):
        write_all(tmp_path, residents=5, messy_rate=1.5)


def test_cli_writes_every_bureau_file(tmp_path: Path) -> None:
    out = run_cli("synth", "--out", str(tmp_path), "--residents", "40", "--seed", "3", "--messy-rate", "0.1").stdout
    assert sorted(line.split()[1] for line in out.splitlines()) == sorted(str(p) for p in tmp_path.iterdir())
    assert len(out.splitlines()) == sum(len(files) for files in BUREAU_FILES.values())


# --- importing: the adapters must count exactly what the writers made ----------------------------------------


def _import(data: DataDir, bureau: str, path: Path) -> dict[str, object]:
    return json.loads(run_cli("import", "--data", str(data.root), "--bureau", bureau, "--json", str(path),
                              timeout=300).stdout)


@pytest.mark.parametrize("bureau", list(BUREAU_FILES))
def test_import_counts_match_the_writer(bureau: str, data: DataDir, tmp_path: Path) -> None:
    if bureau not in registry.BUREAUS:
        pytest.skip(f"no {bureau} adapter registered in adapters.registry.BUREAUS yet")
    made = write_bureaus(tmp_path, residents(250, 17, AS_OF), seed=17, messy_rate=MESSY)
    if bureau != "psb":  # the people first, as in production
        _import(data, "psb", tmp_path / "jzdj_synth.csv")
    for name, _ in BUREAU_FILES[bureau]:
        counts, summary = made[tmp_path / name], _import(data, bureau, tmp_path / name)
        assert summary["read"] == counts["rows"], name
        assert (summary["rejected"], summary["duplicates"]) == (counts["bad_id"], counts["duplicates"]), name
        assert summary["accepted"] == counts["rows"] - counts["bad_id"] - counts["duplicates"], name
