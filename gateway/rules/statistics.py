"""Statistics Bureau tables (I-4, I-5 of docs/domain.md): counts by district and month, with small cells suppressed.

Statistics sees counts, never a single person (docs/bureau-files.md, "Statistics Bureau"). Pure: facts in, table out.
"""
from __future__ import annotations

import datetime as _dt
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from gateway.domain.districts import DISTRICTS, District

# The order decides a holder's PRIMARY basis: the first of these that holds (see primary_basis).
BASES = ("R-EMP-1", "R-EMP-2", "R-EMP-3", "R-HOME-1", "R-HOME-2", "R-HOME-3", "R-STUDY", "R-EXEMPT")
NONE_ON_RECORD = "NONE_ON_RECORD"
BASIS_COLUMNS = (*BASES, NONE_ON_RECORD)
VALID_PERMITS = "valid_permits"
PERMIT_COLUMNS = (*BASIS_COLUMNS, VALID_PERMITS)
REGISTRATIONS = "registrations"
CITY = "city"
ROWS = (*DISTRICTS, CITY)
PERMITS_TABLE = "permits"

Cell = tuple[int, int]
Cost = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class StatisticsSettings:
    minimum_cell: int  # no published cell counts 1 .. minimum_cell - 1 people (docs/bureau-files.md)
    coordinator_ratio: int  # one coordinator per this many migrants registered in the previous year (I-4)


@dataclass(frozen=True, slots=True)
class PersonStat:
    """One person's facts for one month, built by the caller from the store; they never leave the gateway.

    district: district code of the person's residence registration in force on the month's last day (legacy
    330204 is folded into 330212). registered_on: the date that registration was declared; the person counts in
    `registrations` when it falls in the month (so a person counts at most once a month, where they live at its
    end). valid_permit: holds a valid permit on the month's last day. bases: the R-* bases that hold on record
    that day, in any order (the primary one is chosen here).
    """

    district: str
    registered_on: _dt.date | None
    valid_permit: bool
    bases: frozenset[str] = frozenset()


class Kind(StrEnum):
    PRIMARY = "primary"  # the cell itself counts 1 .. minimum - 1 people
    COMPLEMENTARY = "complementary"  # hidden so that a primary cell cannot be worked out from the others


@dataclass(frozen=True, slots=True)
class Suppression:
    table: str  # "permits" or "registrations"
    row: str  # a district code or "city"
    column: str  # a basis column, "valid_permits" or "registrations"
    kind: Kind


@dataclass(frozen=True, slots=True)
class StatsTable:
    """What the Statistics Bureau receives for one month; None means suppressed (serialised as "suppressed").

    permits[row][column]: rows are the ten districts and "city" (column totals); columns are BASIS_COLUMNS and
    "valid_permits" (the row total), so permits["city"]["valid_permits"] is the grand total.
    registrations[row]: people whose residence registration was declared in the month; "city" is the total.
    coordinators_required[row]: ceil(previous-year registrations / ratio) per district; "city" is their sum.
    """

    month: str
    minimum: int
    permits: Mapping[str, Mapping[str, int | None]]
    registrations: Mapping[str, int | None]
    coordinators_required: Mapping[str, int]
    suppressed: tuple[Suppression, ...]


def primary_basis(bases: Iterable[str]) -> str:
    """The first basis in BASES order that holds, else NONE_ON_RECORD.

    A holder may meet several bases (a labour contract and a rented flat); counting them once, under one basis,
    keeps the basis cells additive: they sum to the district's valid permits, which suppression relies on.
    """
    held = set(bases)
    unknown = held - set(BASES)
    if unknown:
        raise ValueError(f"unknown permit bases: {sorted(unknown)}")
    return next((b for b in BASES if b in held), NONE_ON_RECORD)


