"""Market, agriculture and education files through the real importer and SQLite store: counted, idempotent, exact.

The rules read these facts back by identity number, so what the store returns must be what the bureau sent.
"""
from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path

import pytest

import adapters.registry
from adapters import agri, education, market
from gateway import datadir
from gateway.datadir import DataDir
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import (
    BusinessLicence,
    Enrolment,
    EnrolmentStatus,
    Guardianship,
    LandContract,
    LandContractKind,
    LicenceKind,
    SchoolStage,
)
from gateway.service.importer import ImportSummary, import_files
from gateway.store.sqlite import SqliteStore
from tests.helpers import FULLWIDTH, break_check, csv_line, make_id, make_legacy15, upgrade15, write_csv, write_lines

REP = make_id("330203", _dt.date(1980, 2, 2), 11)
REP2 = make_id("330212", _dt.date(1977, 7, 17), 35)
FARMER = make_id("330226", _dt.date(1970, 5, 6), 31)
LEGACY = make_legacy15("330226", _dt.date(1961, 1, 20), 17)
CHILD = make_id("511302", _dt.date(2012, 6, 1), 402)
CHILD2 = make_id("511302", _dt.date(2014, 3, 3), 405)
FATHER = make_id("511302", _dt.date(1984, 3, 3), 13)
MOTHER = make_id("511302", _dt.date(1986, 7, 7), 22)
SCHOOL = "2133020301"


def credit(n: int) -> str:
    first17 = f"91330203MA2{n:06d}"
    return first17 + market.credit_check_char(first17)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "d"
    datadir.init(root)
    return root


@pytest.fixture
def data(tmp_path: Path, template: Path, monkeypatch: pytest.MonkeyPatch) -> DataDir:
    """A fresh data directory (a copy of one `init` made), with the three adapters registered."""
    root = tmp_path / "d"
    shutil.copytree(template, root)
    for name, module in (("market", market), ("agri", agri), ("education", education)):
        monkeypatch.setitem(adapters.registry.BUREAUS, name, module.BUREAU)
    return DataDir(root)


def run(data: DataDir, bureau: str, *files: Path) -> tuple[ImportSummary, dict[str, int]]:
    store: SqliteStore = data.open_store()
    try:
        summary = import_files(store, bureau, list(files), data.rejects)
        return summary, store.counts()
    finally:
        store.close()


def assert_idempotent(data: DataDir, bureau: str, path: Path, first: ImportSummary, counts: dict[str, int]) -> None:
    again, after = run(data, bureau, path)
    assert (again.read, again.accepted, again.rejected) == (first.read, 0, first.rejected)
    assert again.duplicates == first.accepted + first.duplicates
    assert {k: v for k, v in after.items() if k != "imports"} == {k: v for k, v in counts.items() if k != "imports"}
    assert after["imports"] == counts["imports"] + 1


def assert_rejects_file_holds_no_values(summary: ImportSummary, name: str, lines: set[int], *secrets: str) -> None:
    rows = Path(summary.rejects_file).read_text("utf-8").splitlines()
    assert rows[0] == "file,line,reason"
    assert {int(r.split(",", 2)[1]) for r in rows[1:]} == lines
    assert all(r.startswith(f"{name},") for r in rows[1:])
    for secret in secrets:
        assert secret not in Path(summary.rejects_file).read_text("utf-8")


# ------------------------------------------------------------------------------------------ market


def test_market_import(data: DataDir, tmp_path: Path) -> None:
    header = ["tyshxydm", "fddbrzjh", "djrq", "zxrq", "lx"]
    rows = [
        [credit(1), REP, "20190305", "", "GTGSH"],
        [credit(1), REP, "20190305", "", "GTGSH"],  # the same row twice
        [f" {credit(2).lower()} ", REP.translate(FULLWIDTH), "2018年1月2日", "2023/6/30", "qy"],
        [credit(3), REP2, "2020-01-01", "", "MFQY"],
        [credit(4), break_check(REP2), "20200101", "", "QY"],  # failing check digit
        [credit(5)[:17] + ("1" if credit(5)[17] == "0" else "0"), REP2, "20200101", "", "QY"],  # bad credit code
        [credit(6), REP2, "20200101", "20191231", "QY"],  # deregistered before registered
    ]
    path = write_csv(tmp_path / "yyzz_202401.csv", header, rows, encoding="gb18030")
    first, counts = run(data, "market", path)
    assert (first.read, first.accepted, first.rejected, first.duplicates) == (7, 3, 3, 1)
    assert first.read == first.accepted + first.rejected + first.duplicates
    assert counts["facts"] == 3 and counts["persons"] == 0
    assert_rejects_file_holds_no_values(first, path.name, {6, 7, 8}, REP2, break_check(REP2), credit(6))

    store = data.open_store()
    try:
        assert store.facts(IdNumber(REP), BusinessLicence) == [
            BusinessLicence(credit(1), IdNumber(REP), LicenceKind.INDIVIDUAL_BUSINESS, _dt.date(2019, 3, 5), None),
            BusinessLicence(credit(2), IdNumber(REP), LicenceKind.ENTERPRISE, _dt.date(2018, 1, 2),
                            _dt.date(2023, 6, 30)),
        ]
        assert store.facts(IdNumber(REP2)) == [
            BusinessLicence(credit(3), IdNumber(REP2), LicenceKind.PRIVATE_NON_ENTERPRISE, _dt.date(2020, 1, 1), None)
        ]
        assert store.facts(IdNumber(REP), LandContract) == []
    finally:
        store.close()
    assert_idempotent(data, "market", path, first, counts)


