"""Give each synthetic resident a life the other bureaus can see: spouse, work, insurance, home and school.

It draws from its own random stream (seeded from the population's seed), so the PSB's people stay as they were.
"""
from __future__ import annotations

import datetime as _dt
import random
from collections.abc import Sequence

from gateway.domain.districts import DISTRICTS
from gateway.domain.idnumber import check_char
from gateway.synth.people import GIVEN, SURNAMES, SynthPerson
from gateway.synth.story import (
    BACK_PAID,
    INJURY_ONLY,
    LATE,
    NONE,
    PAID,
    Contract,
    Insurance,
    Land,
    Licence,
    Rental,
    Schooling,
    Title,
    month_number,
    month_text,
    uscc,
)

DAY = _dt.timedelta(days=1)
YEAR = 365 * DAY
MAX_MONTHS = 36  # contributions on file per person: at most three years
RURAL = frozenset({"330213", "330225", "330226", "330281", "330282"})
COASTAL = frozenset({"330206", "330213", "330225", "330226"})
KIND_SUFFIX = {"330281": "市", "330282": "市", "330225": "县", "330226": "县"}  # else 区

WORK_KINDS = ("employee", "self-employed", "farmer", "unemployed")
WORK_WEIGHTS = {"21": (92, 2, 1, 5), "11": (52, 30, 6, 12)}
WORK_DEFAULT = (66, 13, 3, 18)
LICENCE_KINDS = ("GTGSH", "QY", "MFQY", "SWS")
# GB 32100: registration authority + organisation kind (9x market regulation, 5x civil affairs, 3x justice)
LICENCE_PREFIX = {"GTGSH": "92", "QY": "91", "MFQY": "52", "SWS": "31"}
LAND_KINDS = ("TDLZ", "YZZ", "JTYZ")

BRANDS = ("恒达", "宏远", "华新", "永盛", "甬兴", "东方", "金海", "鼎盛", "天成",
          "瑞丰", "汇通", "嘉禾", "明远", "安泰", "联创", "新港", "海润", "中泰")
TRADES = ("机械制造", "电子科技", "纺织服装", "物流", "建筑工程", "模具",
          "餐饮管理", "塑料制品", "汽车零部件", "家电", "港口服务", "食品")
SHOPS = ("餐饮店", "便利店", "五金店", "服装店", "理发店", "水果店", "汽修店", "小吃店", "快递驿站", "装潢部")
# stage: (schools per district, first code number, name ending)
SCHOOLS = {"XX": (40, 100, "小学"), "CZ": (20, 500, "初级中学"), "GZ": (8, 700, "高级中学"),
           "ZZ": (4, 800, "职业高级中学"), "GX": (3, 900, "职业技术学院")}


class _World:
    """The shared random stream and the things residents share: employers, landlords, serial numbers."""

    def __init__(self, seed: int, as_of: _dt.date) -> None:
        self.rng = random.Random(f"{seed}:lives")
        self.as_of = as_of
        self.now = month_number(as_of)
        self.employers: dict[str, list[tuple[str, str]]] = {d: [] for d in DISTRICTS}
        self.landlords: dict[str, list[tuple[str, str]]] = {d: [] for d in DISTRICTS}
        self.local_ids: set[str] = set()
        self.serial = 0

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial


def _clip(d: _dt.date, lo: _dt.date, hi: _dt.date) -> _dt.date:
    return max(lo, min(d, hi))


def _adult_from(p: SynthPerson) -> _dt.date:
    return p.birth + 18 * YEAR


def _place(district: str) -> str:
    return f"{DISTRICTS[district]}{KIND_SUFFIX.get(district, '区')}"


def _name(rng: random.Random, surname: str | None = None) -> str:
    return (surname or rng.choice(SURNAMES)) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _local_person(w: _World, district: str, birth: _dt.date, surname: str | None = None) -> tuple[str, str]:
    """A Ningbo-hukou person (landlord, relative): not a migrant, so never in jzdj."""
    while True:
        first17 = f"{district}{birth:%Y%m%d}{w.rng.randrange(1000):03d}"
        pid = first17 + check_char(first17)
        if pid not in w.local_ids:
            w.local_ids.add(pid)
            return pid, _name(w.rng, surname)


