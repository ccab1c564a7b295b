"""Statistics Bureau tables (I-4, I-5) from tests/vectors/statistics.json, and an attacker on suppressed cells.

The attacker knows the layout and every published number; it must recover no suppressed cell (docs/bureau-files.md).
"""
from __future__ import annotations

import datetime as _dt
import json
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.districts import DISTRICTS
from gateway.policy.catalogue import PolicyError
from gateway.rules.statistics import (
    BASIS_COLUMNS,
    CITY,
    NONE_ON_RECORD,
    PERMIT_COLUMNS,
    ROWS,
    PersonStat,
    StatsTable,
    district_month_table,
    primary_basis,
    with_totals,
)
from gateway.settings.statistics import load_statistics

ROOT = Path(__file__).resolve().parents[2]
MONTH, IN_MONTH = "2026-10", _dt.date(2026, 10, 15)
RATIO = 800
CASES = json.loads((ROOT / "tests" / "vectors" / "statistics.json").read_text("utf-8"))["cases"]
Grid = list[list[int | None]]


def _holders(district: str, basis: str, n: int) -> list[PersonStat]:
    return [PersonStat(district, None, True, frozenset() if basis == NONE_ON_RECORD else frozenset({basis}))] * n


def _per_district(spec: dict, district: str) -> object:
    return spec.get(district, spec.get("*"))


def _people(case: dict) -> list[PersonStat]:
    people: list[PersonStat] = []
    for d in DISTRICTS:
        people += [p for b, n in (_per_district(case.get("permits", {}), d) or {}).items() for p in _holders(d, b, n)]
        people += [PersonStat(d, IN_MONTH, False)] * (_per_district(case.get("registrations", {}), d) or 0)
    for g in case.get("people", ()):
        on = _dt.date.fromisoformat(g["registered_on"]) if "registered_on" in g else None
        people += [PersonStat(g["district"], on, g["valid"], frozenset(g.get("bases", ())))] * g["n"]
    return people


def _names(table: StatsTable, kind: str) -> set[str]:
    return {f"{s.table} {s.row} {s.column}" for s in table.suppressed if s.kind == kind}


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_statistics_table(case: dict) -> None:
    t = district_month_table(_people(case), MONTH, case.get("previous_year", {}), case["minimum"],
                             coordinator_ratio=RATIO)
    want = case["expect"]
    for row, cells in want.get("permits", {}).items():
        assert {c: t.permits[row][c] for c in cells} == cells, row
    assert {r: t.registrations[r] for r in want.get("registrations", {})} == want.get("registrations", {})
    assert {r: t.coordinators_required[r] for r in want.get("coordinators", {})} == want.get("coordinators", {})
    for kind in ("primary", "complementary"):
        if kind in want:
            assert _names(t, kind) == set(want[kind]), kind
    _assert_protected(t, _true_grid(_people(case)), _true_line(_people(case)))


def test_enough_cases() -> None:
    assert len(CASES) >= 10


def test_primary_basis_order() -> None:
    assert primary_basis({"R-EXEMPT", "R-STUDY", "R-HOME-3", "R-HOME-1"}) == "R-HOME-1"
    assert primary_basis({"R-EMP-3", "R-EMP-2"}) == "R-EMP-2"
    assert primary_basis(()) == NONE_ON_RECORD
    with pytest.raises(ValueError, match="unknown permit bases"):
        primary_basis({"R-EMP"})


@pytest.mark.parametrize(("month", "minimum", "person"), [
    ("2026-13", 10, None), ("2026-1", 10, None), ("202610", 10, None), (MONTH, 1, None),
    (MONTH, 10, PersonStat("330204x", None, True)), (MONTH, 10, PersonStat("330203", None, True, frozenset({"X"}))),
])
def test_bad_input_refused(month: str, minimum: int, person: PersonStat | None) -> None:
    with pytest.raises(ValueError):
        district_month_table([person] if person else [], month, {}, minimum, coordinator_ratio=RATIO)


def test_suppression_records_carry_no_counts() -> None:
    t = district_month_table(_holders("330203", "R-EMP-1", 3), MONTH, {}, 10, coordinator_ratio=RATIO)
    assert t.suppressed and all(set(s.__slots__) == {"table", "row", "column", "kind"} for s in t.suppressed)


# ---- the published settings -------------------------------------------------------------------------------------

def test_shipped_settings_load() -> None:
    s = load_statistics(ROOT / "policies")
    assert (s.minimum_cell, s.coordinator_ratio) == (10, 800)


@pytest.mark.parametrize("text", [
    "minimum_cell = 1\ncoordinator_ratio = 800", "minimum_cell = 10\ncoordinator_ratio = 0",
    "minimum_cell = 10\ncoordinator_ratio = -800", "minimum_cell = 10", "minimum_cel = 10\ncoordinator_ratio = 800",
    "minimum_cell = 10\ncoordinator_ratio = 800\nextra = 1", "minimum_cell = 10.5\ncoordinator_ratio = 800",
    "minimum_cell = true\ncoordinator_ratio = 800", "minimum_cell = '10'\ncoordinator_ratio = 800",
    "minimum_cell = = 10",
])
def test_bad_settings_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "statistics.toml").write_text(text, "utf-8")
    with pytest.raises(PolicyError):
        load_statistics(tmp_path)


