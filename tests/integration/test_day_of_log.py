"""The last day of the access log, as a starting server replays it into its quotas and anomaly windows: read a page
at a time (a busy day read whole was held in memory at once, and the server kept that peak), every entry of the
24 hours exactly once and in order, none older."""
from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Iterator

import pytest

from gateway.domain import clock
from gateway.server import app
from gateway.store.sqlite import SqliteStore
from tests import helpers

store = helpers.sqlite_store
NOW = _dt.datetime(2026, 11, 21, 12, 0, tzinfo=_dt.UTC)


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[None]:
    clock.install(clock.FixedClock(NOW))
    yield
    clock.install(None)


def at(hours_ago: float) -> str:
    return (NOW - _dt.timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.parametrize("page", [1, 3, 7, 2000])
def test_every_entry_of_the_day_once_in_order_whatever_the_page(store: SqliteStore, monkeypatch: pytest.MonkeyPatch,
                                                                  page: int) -> None:
    old = [dataclasses.replace(helpers.log_entry(i), time=at(30 - i)) for i in range(3)]  # 30 to 28 hours ago
    day = [dataclasses.replace(helpers.log_entry(10 + i), time=at(20 - i)) for i in range(7)]
    store.append_accesses(old + day)
    monkeypatch.setattr(app, "HISTORY_PAGE", page)
    read = [e.case_id for e in app.day_of_log(store)]
    assert read == [e.case_id for e in day]


def test_the_quota_history_is_read_a_page_at_a_time(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.append_accesses([dataclasses.replace(helpers.log_entry(i), time=at(5)) for i in range(10)])
    monkeypatch.setattr(app, "HISTORY_PAGE", 4)
    pages: list[int] = []
    original = store.access_entries

    def counted(query: app.AccessQuery) -> Iterator[app.AccessEntry]:
        found = list(original(query))
        pages.append(len(found))
        return iter(found)

    monkeypatch.setattr(store, "access_entries", counted)
    history = app.recent_accesses(store)
    assert pages == []  # nothing read before the replay asks
    assert [s for _, _, _, s, _ in history] == [f"{i:064x}" for i in range(10)]
    assert pages == [4, 4, 2]
