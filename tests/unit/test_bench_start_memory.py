"""The start-memory benchmark's day (bench/start_memory.py): allowed lookups of the last hours, each about a new
person, spread so that no school certificate passes its daily quota — as a real day's log would be."""
from __future__ import annotations

import datetime as _dt
from collections import Counter
from pathlib import Path

from gateway.audit.entry import Decision
from gateway.settings.quotas import load_quotas
from tests.helpers import script_module

ROOT = Path(__file__).resolve().parents[2]
start_memory = script_module(ROOT / "bench" / "start_memory.py", "bench_start_memory")
NOW = _dt.datetime(2026, 11, 21, 12, 0, tzinfo=_dt.UTC)


def test_the_day_is_allowed_lookups_of_new_people_within_every_quota() -> None:
    day = start_memory.lookups(5_000, NOW, seed=1)
    per_day = load_quotas(ROOT / "policies").for_role("school").per_day
    assert per_day is not None and per_day >= start_memory.PER_PRINCIPAL
    assert len(day) == 5_000 and len({e.subject for e in day}) == 5_000
    assert {e.decision for e in day} == {Decision.ALLOW} and {e.role for e in day} == {"school"}
    assert max(Counter(e.principal for e in day).values()) <= start_memory.PER_PRINCIPAL
    times = [e.time for e in day]
    assert times == sorted(times)
    first = _dt.datetime.fromisoformat(times[0].replace("Z", "+00:00"))
    last = _dt.datetime.fromisoformat(times[-1].replace("Z", "+00:00"))
    assert NOW - _dt.timedelta(hours=20) <= first and last < NOW  # inside the 24 hours a server replays


def test_no_entries_is_an_empty_day() -> None:
    assert start_memory.lookups(0, NOW, seed=1) == []
