"""Statistics publication on the real store: counts agree with the population, tables stay frozen."""
from __future__ import annotations

import datetime as _dt
from collections import Counter

import pytest

from gateway.datadir import DataDir
from gateway.domain import clock
from gateway.rules.statistics import StatisticsSettings
from gateway.service import statistics
from gateway.service.importer import import_files
from gateway.synth import psb
from gateway.synth.people import residents

SETTINGS = StatisticsSettings(minimum_cell=10, coordinator_ratio=800)
TODAY = clock.today()


def _load(data: DataDir, tmp: object, n: int, seed: int) -> list:
    from pathlib import Path

    people = residents(n, seed=seed)
    path = Path(str(tmp)) / f"jzdj_{seed}.csv"
    psb.write(path, people, seed=seed)
    store = data.open_store()
    import_files(store, "psb", [path], data.rejects)
    store.close()
    return people


def test_published_counts_match_the_population_and_stay_frozen(data: DataDir, tmp_path: object) -> None:
    people = _load(data, tmp_path, 400, 12)
    month = (TODAY.replace(day=1) - _dt.timedelta(days=1)).strftime("%Y-%m")
    end = statistics.month_end(month)
    store = data.open_store()
    table = statistics.published(store, month, SETTINGS, TODAY)
    # an independent count from the synthetic population: valid permits at the month's end per district
    valid = Counter(p.district for p in people if p.permit_state == "1" and p.permit_issued
                    and p.permit_issued <= end <= p.permit_valid_until and p.registered_on <= end)
    for district, n in valid.items():
        published = table["permits"][district]["valid_permits"]
        assert published is None or published == n, district
    assert table["permits"]["city"]["valid_permits"] in (None, sum(valid.values()))
    assert all(v is None or v == 0 or v >= 10 for row in table["permits"].values() for v in row.values())
    store.close()

    _load(data, tmp_path, 300, 13)  # more people arrive after publication
    store = data.open_store()
    assert statistics.published(store, month, SETTINGS, TODAY) == table
    assert statistics.build(store, month, SETTINGS) != table, "a rebuild would differ: that is why it is frozen"
    store.close()


def test_only_completed_months(data: DataDir) -> None:
    store = data.open_store()
    with pytest.raises(statistics.NotPublishable):
        statistics.published(store, TODAY.strftime("%Y-%m"), SETTINGS, TODAY)
    with pytest.raises(statistics.NotPublishable):
        statistics.published(store, "2026-1", SETTINGS, TODAY)
    store.close()