def test_market_later_export_updates_the_licence(data: DataDir, tmp_path: Path) -> None:
    """The credit code is the natural key: a deregistration in a later file replaces the active licence."""
    header = ["TYSHXYDM", "FDDBRZJH", "DJRQ", "ZXRQ", "LX"]
    first, _ = run(data, "market", write_csv(tmp_path / "yyzz_1.csv", header, [[credit(1), REP, "20190305", "", "QY"]]))
    later = write_csv(tmp_path / "yyzz_2.csv", header, [[credit(1), REP, "20190305", "20240131", "QY"]])
    second, counts = run(data, "market", later)
    # both versions are kept (so any re-import is a no-op); the one seen last is current
    assert (first.accepted, second.accepted, counts["facts"]) == (1, 1, 2)
    store = data.open_store()
    try:
        (licence,) = store.facts(IdNumber(REP), BusinessLicence)
        assert licence.deregistered_on == _dt.date(2024, 1, 31)  # type: ignore[union-attr]
    finally:
        store.close()


# ------------------------------------------------------------------------------------------ agriculture


def test_agri_import(data: DataDir, tmp_path: Path) -> None:
    header = ["HTBH", "CBFZJH", "LX", "QSRQ", "ZZRQ"]
    rows: list[str | bytes] = [csv_line(header)] + [csv_line(r) for r in [
        ["鄞农流转〔2019〕第0001号", FARMER, "TDLZ", "20190305", "20290304"],
        ["鄞农流转〔2019〕第0001号", FARMER, "TDLZ", "2019-03-05", "2029/3/4"],  # the same contract, other formats
        ["YZZ-2020-0002", f" {LEGACY} ", "yzz", "2020年1月1日", ""],  # legacy 15 digits, open-ended
        ["JTYZ-2021-0003", FARMER, "JTYZ", "20210101", "20201231"],  # ends before it starts
        ["JTYZ-2021-0004", FARMER, "XX", "20210101", ""],  # unknown kind
    ]] + [f"鄞农流转〔2019〕第0005号,{FARMER},TDLZ,20190305,".encode("gbk")]  # fmt: skip
    path = write_lines(tmp_path / "tdcb_202401.csv", rows)
    first, counts = run(data, "agri", path)
    assert (first.read, first.accepted, first.rejected, first.duplicates) == (6, 2, 3, 1)
    assert counts["facts"] == 2
    assert_rejects_file_holds_no_values(first, path.name, {5, 6, 7}, FARMER)

    store = data.open_store()
    try:
        assert store.facts(IdNumber(FARMER), LandContract) == [
            LandContract("鄞农流转〔2019〕第0001号", IdNumber(FARMER), LandContractKind.LAND_TRANSFER,
                         _dt.date(2019, 3, 5), _dt.date(2029, 3, 4)),
        ]
        assert store.facts(IdNumber(upgrade15(LEGACY))) == [
            LandContract("YZZ-2020-0002", IdNumber(upgrade15(LEGACY)), LandContractKind.STATE_WATER_AQUACULTURE,
                         _dt.date(2020, 1, 1), None),
        ]
    finally:
        store.close()
    assert_idempotent(data, "agri", path, first, counts)


# ------------------------------------------------------------------------------------------ education


