"""The worked example of docs/adapters.md, run: a district talent office (人才办) added as an eighth bureau.

The module below is the one the document shows, character for character; if either changes, these tests fail.
"""
from __future__ import annotations

import datetime as _dt
import inspect
from pathlib import Path
from types import ModuleType

import pytest

import adapters.registry
from adapters.market import credit_check_char
from adapters.reading import Parsed, Reject
from gateway import datadir
from gateway.datadir import DataDir
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import FACT_KINDS, NATURAL_KEYS, LabourContract
from gateway.service.importer import import_files
from tests.helpers import make_id_with_check, write_csv

DOC = Path(__file__).resolve().parents[2] / "docs" / "adapters.md"

TALENT_SOURCE = '''\
"""Talent office (人才办) adapter: `rcrd_*` files, employment a district confirmed in its own HR system.

The rows become LabourContract facts, which R-EMP-1 already reads: no change in rules, store or audit.
"""
from __future__ import annotations

from collections.abc import Mapping

from adapters.contract import Bureau, FileKind
from adapters.market import InvalidCreditCode, parse_credit_code
from adapters.normalising import RowError, code, date, id_number, text
from gateway.domain.records import LabourContract, Record

REQUIRED_COLUMNS: tuple[str, ...] = ("ZJHM", "DWDM", "DWMC", "PYQSRQ", "BAZT")  # PYZZRQ is optional
FILED = {"1": True, "0": False}  # BAZT: the employment is filed (备案) with the talent office, or not


def _employer(fields: Mapping[str, str]) -> str:
    """DWDM is the employer's unified social credit code; the value never enters the error."""
    try:
        return parse_credit_code(text(fields, "DWDM"))
    except InvalidCreditCode:
        raise RowError("DWDM", "invalid unified social credit code") from None


def parse_row(fields: dict[str, str]) -> tuple[Record, ...]:
    """One LabourContract per row."""
    start = date(fields, "PYQSRQ")
    end = date(fields, "PYZZRQ", required=False)
    if end is not None and end < start:
        raise RowError("PYZZRQ", "before PYQSRQ")
    contract = LabourContract(
        id_number=id_number(fields, "ZJHM"),
        employer_code=_employer(fields),
        employer_name=text(fields, "DWMC"),
        start=start,
        end=end,
        employment_registered=code(fields, "BAZT", FILED),
    )
    return (contract,)


BUREAU = Bureau("talent", (FileKind("rcrd_*", parse_row, REQUIRED_COLUMNS),))
'''

PERSON = make_id_with_check("X", "420106", _dt.date(1990, 4, 4))
EMPLOYER = "91330212MA2H3K8N7" + credit_check_char("91330212MA2H3K8N7")


def load_talent() -> ModuleType:
    """The documented module, as `adapters/talent.py` would be imported."""
    module = ModuleType("adapters.talent")
    exec(compile(TALENT_SOURCE, "adapters/talent.py", "exec"), module.__dict__)
    return module


def test_talent_office_file(tmp_path: Path) -> None:
    talent = load_talent()
    header = ["zjhm", "dwdm", "dwmc", "pyqsrq", "pyzzrq", "bazt"]
    rows = [
        [PERSON.lower(), EMPLOYER, "宁波甬才科技有限公司", "2021年3月1日", "", "1"],
        [PERSON, EMPLOYER, "宁波甬才科技有限公司", "2021-03-01", "2021-02-28", "1"],
        [PERSON, EMPLOYER[:-1] + "0", "宁波甬才科技有限公司", "20210301", "", "1"],
    ]
    path = write_csv(tmp_path / "rcrd_202401.csv", header, rows, encoding="gb18030")
    assert list(talent.BUREAU.parse(path)) == [
        Parsed("rcrd_202401.csv", 2, (LabourContract(IdNumber(PERSON), EMPLOYER, "宁波甬才科技有限公司",
                                                     _dt.date(2021, 3, 1), None, True),)),
        Reject("rcrd_202401.csv", 3, "PYZZRQ: before PYQSRQ"),
        Reject("rcrd_202401.csv", 4, "DWDM: invalid unified social credit code"),
    ]


def test_through_the_importer_and_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one registry line, then the real importer and store: nothing else in the gateway knows the bureau."""
    monkeypatch.setitem(adapters.registry.BUREAUS, "talent", load_talent().BUREAU)
    data = DataDir(tmp_path / "d")
    datadir.init(data.root)
    header = ["ZJHM", "DWDM", "DWMC", "PYQSRQ", "PYZZRQ", "BAZT"]
    good = [PERSON, EMPLOYER, "宁波甬才科技有限公司", "20210301", "", "1"]
    rows = [good, good, [PERSON, "", "x", "20210301", "", "1"]]
    path = write_csv(tmp_path / "rcrd_1.csv", header, rows)
    store = data.open_store()
    try:
        first = import_files(store, "talent", [path], data.rejects)
        counts = store.counts()
        again = import_files(store, "talent", [path], data.rejects)
        assert (first.read, first.accepted, first.rejected, first.duplicates) == (3, 1, 1, 1)
        assert (again.accepted, again.duplicates) == (0, 2)
        assert {k: v for k, v in store.counts().items() if k != "imports"} == {
            k: v for k, v in counts.items() if k != "imports"
        }
        assert store.facts(IdNumber(PERSON), LabourContract) == [
            LabourContract(IdNumber(PERSON), EMPLOYER, "宁波甬才科技有限公司", _dt.date(2021, 3, 1), None, True)
        ]
    finally:
        store.close()


def test_the_store_already_keeps_the_kind() -> None:
    """Why no store change is needed: LabourContract is a fact kind with a natural key already."""
    assert FACT_KINDS["LabourContract"] is LabourContract
    assert NATURAL_KEYS[LabourContract] == ("id_number", "employer_code", "start")


def test_the_document_shows_this_code() -> None:
    doc = DOC.read_text("utf-8")
    assert TALENT_SOURCE in doc, "docs/adapters.md must show the talent module exactly as tested here"
    assert inspect.getsource(test_talent_office_file) in doc
    assert "tests/integration/test_eighth_bureau_example.py" in doc