def coordinators_required(registered_previous_year: int, ratio: int) -> int:
    """I-4: at least one coordinator per `ratio` migrants registered in the previous year, rounded up (0 → 0)."""
    if registered_previous_year < 0 or ratio <= 0:
        raise ValueError("registrations must be >= 0 and the ratio > 0")
    return -(-registered_previous_year // ratio)


def district_month_table(people: Iterable[PersonStat], month: str, previous_year_registrations: Mapping[str, int],
                         minimum: int, *, coordinator_ratio: int) -> StatsTable:
    """Count `people` for `month` ('YYYY-MM') by district and publish with disclosure control.

    Every count cell, totals included, that counts 1 .. minimum - 1 people is suppressed (primary). Zeros are
    published: a zero counts nobody, so it cannot single anyone out, and a hidden zero could not absorb the -1 that
    hides its neighbours (counts are >= 0), so zeros are never complementary cells either. Then complementary
    cells are added (see protect_grid, protect_line) until every suppressed cell has another non-negative table,
    consistent with every published number, in which it differs. coordinators_required is a staffing figure, not
    a count of people: always published. Districts missing from previous_year_registrations registered nobody.

    Suppression is decided on the whole month's table: a caller answering for one district must cut this table,
    never recompute it for a subset (two different patterns for the same month could be combined).
    """
    if minimum < 2:
        raise ValueError("minimum must be at least 2 (a minimum of 1 suppresses nothing)")
    counts, regs = _count(people, _parse_month(month))
    grid = with_totals([[counts[d][b] for b in BASIS_COLUMNS] for d in DISTRICTS])
    grid_primary, grid_extra = protect_grid(grid, minimum)
    line = [*(regs[d] for d in DISTRICTS), sum(regs.values())]
    line_primary, line_extra = protect_line(line, minimum)
    hidden, hidden_line = grid_primary | grid_extra, line_primary | line_extra
    permits = {r: {c: None if (i, j) in hidden else grid[i][j] for j, c in enumerate(PERMIT_COLUMNS)}
               for i, r in enumerate(ROWS)}
    registrations = {r: None if i in hidden_line else line[i] for i, r in enumerate(ROWS)}
    suppressed = tuple(Suppression(PERMITS_TABLE, ROWS[i], PERMIT_COLUMNS[j], _kind(grid_primary, (i, j)))
                       for i, j in sorted(hidden))
    suppressed += tuple(Suppression(REGISTRATIONS, ROWS[i], REGISTRATIONS, _kind(line_primary, i))
                        for i in sorted(hidden_line))
    return StatsTable(month, minimum, permits, registrations,
                      _coordinators(previous_year_registrations, coordinator_ratio), suppressed)


def _kind(primary: frozenset[Cell] | frozenset[int], key: Cell | int) -> Kind:
    return Kind.PRIMARY if key in primary else Kind.COMPLEMENTARY


def _parse_month(month: str) -> tuple[int, int]:
    try:
        year, mon = month.split("-")
        if len(year) != 4 or len(mon) != 2:
            raise ValueError
        _dt.date(int(year), int(mon), 1)
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"month must be YYYY-MM, got {month!r}") from exc
    return int(year), int(mon)


def _count(people: Iterable[PersonStat], month: tuple[int, int]) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    permits = {d: dict.fromkeys(BASIS_COLUMNS, 0) for d in DISTRICTS}
    regs = dict.fromkeys(DISTRICTS, 0)
    for p in people:
        district = District.parse(p.district).code
        if p.valid_permit:
            permits[district][primary_basis(p.bases)] += 1
        if p.registered_on is not None and (p.registered_on.year, p.registered_on.month) == month:
            regs[district] += 1
    return permits, regs


def _coordinators(previous_year: Mapping[str, int], ratio: int) -> dict[str, int]:
    registered = dict.fromkeys(DISTRICTS, 0)
    for code, n in previous_year.items():
        registered[District.parse(code).code] += n  # a legacy 330204 count adds to 330212
    needed = {d: coordinators_required(n, ratio) for d, n in registered.items()}
    return {**needed, CITY: sum(needed.values())}


def with_totals(rows: Sequence[Sequence[int]]) -> list[list[int]]:
    """The rows with a row-total column appended and a column-total row (grand total last) appended."""
    full = [[*r, sum(r)] for r in rows]
    return [*full, [sum(col) for col in zip(*full, strict=True)]]


def protect_line(values: Sequence[int], minimum: int) -> tuple[frozenset[int], frozenset[int]]:
    """Suppression for one column of counts whose last entry is their total (registrations by district).

    Its only equation is sum(districts) = total, so a suppressed entry is recoverable exactly when it is the only
    one suppressed: then the smallest non-zero district entry is suppressed too. Returns (primary, complementary).
    """
    primary = frozenset(k for k, v in enumerate(values) if 0 < v < minimum)
    if len(primary) != 1:
        return primary, frozenset()
    last = len(values) - 1
    others = [k for k, v in enumerate(values) if v > 0 and k not in primary]
    return primary, frozenset({min(others, key=lambda k: (k == last, values[k], k))})


