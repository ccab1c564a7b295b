"""The console's search filters on both store backends: the caller's district and organisations (a district's or
a bureau's auditor's scope) and the seq cursor of a paged search, alone and with the other filters."""
from __future__ import annotations

import dataclasses

from gateway.audit.port import AccessQuery, EntryScope
from gateway.store.port import Store
from tests.integration.test_store_backends import backend, entry, opener, pg_dsn, pg_schema, store

__all__ = ["backend", "opener", "pg_dsn", "pg_schema", "store"]  # the fixtures, shared with the backend suite


def test_district_and_cursor_filters(store: Store) -> None:
    entries = [dataclasses.replace(entry(i), district="330203" if i % 2 else "330212") for i in range(10)]
    seqs = store.append_accesses(entries)
    assert seqs == list(range(1, 11))

    def found(**kw: object) -> list[int]:
        return [e.seq or 0 for e in store.access_entries(AccessQuery(**kw))]  # type: ignore[arg-type]

    assert found(scope=EntryScope("330203")) == [2, 4, 6, 8, 10]
    assert found(scope=EntryScope("330212")) == [1, 3, 5, 7, 9]
    assert found(scope=EntryScope("330281")) == []
    assert found(after=7) == [8, 9, 10]
    assert found(after=0) == seqs
    assert found(scope=EntryScope("330203"), after=4, limit=2) == [6, 8]  # one page after the cursor
    assert found(scope=EntryScope("330212"), after=9) == []


def test_organisation_scope_exact_codes_and_prefixes(store: Store) -> None:
    orgs = ["ORG-school", "SCH-1", "SCH-2", "ORG-health", "ORG-school-2", "sch-3", "SCH_1", "SCHX", "EDU", "S%H-1"]
    store.append_accesses([dataclasses.replace(entry(i), org=org, district="330203" if i % 2 else "330212")
                           for i, org in enumerate(orgs)])

    def found(scope: EntryScope, **kw: object) -> list[str]:
        return [e.org for e in store.access_entries(AccessQuery(scope=scope, **kw))]  # type: ignore[arg-type]

    bureau = EntryScope(None, ("EDU", "ORG-school", "SCH-*"))
    # exact codes exactly (not ORG-school-2), the prefix case-sensitive (not sch-3) and literal (not SCH_1: _ and %
    # are no wildcards)
    assert found(bureau) == ["ORG-school", "SCH-1", "SCH-2", "EDU"]
    assert found(EntryScope("330203", ("EDU", "ORG-school", "SCH-*"))) == ["SCH-1"]  # both limits at once
    assert found(EntryScope(None, ("S%*",))) == ["S%H-1"]
    assert found(EntryScope(None, ("SCH_*",))) == ["SCH_1"]
    assert found(EntryScope(None, ("ORG-health",))) == ["ORG-health"]
    assert found(bureau, after=2, limit=1) == ["SCH-2"]
    assert found(bureau, org="ORG-health") == []  # a filter cannot widen the scope