# --- spouses ------------------------------------------------------------------------------------------------


def _pair_spouses(w: _World, adults: Sequence[SynthPerson]) -> None:
    """About half the adults are married to another migrant of the same district, at most 12 years apart."""
    waiting: dict[tuple[str, str], list[SynthPerson]] = {}
    for p in adults:
        if w.rng.random() >= 0.55:
            continue
        other = waiting.get((p.district, "2" if p.sex == "1" else "1"))
        if other and abs((other[-1].birth - p.birth).days) < 12 * 365:
            q = other.pop()
            p.spouse_id, q.spouse_id = q.id_number, p.id_number
        else:
            waiting.setdefault((p.district, p.sex), []).append(p)


# --- work and insurance -------------------------------------------------------------------------------------


def _employer(w: _World, district: str) -> tuple[str, str]:
    """An employer of the district: big ones (early in the list) are picked more often; a few are new."""
    known = w.employers[district]
    if known and w.rng.random() > 0.08:
        return known[int(len(known) * w.rng.random() ** 2)]
    rng = w.rng
    made = (f"{district}{w.next_serial():06d}",
            f"宁波{rng.choice(BRANDS)}{rng.choice(TRADES)}{rng.choice(('有限公司', '股份有限公司'))}")
    known.append(made)
    return made


def _employee_types(rng: random.Random) -> tuple[str, ...]:
    """Pension and medical always; unemployment, work injury and maternity often."""
    extra = (("210", 0.6), ("410", 0.65), ("510", 0.45))
    return tuple(sorted(("110", "310", *(code for code, share in extra if rng.random() < share))))


def _month_marks(w: _World, n: int) -> list[str]:
    """N for each month, some L (late); sometimes a gap of 1-3 months, back-paid (B) or not (-)."""
    rng = w.rng
    marks = [LATE if rng.random() < 0.04 else PAID for _ in range(n)]
    if n >= 6 and rng.random() < 0.14:
        length = rng.randint(1, 3)
        at = rng.randrange(1, n - length)
        marks[at:at + length] = [BACK_PAID if rng.random() < 0.5 else NONE] * length
    return marks


def _insurance(w: _World, unit: tuple[str, str], start: _dt.date, end: _dt.date | None,
               types: tuple[str, ...]) -> Insurance | None:
    """Contributions from the start month (at most MAX_MONTHS back) to last month, or to the end month."""
    last = w.now - 1 if end is None or end >= w.as_of else month_number(end)
    first = max(month_number(start), w.now - MAX_MONTHS)
    if first > last:
        return None
    marks = _month_marks(w, last - first + 1)
    if w.rng.random() < 0.06:  # months in which the employer paid only work-injury insurance
        types = tuple(sorted({*types, "410"}))
        for _ in range(w.rng.randint(1, 2)):
            i = w.rng.randrange(len(marks))
            if marks[i] in (PAID, LATE):
                marks[i] = INJURY_ONLY
    return Insurance(unit[0], unit[1], first, "".join(marks), types, w.now)


def _work_kind(w: _World, p: SynthPerson) -> str:
    if p.talent == "TZ":
        return "self-employed"
    if (w.as_of - p.birth).days < 25 * 365 and w.rng.random() < 0.15:
        return "student"
    weights = list(WORK_WEIGHTS.get(p.housing_type, WORK_DEFAULT))
    if p.district in RURAL:
        weights[2] *= 3
    return w.rng.choices(WORK_KINDS, weights)[0]