def test_education_import(data: DataDir, tmp_path: Path) -> None:
    header = ["XJH", "XM", "SFZJH", "XXDM", "XXMC", "XD", "RXNY", "XJZT", "JHR1SFZJH", "JHR1GX", "JHR2SFZJH", "JHR2GX"]
    rows = [
        ["G" + CHILD, "张小明", CHILD, SCHOOL, "中山小学", "XX", "201809", "01", FATHER, "51", MOTHER, "52"],
        ["G" + CHILD, "张小明", CHILD, SCHOOL, "中山小学", "XX", "2018-09", "1", FATHER, "51", MOTHER, "52"],
        ["g" + CHILD2.lower(), "张小红", CHILD2, SCHOOL, "", "xx", "202009", "01", "", "", MOTHER, "52"],
        ["G" + CHILD2, "张小红", CHILD, SCHOOL, "中山小学", "XX", "202009", "01", "", "", "", ""],  # XJH ≠ SFZJH
        ["G" + CHILD, "张小明", CHILD, SCHOOL, "中山小学", "XX", "201809", "01", FATHER, "50", "", ""],  # relation
        ["G" + CHILD, "张小明", CHILD, SCHOOL, "中山小学", "XX", "201809", "01", CHILD, "51", "", ""],  # self
    ]
    path = write_csv(tmp_path / "xj_202401.csv", header, rows, encoding="gb18030")
    first, counts = run(data, "education", path)
    assert (first.read, first.accepted, first.rejected, first.duplicates) == (6, 2, 3, 1)
    assert (counts["facts"], counts["guardianships"], counts["persons"]) == (2, 3, 0)
    assert_rejects_file_holds_no_values(first, path.name, {5, 6, 7}, CHILD, CHILD2, FATHER, "张小明", "张小红")

    store = data.open_store()
    try:
        child = IdNumber(CHILD)
        assert sorted(store.guardianships(child), key=lambda g: g.relation) == [
            Guardianship(child, IdNumber(FATHER), "51", "education"),
            Guardianship(child, IdNumber(MOTHER), "52", "education"),
        ]
        assert store.guardianships(IdNumber(CHILD2)) == [
            Guardianship(IdNumber(CHILD2), IdNumber(MOTHER), "52", "education")
        ]
        assert store.facts(child, Enrolment) == [
            Enrolment(child, "G" + CHILD, SCHOOL, "中山小学", SchoolStage.PRIMARY, "2018-09", EnrolmentStatus.ENROLLED)
        ]
        assert store.facts(IdNumber(FATHER)) == []  # an enrolment is the child's fact, not the guardian's
        assert store.person(child) is None  # XM is never stored: the PSB is the source of names
    finally:
        store.close()
    raw = b"".join(p.read_bytes() for p in data.root.glob("gateway.db*"))
    for secret in (CHILD, FATHER, "张小明"):
        assert secret.encode("utf-8") not in raw and secret.encode("gb18030") not in raw
    assert_idempotent(data, "education", path, first, counts)


def test_education_graduation_updates_the_enrolment(data: DataDir, tmp_path: Path) -> None:
    """(student number, school, stage) is the natural key: a later status replaces the earlier one."""
    header = ["XJH", "SFZJH", "XXDM", "XD", "RXNY", "XJZT", "JHR1SFZJH", "JHR1GX"]
    before = ["G" + CHILD, CHILD, SCHOOL, "XX", "201809", "01", MOTHER, "52"]
    run(data, "education", write_csv(tmp_path / "xj_1.csv", header, [before]))
    graduated = [*before[:5], "04", *before[6:]]
    summary, counts = run(data, "education", write_csv(tmp_path / "xj_2.csv", header, [graduated]))
    assert (summary.accepted, counts["facts"], counts["guardianships"]) == (1, 2, 1)  # two versions kept
    store = data.open_store()
    try:
        (enrolment,) = store.facts(IdNumber(CHILD), Enrolment)
        assert enrolment.status is EnrolmentStatus.GRADUATED  # type: ignore[union-attr]
    finally:
        store.close()


def test_a_file_holding_two_versions_of_one_fact_reimports_as_pure_duplicates(data: DataDir, tmp_path: Path) -> None:
    """Found while writing the adapters: with only the latest version kept, such a file flipped the fact
    back and forth and re-imported as 'accepted 2'. Versions are now kept; the one seen last is current."""
    header = ["TYSHXYDM", "FDDBRZJH", "DJRQ", "ZXRQ", "LX"]
    path = write_csv(tmp_path / "yyzz_both.csv", header, [[credit(2), REP, "20190305", "", "QY"],
                                                          [credit(2), REP, "20190305", "20240131", "QY"]])
    first, counts = run(data, "market", path)
    second, again = run(data, "market", path)
    assert (first.accepted, second.accepted, second.duplicates) == (2, 0, 2)
    assert {k: v for k, v in again.items() if k != "imports"} == {k: v for k, v in counts.items() if k != "imports"}
    store = data.open_store()
    try:
        (licence,) = store.facts(IdNumber(REP), BusinessLicence)
        assert licence.deregistered_on == _dt.date(2024, 1, 31)  # type: ignore[union-attr]
    finally:
        store.close()
