"""HRSS and Housing files through the real importer and store: every row accounted for, idempotent, exact facts.

What the rules need (insurance type, months, kind; owners, co-owners, tenants) must survive the store round trip.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters import housing, hrss, registry
from gateway import datadir
from gateway.datadir import DataDir
from gateway.domain.districts import District
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import (
    Contribution,
    ContributionKind,
    InsuranceType,
    LabourContract,
    PropertyTitle,
    RentalRegistration,
)
from gateway.service.importer import ImportSummary, import_files
from gateway.store.sqlite import SqliteStore
from tests.helpers import FULLWIDTH, break_check, csv_line, make_id, make_id_with_check, write_csv, write_lines

SBJF = ["AAC002", "AAC003", "AAB001", "AAB004", "AAE140", "AAE002", "AAE003", "AAA115"]
LDHT = ["AAC002", "AAB001", "AAB004", "AAE030", "AAE031", "JYDJ"]
BDC = ["BDCQZH", "QLRZJH", "QLRMC", "FWZL", "XZQH", "DJSJ", "GYRZJH"]
CZFW = ["BAH", "CZRZJH", "CHZRZJH", "FWDZ", "XZQH", "QSRQ", "ZZRQ", "BAZT"]
EMP = ("330200100001", "宁波甬江机械有限公司")
ADDRESS = "宁波市鄞州区天童南路588号"

ID_A = make_id_with_check("X", "511302", _dt.date(1990, 1, 1))
ID_B = make_id("330226", _dt.date(1992, 11, 30), 57)
LANDLORD = make_id("330203", _dt.date(1960, 5, 5), 11)
BAD = break_check(make_id("340102", _dt.date(1991, 3, 3), 301))


@pytest.fixture
def bureaus(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lead engineer registers the adapters; until then, register them for this test only."""
    for name, module in (("hrss", hrss), ("housing", housing)):
        if name not in registry.BUREAUS:
            monkeypatch.setitem(registry.BUREAUS, name, module.BUREAU)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    datadir.init(tmp_path / "d")
    opened = DataDir(tmp_path / "d").open_store()
    yield opened
    opened.close()


def sbjf(idn: str, insurance: str, month_for: str, month_paid: str, kind: str, name: str = "张三") -> list[str]:
    return [idn, name, *EMP, insurance, month_for, month_paid, kind]


def hrss_files(tmp_path: Path) -> list[Path]:
    """9 contribution rows (6 new, 2 duplicates, 1 reject) and 4 contract rows (2 new, 1 duplicate, 1 reject)."""
    contributions = write_lines(tmp_path / "sbjf_202403.csv", [
        csv_line(SBJF),
        csv_line(sbjf(ID_A, "110", "201903", "201903", "10")),
        csv_line(sbjf(ID_A, "110", "201904", "201905", "21")),
        csv_line(sbjf(ID_A, "410", "201905", "201905", "10")),  # work injury
        csv_line(sbjf(ID_A, "110", "201801", "201906", "31")),  # back-payment
        csv_line(sbjf(ID_A, "110", "201903", "201903", "10")),  # the same row twice
        csv_line(sbjf(ID_A.translate(FULLWIDTH).lower(), "110", "2019-03", "2019-03", "１０", " 张三 ")),  # same fact
        csv_line(sbjf(BAD, "110", "201903", "201903", "10", "李四")),  # failing check digit
        csv_line(sbjf(ID_B, "310", "201903", "201903", "10", "王五")),
        csv_line(sbjf(ID_B, "510", "201903", "201904", "21", "王五")),
    ], encoding="gb18030")
    contracts = write_csv(tmp_path / "ldht_202403.csv", LDHT, [
        [ID_A, *EMP, "20190305", "", "1"],
        [ID_A.lower(), *EMP, "2019-03-05", "", "1"],  # the same contract, written differently
        [ID_B, *EMP, "2019年3月1日", "2021年2月28日", "0"],
        [ID_B, *EMP, "20190301", "20180301", "1"],  # ends before it starts
    ])
    return [contributions, contracts]


def housing_files(tmp_path: Path) -> list[Path]:
    """3 title rows (2 new, 1 reject) and 3 rental rows (1 new, 1 duplicate, 1 reject)."""
    titles = write_csv(tmp_path / "bdc_202403.csv", BDC, [
        ["浙(2019)宁波市不动产权第0000001号", ID_A, "张三", ADDRESS, "330204", "20190305", f"{ID_B}；{ID_A}"],
        ["浙(2019)宁波市不动产权第0000002号", LANDLORD, "赵六", ADDRESS, "330203", "2019/3/5", ""],
        ["浙(2019)宁波市不动产权第0000003号", ID_B, "王五", ADDRESS, "330203", "20190305", BAD],
    ])
    rentals = write_csv(tmp_path / "czfw_202403.csv", CZFW, [
        ["NBCZ2019000001", LANDLORD, ID_B, ADDRESS, "330212", "20190305", "", "1"],
        ["NBCZ2019000001", LANDLORD, ID_B, ADDRESS, "330212", "20190305", "", "1"],
        ["NBCZ2019000002", LANDLORD, LANDLORD, ADDRESS, "330212", "20190305", "", "1"],
    ], encoding="gb18030")
    return [titles, rentals]