def _employee(w: _World, p: SynthPerson) -> None:
    """A current labour contract; most have insurance from its start, some started under a year ago."""
    rng, as_of = w.rng, w.as_of
    if rng.random() < 0.15:
        start = as_of - DAY * rng.randrange(20, 360)
    else:
        start = p.registered_on + DAY * rng.randrange(-120, 60)
    start = _clip(start, _adult_from(p), as_of - 7 * DAY)
    end = None if rng.random() < 0.6 else as_of + DAY * rng.randrange(30, 900)
    unit = _employer(w, p.district)
    p.contract = Contract(unit[0], unit[1], start, end, rng.random() < 0.94)
    if rng.random() < 0.92:
        p.insurance = _insurance(w, unit, start, None, _employee_types(rng))


def _business_name(rng: random.Random, p: SynthPerson, kind: str) -> str:
    if kind == "GTGSH":
        return f"{_place(p.district)}{p.name[0]}记{rng.choice(SHOPS)}"
    if kind == "MFQY":
        return f"宁波市{_place(p.district)}{rng.choice(BRANDS)}{rng.choice(('培训学校', '养老服务中心', '幼儿园'))}"
    if kind == "SWS":
        return f"浙江{rng.choice(BRANDS)}{rng.choice(('律师事务所', '会计师事务所'))}"
    return f"宁波{rng.choice(BRANDS)}{rng.choice(TRADES)}有限公司"


def _self_employed(w: _World, p: SynthPerson) -> None:
    """A business licence as legal representative (R-EMP-2); most pay pension and medical insurance."""
    rng, as_of = w.rng, w.as_of
    kind = "QY" if p.talent == "TZ" else rng.choices(LICENCE_KINDS, (80, 12, 4, 4))[0]
    registered = _clip(p.registered_on + DAY * rng.randrange(-60, 365), _adult_from(p), as_of - DAY)
    span = (as_of - registered).days
    closed = registered + DAY * rng.randrange(30, span) if span > 60 and rng.random() < 0.06 else None
    code = uscc(LICENCE_PREFIX[kind], p.district, w.next_serial())
    p.licence = Licence(code, kind, _business_name(rng, p, kind), registered, closed)
    if rng.random() < 0.85:
        p.insurance = _insurance(w, (code, p.licence.name), registered, closed, ("110", "310"))


def _farmer(w: _World, p: SynthPerson) -> None:
    """A land-transfer or aquaculture contract (R-EMP-3); some started under a year ago, a few have ended."""
    rng, as_of = w.rng, w.as_of
    kind = rng.choices(LAND_KINDS, (40, 30, 30) if p.district in COASTAL else (80, 5, 15))[0]
    if rng.random() < 0.12:
        start = as_of - DAY * rng.randrange(30, 330)
    else:
        start = p.registered_on + DAY * rng.randrange(-30, 240)
    start = _clip(start, _adult_from(p), as_of - 10 * DAY)
    end = start + YEAR * rng.randint(3, 15)
    if end < as_of or rng.random() < 0.08:
        end = max(start + 30 * DAY, as_of - DAY * rng.randrange(10, 300))
    number = f"{kind}{p.district}{start.year}{w.next_serial():06d}"
    p.land = Land(number, kind, start, end)
    if rng.random() < 0.3:  # insured as a flexibly employed person
        unit = (f"{p.district}999999", f"宁波市{_place(p.district)}灵活就业人员")
        p.insurance = _insurance(w, unit, start, end, ("110", "310"))


def _unemployed(w: _World, p: SynthPerson) -> None:
    """Half had a job that ended (contract and insurance stop then); the rest have nothing on file."""
    rng, as_of = w.rng, w.as_of
    if rng.random() >= 0.5:
        return
    end = as_of - DAY * rng.randrange(45, 700)
    start = _clip(end - DAY * rng.randrange(180, 1800), _adult_from(p), end - 30 * DAY)
    if start >= end:
        return
    unit = _employer(w, p.district)
    p.contract = Contract(unit[0], unit[1], start, end, rng.random() < 0.9)
    if rng.random() < 0.9:
        p.insurance = _insurance(w, unit, start, end, _employee_types(rng))