def test_missing_settings_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="missing"):
        load_statistics(tmp_path)


# ---- the attacker ------------------------------------------------------------------------------------------------
# A cell (i, j) of the full grid (totals included: last column = row totals, last row = column totals) lies in row
# equation i and column equation j. In a row equation the row total has coefficient -1 and every other cell +1;
# likewise in a column equation the column total has -1.

def _fold(district: str) -> str:
    return "330212" if district == "330204" else district


def _true_grid(people: Sequence[PersonStat]) -> list[list[int]]:
    counts = {(d, b): 0 for d in DISTRICTS for b in BASIS_COLUMNS}
    for p in people:
        if p.valid_permit:
            counts[(_fold(p.district), primary_basis(p.bases))] += 1
    return with_totals([[counts[(d, b)] for b in BASIS_COLUMNS] for d in DISTRICTS])


def _true_line(people: Sequence[PersonStat]) -> list[int]:
    month = [p for p in people if p.registered_on and f"{p.registered_on:%Y-%m}" == MONTH]
    regs = [sum(1 for p in month if _fold(p.district) == d) for d in DISTRICTS]
    return [*regs, sum(regs)]


def _published(t: StatsTable) -> Grid:
    return [[t.permits[r][c] for c in PERMIT_COLUMNS] for r in ROWS]


def _row_coef(grid: Sequence[Sequence[object]], cell: tuple[int, int]) -> int:
    return -1 if cell[1] == len(grid[0]) - 1 else 1


def _col_coef(grid: Sequence[Sequence[object]], cell: tuple[int, int]) -> int:
    return -1 if cell[0] == len(grid) - 1 else 1


def _equations(grid: Sequence[Sequence[object]]) -> list[list[tuple[tuple[int, int], int]]]:
    n, m = len(grid), len(grid[0])
    rows = [[((i, j), _row_coef(grid, (i, j))) for j in range(m)] for i in range(n)]
    return rows + [[((i, j), _col_coef(grid, (i, j))) for i in range(n)] for j in range(m)]


def _eliminate(published: Grid) -> set[tuple[int, int]]:
    """Attack (a): solve every equation with exactly one unknown, repeatedly; return the cells recovered."""
    known = [list(r) for r in published]
    recovered: set[tuple[int, int]] = set()
    progress = True
    while progress:
        progress = False
        for eq in _equations(known):
            unknown = [(cell, k) for cell, k in eq if known[cell[0]][cell[1]] is None]
            if len(unknown) == 1:
                (i, j), k = unknown[0]
                known[i][j] = -k * sum(c * known[a][b] for (a, b), c in eq if (a, b) != (i, j))
                recovered.add((i, j))
                progress = True
    return recovered


def _cycle(published: Grid, target: tuple[int, int]) -> list[tuple[int, int]] | None:
    """Suppressed cells leading from the target's column back to its row (BFS), target excluded."""
    n = len(published)
    hidden = [(i, j) for i, r in enumerate(published) for j, v in enumerate(r) if v is None and (i, j) != target]
    start, goal = n + target[1], target[0]
    came: dict[int, tuple[tuple[int, int], int] | None] = {start: None}
    queue = deque([start])
    while queue:
        u = queue.popleft()
        for i, j in hidden:
            ends = (i, n + j)
            if u in ends:
                v = ends[1] if u == ends[0] else ends[0]
                if v not in came:
                    came[v] = ((i, j), u)
                    queue.append(v)
    if goal not in came:
        return None
    path, u = [], goal
    while (step := came[u]) is not None:
        path.append(step[0])
        u = step[1]
    return path[::-1]


def _alternative(truth: list[list[int]], published: Grid, target: tuple[int, int]) -> list[list[int]] | None:
    """Attack (b), refuted: another non-negative table, consistent with all published, where the target differs.

    Move +1 at the target and alternately -/+ around a cycle of suppressed cells (signs follow the coefficients
    of the equation each pair of neighbours shares); try the opposite direction if a count would go below 0.
    """
    path = _cycle(published, target)
    if path is None:
        return None
    delta = {target: 1}
    previous, shared_is_column = target, True
    for cell in path:
        coef = _col_coef if shared_is_column else _row_coef
        delta[cell] = -coef(truth, previous) * coef(truth, cell) * delta[previous]
        previous, shared_is_column = cell, not shared_is_column
    for sign in (1, -1):
        alt = [list(r) for r in truth]
        for (i, j), d in delta.items():
            alt[i][j] += sign * d
        if _consistent(alt, published) and alt[target[0]][target[1]] != truth[target[0]][target[1]]:
            return alt
    return None