def summary(s: ImportSummary) -> tuple[int, int, int, int]:
    assert s.read == s.accepted + s.rejected + s.duplicates
    return s.read, s.accepted, s.rejected, s.duplicates


def assert_idempotent(store: SqliteStore, bureau: str, files: list[Path], rejects: Path,
                      first: ImportSummary) -> None:
    before = store.counts()
    again = import_files(store, bureau, files, rejects)
    assert summary(again) == (first.read, 0, first.rejected, first.accepted + first.duplicates)
    after = store.counts()
    assert after["imports"] == before["imports"] + len(files)
    assert {k: v for k, v in after.items() if k != "imports"} == {k: v for k, v in before.items() if k != "imports"}


def assert_rejects_file_has_no_values(path: str, names: list[str]) -> None:
    text = Path(path).read_text("utf-8")
    assert text.splitlines()[0] == "file,line,reason"
    for secret in (ID_A, ID_B, LANDLORD, BAD, *names):
        assert secret not in text and secret[:17] not in text


def test_hrss_import_counts_add_up_and_reimport_changes_nothing(bureaus: None, store: SqliteStore,
                                                                 tmp_path: Path) -> None:
    files = hrss_files(tmp_path)
    rejects = tmp_path / "d" / "rejects"
    first = import_files(store, "hrss", files, rejects)
    assert summary(first) == (13, 8, 2, 3)
    assert store.counts()["facts"] == 8
    assert_rejects_file_has_no_values(first.rejects_file, ["张三", "李四", "王五"])
    reasons = Path(first.rejects_file).read_text("utf-8").splitlines()[1:]
    assert reasons == ["sbjf_202403.csv,8,AAC002: invalid identity number", "ldht_202403.csv,5,AAE031: before AAE030"]

    a = IdNumber(ID_A)
    assert store.facts(a, Contribution) == [
        Contribution(a, *EMP, InsuranceType.EMPLOYEE_PENSION, "2019-03", "2019-03", ContributionKind.NORMAL),
        Contribution(a, *EMP, InsuranceType.EMPLOYEE_PENSION, "2019-04", "2019-05", ContributionKind.LATE),
        Contribution(a, *EMP, InsuranceType.WORK_INJURY, "2019-05", "2019-05", ContributionKind.NORMAL),
        Contribution(a, *EMP, InsuranceType.EMPLOYEE_PENSION, "2018-01", "2019-06", ContributionKind.BACK_PAYMENT),
    ]
    assert store.facts(a, LabourContract) == [LabourContract(a, *EMP, _dt.date(2019, 3, 5), None, True)]
    b = IdNumber(ID_B)
    assert store.facts(b, LabourContract) == [
        LabourContract(b, *EMP, _dt.date(2019, 3, 1), _dt.date(2021, 2, 28), False)
    ]
    assert [(c.insurance, c.month_paid, c.kind) for c in store.facts(b, Contribution)] == [  # type: ignore[union-attr]
        (InsuranceType.MEDICAL, "2019-03", ContributionKind.NORMAL),
        (InsuranceType.MATERNITY, "2019-04", ContributionKind.LATE),
    ]

    assert_idempotent(store, "hrss", files, rejects, first)


def test_housing_import_counts_add_up_and_reimport_changes_nothing(bureaus: None, store: SqliteStore,
                                                                    tmp_path: Path) -> None:
    files = housing_files(tmp_path)
    rejects = tmp_path / "d" / "rejects"
    first = import_files(store, "housing", files, rejects)
    assert summary(first) == (6, 3, 2, 1)
    assert_rejects_file_has_no_values(first.rejects_file, ["张三", "赵六", "王五"])
    reasons = Path(first.rejects_file).read_text("utf-8").splitlines()[1:]
    assert reasons == ["bdc_202403.csv,4,GYRZJH: invalid identity number", "czfw_202403.csv,4,CHZRZJH: same as CZRZJH"]

    a, b, landlord = IdNumber(ID_A), IdNumber(ID_B), IdNumber(LANDLORD)
    home = PropertyTitle("浙(2019)宁波市不动产权第0000001号", a, (b,), ADDRESS, District("330212"),
                         _dt.date(2019, 3, 5))
    rent = RentalRegistration("NBCZ2019000001", landlord, b, ADDRESS, District("330212"), _dt.date(2019, 3, 5),
                              None, True)
    assert store.facts(a, PropertyTitle) == [home]
    assert store.facts(b, PropertyTitle) == [home]  # a co-owner finds the title too
    assert store.facts(b, RentalRegistration) == [rent]
    assert store.facts(landlord, RentalRegistration) == []  # the landlord is not the rental's subject
    assert [t.title_number for t in store.facts(landlord, PropertyTitle)] == [  # type: ignore[union-attr]
        "浙(2019)宁波市不动产权第0000002号"
    ]

    assert_idempotent(store, "housing", files, rejects, first)