def _school_year(as_of: _dt.date) -> int:
    return as_of.year if as_of.month >= 9 else as_of.year - 1


def _school(w: _World, district: str, stage: str) -> tuple[str, str]:
    size, base, ending = SCHOOLS[stage]
    i = w.rng.randrange(size)
    return f"1{district}{base + i:03d}", f"宁波市{_place(district)}第{i + 1}{ending}"


def _student(w: _World, p: SynthPerson) -> None:
    """A young adult in higher education in the city (R-STUDY), enrolled up to three years ago."""
    code, name = _school(w, p.district, "GX")
    year = _school_year(w.as_of) - w.rng.randrange(0, 4)
    status = w.rng.choices(("01", "02", "03"), (92, 4, 4))[0]
    p.schooling = (Schooling(code, name, "GX", f"{year}09", status),)


_WORK = {"employee": _employee, "self-employed": _self_employed, "farmer": _farmer, "student": _student,
         "unemployed": _unemployed}


def _work(w: _World, p: SynthPerson) -> None:
    p.work = _work_kind(w, p)
    _WORK[p.work](w, p)


# --- homes --------------------------------------------------------------------------------------------------


def _title_number(w: _World, district: str, year: int) -> str:
    return f"浙({year})宁波市{_place(district)}不动产权第{w.next_serial():07d}号"


def _own_title(w: _World, p: SynthPerson) -> Title:
    registered = _clip(p.registered_on - DAY * w.rng.randrange(0, 2500), _adult_from(p), w.as_of - DAY)
    co_owners = (p.spouse_id,) if p.spouse_id and w.rng.random() < 0.5 else ()
    return Title(_title_number(w, p.district, registered.year), p.id_number, p.name, co_owners, p.address,
                 p.district, registered, "self")


def _elder(w: _World, p: SynthPerson, neighbours: Sequence[SynthPerson]) -> SynthPerson | None:
    """A migrant of the district old enough to be the resident's parent, if a few tries find one."""
    for _ in range(12):
        q = neighbours[w.rng.randrange(len(neighbours))]
        if (p.birth - q.birth).days >= 20 * 365:
            return q
    return None


def _relative_title(w: _World, p: SynthPerson, by_id: dict[str, SynthPerson],
                    by_district: dict[str, list[SynthPerson]]) -> Title:
    """The home of a spouse or parent in jzdj, or of a local relative who is not a migrant."""
    roll = w.rng.random()
    owner = by_id[p.spouse_id] if p.spouse_id and roll < 0.5 else None
    relation = "spouse"
    if owner is None and roll < 0.8:
        owner, relation = _elder(w, p, by_district[p.district]), "parent"
    if owner is not None:
        owner_id, owner_name, owner_birth = owner.id_number, owner.name, owner.birth
    else:
        relation = "relative"
        owner_birth = p.birth - DAY * w.rng.randrange(22 * 365, 36 * 365)
        owner_id, owner_name = _local_person(w, p.district, owner_birth, p.name[0])
    registered = _clip(p.registered_on - DAY * w.rng.randrange(0, 4000), owner_birth + 18 * YEAR, w.as_of - DAY)
    return Title(_title_number(w, p.district, registered.year), owner_id, owner_name, (), p.address, p.district,
                 registered, relation)


def _landlord(w: _World, district: str) -> tuple[str, str]:
    known = w.landlords[district]
    if known and w.rng.random() < 0.35:
        return known[w.rng.randrange(len(known))]
    birth = w.as_of - DAY * w.rng.randrange(35 * 365, 80 * 365)
    made = _local_person(w, district, birth)
    known.append(made)
    return made