def _consistent(alt: list[list[int]], published: Grid) -> bool:
    non_negative = all(v >= 0 for r in alt for v in r)
    agrees = all(p is None or p == a
                 for pr, ar in zip(published, alt, strict=True) for p, a in zip(pr, ar, strict=True))
    balanced = all(sum(k * alt[i][j] for (i, j), k in eq) == 0 for eq in _equations(alt))
    return non_negative and agrees and balanced


def _line_alternative(truth: list[int], published: list[int | None], target: int) -> list[int] | None:
    """The registrations column: sum(districts) - total = 0; trade one unit with another suppressed entry."""
    last = len(truth) - 1
    for other in (k for k, v in enumerate(published) if v is None and k != target):
        for sign in (1, -1):
            alt = list(truth)
            alt[target] += sign
            alt[other] += sign if (target == last) != (other == last) else -sign
            if min(alt) >= 0 and sum(alt[:last]) == alt[last] and all(
                    p is None or p == a for p, a in zip(published, alt, strict=True)):
                return alt
    return None


def _assert_protected(t: StatsTable, truth: list[list[int]], line: list[int]) -> None:
    published = _published(t)
    assert all(p in (None, v) for pr, tr in zip(published, truth, strict=True) for p, v in zip(pr, tr, strict=True))
    hidden = [(i, j) for i, r in enumerate(published) for j, v in enumerate(r) if v is None]
    assert all(truth[i][j] > 0 for i, j in hidden)  # zeros are published
    assert all(not 0 < v < t.minimum for pr, tr in zip(published, truth, strict=True)
               for p, v in zip(pr, tr, strict=True) if p is not None)
    for line_of_cells in _equations(published):  # every line with a suppressed cell has two
        assert sum(1 for (i, j), _ in line_of_cells if published[i][j] is None) != 1
    assert _eliminate(published) == set()
    for cell in hidden:
        assert _alternative(truth, published, cell) is not None, f"suppressed cell {cell} is recoverable"
    regs = [t.registrations[r] for r in ROWS]
    assert all(p in (None, v) for p, v in zip(regs, line, strict=True))
    assert all(not 0 < v < t.minimum for p, v in zip(regs, line, strict=True) if p is not None)
    for k in (k for k, p in enumerate(regs) if p is None):
        assert _line_alternative(line, regs, k) is not None, f"suppressed registrations {ROWS[k]} is recoverable"


@st.composite
def _months(draw: st.DrawFn) -> tuple[list[list[int]], list[int], int]:
    zeros = draw(st.sampled_from([1, 3, 8]))  # from dense tables to mostly-empty ones
    count = st.one_of(*[st.just(0)] * zeros, st.integers(1, 9), st.integers(1, 3), st.integers(10, 30))
    grid = draw(st.lists(st.lists(count, min_size=len(BASIS_COLUMNS), max_size=len(BASIS_COLUMNS)),
                         min_size=len(DISTRICTS), max_size=len(DISTRICTS)))
    regs = draw(st.lists(count, min_size=len(DISTRICTS), max_size=len(DISTRICTS)))
    return grid, regs, draw(st.sampled_from([2, 3, 10, 15]))


@settings(max_examples=150, deadline=None)
@given(_months())
def test_attacker_recovers_no_suppressed_cell(month: tuple[list[list[int]], list[int], int]) -> None:
    grid, regs, minimum = month
    people = [p for d, row in zip(DISTRICTS, grid, strict=True) for b, n in zip(BASIS_COLUMNS, row, strict=True)
              for p in _holders(d, b, n)]
    people += [p for d, n in zip(DISTRICTS, regs, strict=True) for p in [PersonStat(d, IN_MONTH, False)] * n]
    t = district_month_table(people, MONTH, {}, minimum, coordinator_ratio=RATIO)
    _assert_protected(t, with_totals(grid), [*regs, sum(regs)])
    assert _true_grid(people) == with_totals(grid)


def test_attacker_catches_unprotected_tables() -> None:
    """The attack itself works: a lone suppressed cell falls to elimination, and a cell joining two otherwise
    protected groups (a bridge) survives elimination but has no alternative: rows 0-1 minus columns 0-1 give it."""
    truth = with_totals([[3, 20], [20, 20]])
    lone: Grid = [[None, 20, 23], [20, 20, 40], [23, 40, 63]]
    assert _eliminate(lone) == {(0, 0)}
    assert _alternative(truth, lone, (0, 0)) is None
    truth = with_totals([[5] * 4] * 4)
    hidden = {(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (0, 2)}
    bridged: Grid = [[None if (i, j) in hidden else v for j, v in enumerate(r)] for i, r in enumerate(truth)]
    assert _eliminate(bridged) == set()
    assert _alternative(truth, bridged, (0, 2)) is None
    assert all(_alternative(truth, bridged, c) is not None for c in hidden - {(0, 2)})


def test_city_coordinators_are_the_districts_sum() -> None:
    t = district_month_table([], MONTH, dict.fromkeys(DISTRICTS, 1), 10, coordinator_ratio=RATIO)
    assert t.coordinators_required[CITY] == len(DISTRICTS)
