"""H-1 housing-security facts (003 §六(五)) as a table: tests/vectors/housing_facts.csv; and policies/housing.toml.

The thresholds are local policy: the shipped defaults load, and a broken file is refused with a clear message.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest

from gateway.policy.catalogue import PolicyError
from gateway.rules.eligibility import HousingSettings, PersonRecords, housing_facts
from gateway.settings.housing import HOUSING_FILE, load_housing
from tests.unit.test_eligibility_rules import expectations, read_rows, records_from, secrets_of

ROOT = Path(__file__).resolve().parents[2]
ROWS = read_rows("housing_facts.csv")


def _settings(spec: str) -> HousingSettings:
    si, residence, employment, home = spec.split(":")
    return HousingSettings(int(si), int(residence), employment == "1", home == "1")


def _bases(text: str) -> tuple[str, ...]:
    return tuple(b for b in text.split("|") if b)


@pytest.mark.parametrize("row", ROWS, ids=[r["case"] for r in ROWS])
def test_housing_facts_table(row: dict[str, str]) -> None:
    records = records_from(row)
    f = housing_facts(records, _dt.date.fromisoformat(row["as_of"]), _settings(row["settings"]))
    assert (f.entitled, f.employment_bases, f.residence_bases, f.si_months, f.residence_months) == (
        row["entitled"] == "true", _bases(row["employment"]), _bases(row["residence"]), int(row["si_months"]),
        int(row["residence_months"]))
    assert [r.code for r in f.reasons] == ["H-1", "R-EMP", "R-HOME", "R-SI", "H-1", "H-1"]
    for code, text in expectations(row["expect"]):
        assert any(text in r.message for r in f.reasons if r.code == code), f"no {code} reason contains {text!r}"
    secrets = secrets_of(records)
    for r in f.reasons:  # facts, not records: no identity number, name, address or record number
        assert r.message and not [s for s in secrets if s in r.message], r.message


def test_enough_cases() -> None:
    assert len(ROWS) >= 10


def test_nobody_on_record() -> None:
    f = housing_facts(PersonRecords(), _dt.date(2026, 3, 15), HousingSettings(24, 24, True, True))
    assert (f.entitled, f.employment_bases, f.residence_bases, f.si_months, f.residence_months) == (
        False, (), (), 0, 0)


def test_shipped_settings_load() -> None:
    assert load_housing(ROOT / "policies") == HousingSettings(24, 24, True, True)


GOOD = "min_si_months = 24\nmin_residence_months = 24\nrequire_employment = true\nrequire_residence = true\n"


@pytest.mark.parametrize(("text", "complaint"), [
    (None, "policy file missing"),
    ("min_si_months = [", "TOMLDecodeError"),
    (GOOD.replace("min_si_months = 24\n", ""), "missing keys ['min_si_months']"),
    (GOOD + "min_si_month = 12\n", "unknown keys ['min_si_month']"),
    (GOOD.replace("= 24\nmin_res", "= -1\nmin_res"), "min_si_months must be a whole number of months"),
    (GOOD.replace("min_residence_months = 24", 'min_residence_months = "24"'), "min_residence_months must be"),
    (GOOD.replace("min_residence_months = 24", "min_residence_months = 24.5"), "min_residence_months must be"),
    (GOOD.replace("min_si_months = 24", "min_si_months = true"), "min_si_months must be"),
    (GOOD.replace("require_employment = true", "require_employment = 1"), "require_employment must be true or false"),
    (GOOD.replace("require_residence = true", 'require_residence = "yes"'), "require_residence must be true or"),
])
def test_bad_policy_files_are_refused(tmp_path: Path, text: str | None, complaint: str) -> None:
    if text is not None:
        (tmp_path / HOUSING_FILE).write_text(text, "utf-8")
    with pytest.raises(PolicyError) as info:
        load_housing(tmp_path)
    assert complaint in str(info.value) and HOUSING_FILE in str(info.value)


def test_edited_policy_is_read(tmp_path: Path) -> None:
    (tmp_path / HOUSING_FILE).write_text(GOOD.replace("= 24\nmin_res", "= 36\nmin_res").replace(
        "require_residence = true", "require_residence = false"), "utf-8")
    assert load_housing(tmp_path) == HousingSettings(36, 24, True, False)