def _rental(w: _World, p: SynthPerson, state: str) -> Rental:
    """Registered rentals mostly run past as_of; a tenth have lapsed. Withdrawn ones (state 0) as they were."""
    rng, as_of = w.rng, w.as_of
    start = p.registered_on - DAY * rng.randrange(0, 45)
    if state == "1" and rng.random() < 0.9:
        end: _dt.date | None = as_of + DAY * rng.randrange(20, 720)
    elif state == "1":
        end = as_of - DAY * rng.randrange(1, 240)
        end = end if end > start else None
    else:
        end = start + DAY * rng.randrange(90, 720)
    number = f"CZ{p.district}{start.year}{w.next_serial():07d}"
    return Rental(number, _landlord(w, p.district)[0], p.address, p.district, start, end, state)


def _home(w: _World, p: SynthPerson, by_id: dict[str, SynthPerson],
          by_district: dict[str, list[SynthPerson]]) -> None:
    """The housing bureau's view of ZSLX: 11 a title, 12 a relative's title, 31 a rental, 32 maybe a withdrawn one."""
    kind = p.housing_type
    if kind == "11":
        p.title = _own_title(w, p)
    elif kind == "12":
        p.title = _relative_title(w, p, by_id, by_district)
    elif kind == "31":
        p.rental = _rental(w, p, "1")
    elif kind == "32" and w.rng.random() < 0.3:
        p.rental = _rental(w, p, "0")


# --- children -----------------------------------------------------------------------------------------------


def _stage(w: _World, birth: _dt.date) -> tuple[str, int] | None:
    """Stage and the year it began, from age (school starts the September after the sixth birthday)."""
    entry = birth.year + 6 + (1 if birth.month >= 9 else 0)
    grade = _school_year(w.as_of) - entry + 1
    if grade < 1:
        return None
    if grade <= 6:
        return "XX", entry
    if grade <= 9:
        return "CZ", entry + 6
    return ("GZ" if w.rng.random() < 0.7 else "ZZ"), entry + 9


def _child_schooling(w: _World, p: SynthPerson) -> tuple[Schooling, ...]:
    """The current enrolment; some moved in during the stage, some have the previous stage graduated (04)."""
    staged = _stage(w, p.birth)
    if staged is None:
        return ()
    stage, year = staged
    rng = w.rng
    month = f"{year}09"
    moved = rng.random() < 0.15
    if moved:
        month = month_text(max(year * 12 + 8, month_number(w.as_of - DAY * rng.randrange(20, 600))))
    status = rng.choices(("01", "02", "03"), (93, 3, 4))[0]
    current = Schooling(*_school(w, p.district, stage), stage, month, status)
    if stage == "XX" or moved or rng.random() >= 0.4:
        return (current,)
    before, years = ("XX", 6) if stage == "CZ" else ("CZ", 3)
    return Schooling(*_school(w, p.district, before), before, f"{year - years}09", "04"), current


def _child(w: _World, p: SynthPerson, by_id: dict[str, SynthPerson]) -> None:
    """Guardians as the school has them (the PSB guardian, and the guardian's spouse if old enough), enrolments."""
    g = p.guardian
    assert g is not None
    ids: tuple[str, ...] = (g.id_number,)
    if g.spouse_id and (p.birth - by_id[g.spouse_id].birth).days >= 18 * 365:
        ids = (g.id_number, g.spouse_id) if w.rng.random() < 0.7 else (g.spouse_id, g.id_number)
    p.guardian_ids = ids
    p.work = "child"
    p.schooling = _child_schooling(w, p)


def add_lives(people: Sequence[SynthPerson], seed: int, as_of: _dt.date) -> None:
    """Fill in the stories of `people` (adults have no guardian; children do), deterministically by seed."""
    w = _World(seed, as_of)
    adults = [p for p in people if p.guardian is None]
    _pair_spouses(w, adults)
    by_id = {p.id_number: p for p in adults}
    by_district: dict[str, list[SynthPerson]] = {d: [] for d in DISTRICTS}
    for p in adults:
        by_district[p.district].append(p)
    for p in adults:
        _work(w, p)
        _home(w, p, by_id, by_district)
    for p in people:
        if p.guardian is not None:
            _child(w, p, by_id)
