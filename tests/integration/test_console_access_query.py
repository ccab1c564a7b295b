"""The console's search filters on both store backends: the caller's district (a district auditor's scope) and
the seq cursor of a paged search, alone and with the other filters."""
from __future__ import annotations

import dataclasses

from gateway.audit.port import AccessQuery
from gateway.store.port import Store
from tests.integration.test_store_backends import backend, entry, opener, pg_dsn, pg_schema, store

__all__ = ["backend", "opener", "pg_dsn", "pg_schema", "store"]  # the fixtures, shared with the backend suite


def test_district_and_cursor_filters(store: Store) -> None:
    entries = [dataclasses.replace(entry(i), district="330203" if i % 2 else "330212") for i in range(10)]
    seqs = store.append_accesses(entries)
    assert seqs == list(range(1, 11))

    def found(**kw: object) -> list[int]:
        return [e.seq or 0 for e in store.access_entries(AccessQuery(**kw))]  # type: ignore[arg-type]

    assert found(district="330203") == [2, 4, 6, 8, 10]
    assert found(district="330212") == [1, 3, 5, 7, 9]
    assert found(district="330281") == []
    assert found(after=7) == [8, 9, 10]
    assert found(after=0) == seqs
    assert found(district="330203", after=4, limit=2) == [6, 8]  # one page after the cursor
    assert found(district="330212", after=9) == []