def protect_grid(grid: Sequence[Sequence[int]], minimum: int) -> tuple[frozenset[Cell], frozenset[Cell]]:
    """Suppression for a table with totals (last column: row totals; last row: column totals and grand total).

    Every entry, totals included, lies in exactly one row equation and one column equation, so the table is a
    graph: a node per row and per column, an edge per entry. The suppressed entries that a combination of
    published rows and columns determines are exactly the BRIDGES of the graph of suppressed entries (those on no
    cycle). An entry on a cycle is not determined: adding +1/-1 alternately around the cycle changes it and no
    published number, and keeps every count >= 0 because every suppressed entry is >= 1. So each line with a
    suppressed entry has at least two, and eliminating lines with one unknown solves nothing.

    Primary: entries of 1 .. minimum - 1. Then, while some suppressed entry is a bridge (primary ones first, in
    table order), the cheapest cycle through it is completed (Dijkstra over non-zero entries; already suppressed
    entries cost nothing). Cost, compared in order: grand totals, other totals, then the sum of the counts hidden;
    so interior cells are preferred, totals are hidden only when no cycle avoids them, and small cells before
    large ones. Each round hides at least one entry, so this ends. Returns (primary, complementary).
    """
    primary = frozenset((i, j) for i, row in enumerate(grid) for j, v in enumerate(row) if 0 < v < minimum)
    hidden = set(primary)
    while bridges := _bridges(hidden, len(grid)):
        first = min(bridges, key=lambda c: (c not in primary, c))
        hidden |= _cheapest_cycle(grid, hidden, first)
    return primary, frozenset(hidden - primary)


def _bridges(hidden: set[Cell], n_rows: int) -> set[Cell]:
    """Tarjan's bridge-finding over rows (nodes 0 .. n_rows-1) and columns (n_rows + j), edges the hidden cells."""
    adjacent: dict[int, list[tuple[int, Cell]]] = {}
    for i, j in sorted(hidden):
        adjacent.setdefault(i, []).append((n_rows + j, (i, j)))
        adjacent.setdefault(n_rows + j, []).append((i, (i, j)))
    order: dict[int, int] = {}
    low: dict[int, int] = {}
    found: set[Cell] = set()

    def visit(u: int, via: Cell | None) -> None:
        order[u] = low[u] = len(order)
        for v, cell in adjacent[u]:
            if cell == via:
                continue
            if v in order:
                low[u] = min(low[u], order[v])
                continue
            visit(v, cell)
            low[u] = min(low[u], low[v])
            if low[v] > order[u]:
                found.add(cell)

    for node in sorted(adjacent):
        if node not in order:
            visit(node, None)
    return found


def _edges(grid: Sequence[Sequence[int]], node: int) -> list[tuple[Cell, int]]:
    n = len(grid)
    if node < n:
        return [((node, j), n + j) for j in range(len(grid[0]))]
    return [((i, node - n), i) for i in range(n)]


def _cost(grid: Sequence[Sequence[int]], hidden: set[Cell], cell: Cell) -> Cost:
    if cell in hidden:
        return (0, 0, 0)
    i, j = cell
    in_total_row, in_total_column = i == len(grid) - 1, j == len(grid[0]) - 1
    return (int(in_total_row and in_total_column), int(in_total_row != in_total_column), grid[i][j])


def _cheapest_cycle(grid: Sequence[Sequence[int]], hidden: set[Cell], bridge: Cell) -> set[Cell]:
    """The not-yet-hidden cells of the cheapest path from the bridge's column back to its row, avoiding it."""
    start, goal = len(grid) + bridge[1], bridge[0]
    best: dict[int, Cost] = {start: (0, 0, 0)}
    came_by: dict[int, tuple[Cell, int]] = {}
    heap: list[tuple[Cost, int]] = [((0, 0, 0), start)]
    while heap:
        cost, u = heapq.heappop(heap)
        if u == goal:
            break
        if cost > best[u]:
            continue
        for cell, v in _edges(grid, u):
            if cell == bridge or grid[cell[0]][cell[1]] == 0:
                continue
            step = _cost(grid, hidden, cell)
            new = (cost[0] + step[0], cost[1] + step[1], cost[2] + step[2])
            if v not in best or new < best[v]:
                best[v], came_by[v] = new, (cell, u)
                heapq.heappush(heap, (new, v))
    if goal not in came_by:  # cannot happen: a non-zero cell's totals are non-zero and close a cycle
        raise RuntimeError(f"no cycle closes suppressed cell {bridge}")
    path, u = set(), goal
    while u != start:
        cell, u = came_by[u]
        path.add(cell)
    return path - hidden
