"""The published points table (policies/points.toml), read and validated, and given back as GetPointsRules serves it.

P-3: the table residents read is the one they are scored with, so both come from this one parse; a bad file fails at
start with the indicator named, never at a resident's query.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.domain.districts import DISTRICTS
from gateway.policy.catalogue import PolicyError
from gateway.rules.points import (
    MEASURES,
    SCORING_KINDS,
    AgeBand,
    AgeBands,
    Flag,
    Group,
    GroupStatus,
    Indicator,
    LevelTable,
    Params,
    PerMonth,
    PointsTable,
    Violations,
)
from gateway.settings.loader import is_whole, read_policy_toml

POINTS_FILE = "points.toml"
DISTRICT_GROUP = "district"
_TOP = {"max", "groups", "indicators", "violations", "districts"}
_GROUP_KEYS = {"name_zh", "name_en", "max", "status"}
_INDICATOR_KEYS = {"id", "group", "name_zh", "name_en", "max", "scoring", "measure", "reads", "params"}
_PARAM_KEYS = {"age_band": {"bands", "per_year_younger"}, "per_month": {"points_per_month"},
               "level_table": {"levels"}, "flag": {"points"}}
_VIOLATION_KEYS = {"name_zh", "name_en", "points_per_record", "freezes_account", "reads"}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


def _keys(where: str, data: object, allowed: set[str], required: set[str] | None = None) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise PolicyError(f"{where}: must be a table")
    unknown, missing = set(data) - allowed, (allowed if required is None else required) - set(data)
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {sorted(unknown)}")
    if missing:
        raise PolicyError(f"{where}: missing key(s) {sorted(missing)}")
    return data


def _number(where: str, value: object, ceiling: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"{where}: must be a number")
    if value < 0:
        raise PolicyError(f"{where}: must not be negative ({value})")
    if ceiling is not None and value > ceiling:
        raise PolicyError(f"{where}: {value} is more than the indicator's max {ceiling:g}")
    return float(value)


def _text(where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"{where}: must be non-empty text")
    return value


def _age_bands(where: str, p: Mapping[str, Any], top: float) -> AgeBands:
    if not isinstance(p["bands"], list) or not p["bands"]:
        raise PolicyError(f"{where}: bands must be a non-empty list")
    bands = []
    for n, b in enumerate(p["bands"], 1):
        b = _keys(f"{where}: band {n}", b, {"from", "to", "points"})
        lo, hi = (b[k] for k in ("from", "to"))
        if not all(is_whole(x) and 0 <= x <= 150 for x in (lo, hi)) or lo > hi:
            raise PolicyError(f"{where}: band {n}: from and to must be ages (whole years) with from <= to")
        bands.append(AgeBand(lo, hi, _number(f"{where}: band {n} points", b["points"], top)))
    bands.sort(key=lambda b: b.from_age)
    if any(a.to_age >= b.from_age for a, b in zip(bands, bands[1:], strict=False)):
        raise PolicyError(f"{where}: age bands overlap")
    return AgeBands(tuple(bands), _number(f"{where}: per_year_younger", p.get("per_year_younger", 0)))


def _level_table(where: str, p: Mapping[str, Any], top: float, measure: str) -> LevelTable:
    levels = p["levels"]
    if not isinstance(levels, dict) or not levels:
        raise PolicyError(f"{where}: levels must be a non-empty table of level = points")
    shown = MEASURES[measure].levels
    if shown and set(levels) != set(shown):
        raise PolicyError(f"{where}: measure {measure!r} shows levels {list(shown)}: levels must price exactly those")
    return LevelTable(tuple((str(k), _number(f"{where}: level {k}", v, top)) for k, v in levels.items()))


def _params(where: str, kind: str, p: object, top: float, measure: str) -> Params:
    required = _PARAM_KEYS[kind] - {"per_year_younger"}
    p = _keys(f"{where}: params", p, _PARAM_KEYS[kind], required)
    if kind == "age_band":
        return _age_bands(f"{where}: params", p, top)
    if kind == "per_month":
        return PerMonth(_number(f"{where}: points_per_month", p["points_per_month"]))
    if kind == "level_table":
        return _level_table(f"{where}: params", p, top, measure)
    return Flag(_number(f"{where}: points", p["points"], top))


def _indicator(prefix: str, n: int, data: object, groups: Mapping[str, Group], district: bool = False) -> Indicator:
    ident = data.get("id") if isinstance(data, dict) else None
    if not isinstance(ident, str) or not _ID.match(ident):
        raise PolicyError(f"{prefix}indicator {n}: id must be lower-case letters, digits and _ (got {ident!r})")
    where = f"{prefix}indicator {ident!r}"
    d = _keys(where, data, _INDICATOR_KEYS, _INDICATOR_KEYS - ({"group"} if district else set()))
    g = d.get("group", DISTRICT_GROUP)
    allowed = [DISTRICT_GROUP] if district else sorted(set(groups) - {DISTRICT_GROUP})
    if g not in allowed:
        raise PolicyError(f"{where}: group must be one of {allowed} (got {g!r})")
    top = _number(f"{where}: max", d["max"])
    if top > groups[g].max:
        raise PolicyError(f"{where}: max {top:g} is more than the {g} group's max {groups[g].max:g}")
    kind, measure = d["scoring"], d["measure"]
    if kind not in SCORING_KINDS:
        raise PolicyError(f"{where}: unknown scoring kind {kind!r} (known: {', '.join(SCORING_KINDS)})")
    if measure not in MEASURES:
        raise PolicyError(f"{where}: unknown measure {measure!r} (known: {', '.join(MEASURES)})")
    if kind not in MEASURES[measure].kinds:
        raise PolicyError(f"{where}: measure {measure!r} cannot be scored as {kind!r}")
    reads = d["reads"]
    if not isinstance(reads, list) or sorted(reads) != sorted(MEASURES[measure].reads):
        raise PolicyError(f"{where}: measure {measure!r} reads {list(MEASURES[measure].reads)}, not {reads!r}")
    return Indicator(ident, g, _text(f"{where}: name_zh", d["name_zh"]), _text(f"{where}: name_en", d["name_en"]),
                     top, measure, tuple(reads), _params(where, kind, d["params"], top, measure))


def _groups(data: object, table_max: float) -> dict[str, Group]:
    if not isinstance(data, dict) or DISTRICT_GROUP not in data:
        raise PolicyError(f"[groups] must be a table of groups including {DISTRICT_GROUP!r}")
    groups = {}
    for gid, g in data.items():
        where = f"group {gid!r}"
        g = _keys(where, g, _GROUP_KEYS)
        if g["status"] not in tuple(GroupStatus):
            raise PolicyError(f"{where}: status must be one of {[s.value for s in GroupStatus]}")
        groups[gid] = Group(gid, _text(f"{where}: name_zh", g["name_zh"]), _text(f"{where}: name_en", g["name_en"]),
                            _number(f"{where}: max", g["max"]), GroupStatus(g["status"]))
    total = round(sum(g.max for g in groups.values()), 2)
    if total != table_max:
        raise PolicyError(f"the groups' maxima add up to {total:g}, not the table's max {table_max:g}")
    return groups


def _check_adds_up(where: str, group: Group, items: tuple[Indicator, ...]) -> None:
    total = round(sum(i.max for i in items), 2)
    if group.status is GroupStatus.PUBLISHED and total != group.max:
        raise PolicyError(f"{where}: the indicators' maxima ({', '.join(f'{i.id} {i.max:g}' for i in items)}) add "
                          f"up to {total:g}, not the group's max {group.max:g}")
    if total > group.max:
        raise PolicyError(f"{where}: the indicators' maxima add up to {total:g}, more than the group's max "
                          f"{group.max:g}")


def _districts(data: object, groups: Mapping[str, Group], taken: set[str]) -> dict[str, tuple[Indicator, ...]]:
    if not isinstance(data, dict):
        raise PolicyError("[districts] must be a table keyed by district code")
    out = {}
    for code, items in data.items():
        if code not in DISTRICTS:
            raise PolicyError(f"[districts]: unknown district code {code!r} (Ningbo's codes: {', '.join(DISTRICTS)})")
        if not isinstance(items, list):
            raise PolicyError(f"district {code}: must be a list of indicators ([[districts.\"{code}\"]])")
        parsed = tuple(_indicator(f"district {code}: ", n, d, groups, district=True) for n, d in enumerate(items, 1))
        _unique(f"district {code}", parsed, taken)
        _check_adds_up(f"district {code}", groups[DISTRICT_GROUP], parsed)
        out[code] = parsed
    return out


def _unique(where: str, items: tuple[Indicator, ...], taken: set[str]) -> None:
    seen = set(taken)
    for i in items:
        if i.id in seen:
            raise PolicyError(f"{where}: indicator {i.id!r}: id used twice")
        seen.add(i.id)


def _violations(data: object) -> Violations:
    v = _keys("[violations]", data, _VIOLATION_KEYS)
    if v["reads"] != []:
        raise PolicyError("[violations]: reads must be [] (the gateway receives no violation records)")
    if not isinstance(v["freezes_account"], bool):
        raise PolicyError("[violations]: freezes_account must be true or false")
    return Violations(_text("[violations]: name_zh", v["name_zh"]), _text("[violations]: name_en", v["name_en"]),
                      _number("[violations]: points_per_record", v["points_per_record"]), v["freezes_account"])


def parse_points(data: Mapping[str, Any], version: str = "") -> PointsTable:
    """The table from parsed TOML; PolicyError names what is wrong."""
    _keys("the file", dict(data), _TOP, _TOP - {"districts"})
    table_max = _number("max", data["max"])
    groups = _groups(data["groups"], table_max)
    if not isinstance(data["indicators"], list):
        raise PolicyError("indicators must be a list ([[indicators]])")
    indicators = tuple(_indicator("", n, d, groups) for n, d in enumerate(data["indicators"], 1))
    _unique("[[indicators]]", indicators, set())
    for g in groups.values():
        if g.id != DISTRICT_GROUP:
            _check_adds_up(f"group {g.id!r}", g, tuple(i for i in indicators if i.group == g.id))
    districts = _districts(data.get("districts", {}), groups, {i.id for i in indicators})
    return PointsTable(table_max, tuple(groups.values()), indicators, _violations(data["violations"]), districts,
                       version)


def load_points(directory: Path) -> PointsTable:
    path = directory / POINTS_FILE
    data, raw = read_policy_toml(path)
    try:
        return parse_points(data, hashlib.sha256(raw).hexdigest())
    except PolicyError as exc:
        raise PolicyError(f"{path}: {exc}") from None


# --- what GetPointsRules serves ---------------------------------------------------------------------------------


def _params_dict(p: Params) -> dict[str, Any]:
    if isinstance(p, AgeBands):
        return {"bands": [{"from": b.from_age, "to": b.to_age, "points": b.points} for b in p.bands],
                "per_year_younger": p.per_year_younger}
    if isinstance(p, PerMonth):
        return {"points_per_month": p.points_per_month}
    if isinstance(p, LevelTable):
        return {"levels": dict(p.levels)}
    return {"points": p.points}


def _indicator_dict(i: Indicator) -> dict[str, Any]:
    return {"id": i.id, "group": i.group, "name_zh": i.name_zh, "name_en": i.name_en, "max": i.max,
            "scoring": i.scoring, "measure": i.measure, "reads": list(i.reads), "params": _params_dict(i.params)}


def points_table_as_dict(table: PointsTable) -> dict[str, Any]:
    """The published table (P-3) as plain data (a google.protobuf.Struct): the one compute_points uses."""
    v = table.violations
    return {
        "version": table.version,
        "max": table.max,
        "groups": {g.id: {"name_zh": g.name_zh, "name_en": g.name_en, "max": g.max, "status": g.status.value}
                   for g in table.groups},
        "indicators": [_indicator_dict(i) for i in table.indicators],
        "violations": {"name_zh": v.name_zh, "name_en": v.name_en, "points_per_record": v.points_per_record,
                       "freezes_account": v.freezes_account, "reads": list(v.reads)},
        "districts": {code: [_indicator_dict(i) for i in items] for code, items in table.districts.items()},
    }
