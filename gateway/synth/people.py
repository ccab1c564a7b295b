"""Synthetic migrant residents: identity numbers, names, homes, permits, children, and their lives.

Deterministic for a seed; dates are relative to an `as_of` day so that permits and contributions are current.
"""
from __future__ import annotations

import datetime as _dt
import random
from dataclasses import dataclass

from gateway.domain import clock
from gateway.domain.districts import DISTRICTS
from gateway.domain.idnumber import check_char
from gateway.synth.story import Contract, Insurance, Land, Licence, Rental, Schooling, Title

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉梅文斌晨浩宇欣怡子涵梓轩雨萱"
# hukou regions outside Ningbo (migrants' home places): Anhui, Henan, Jiangxi, Guizhou, Sichuan, Hubei, Hunan
HOME_REGIONS = ("340102", "341202", "411302", "411502", "362201", "360730", "522101", "520102", "510121",
                "511602", "421083", "420117", "430521", "431023")
# rough share of migrants per district (weights, not data)
DISTRICT_WEIGHTS = {"330203": 12, "330205": 8, "330206": 14, "330211": 7, "330212": 20, "330213": 5,
                    "330225": 4, "330226": 5, "330281": 11, "330282": 14}
STREETS = ("中山路", "解放路", "鄞州大道", "天童路", "明州路", "长江路", "新河路", "世纪大道", "环城南路", "江南路")


def make_id(region: str, birth: _dt.date, seq: int) -> str:
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + check_char(first17)


@dataclass
class SynthPerson:
    id_number: str
    name: str
    sex: str
    birth: _dt.date
    hukou_region: str
    district: str
    address: str
    registered_on: _dt.date
    housing_type: str
    permit_number: str = ""
    permit_issued: _dt.date | None = None
    permit_valid_until: _dt.date | None = None
    endorsed_on: _dt.date | None = None
    permit_state: str = ""
    guardian: SynthPerson | None = None
    talent: str = ""
    # the other bureaus' view (gateway/synth/lives.py); ids, not objects, so people compare without recursion
    work: str = ""  # employee, self-employed, farmer, unemployed, student, child
    spouse_id: str = ""  # a migrant in the same population
    guardian_ids: tuple[str, ...] = ()  # a child's guardians as the school records them
    contract: Contract | None = None  # ldht
    insurance: Insurance | None = None  # sbjf
    licence: Licence | None = None  # yyzz
    land: Land | None = None  # tdcb
    title: Title | None = None  # bdc: the title of the home of a ZSLX 11 / 12 adult
    rental: Rental | None = None  # czfw
    schooling: tuple[Schooling, ...] = ()  # xj


def _person(rng: random.Random, birth: _dt.date, district: str, as_of: _dt.date, used: set[str]) -> SynthPerson:
    sex = rng.choice("12")
    while True:
        seq = rng.randrange(0, 500) * 2 + (1 if sex == "1" else 0)
        pid = make_id(rng.choice(HOME_REGIONS), birth, seq)
        if pid not in used:
            used.add(pid)
            break
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    street = rng.choice(STREETS)
    room = f"{rng.randrange(1, 30)}0{rng.randrange(1, 6)}"
    kind = {"330281": "市", "330282": "市", "330225": "县", "330226": "县"}.get(district, "区")
    address = f"宁波市{DISTRICTS[district]}{kind}{street}{rng.randrange(1, 999)}号{room}室"
    registered = as_of - _dt.timedelta(days=rng.randrange(30, 3650))
    housing = rng.choices(("11", "12", "21", "31", "32", "99"), weights=(15, 5, 20, 45, 10, 5))[0]
    return SynthPerson(pid, name, sex, birth, pid[:6], district, address, registered, housing)


def _give_permit(rng: random.Random, p: SynthPerson, as_of: _dt.date, serial: int) -> None:
    issued = p.registered_on + _dt.timedelta(days=183 + rng.randrange(0, 60))
    if issued > as_of:
        return
    years = max(1, (as_of - issued).days // 365 + 1)
    roll = rng.random()
    endorsed = issued + _dt.timedelta(days=365 * (years - 1))
    valid_until = endorsed + _dt.timedelta(days=365)
    state = "1"
    lapsed = years >= 2 and roll < 0.08 or 0.14 <= roll < 0.18
    if lapsed and years >= 2:  # the last endorsement was missed: valid until the previous anniversary
        endorsed = issued + _dt.timedelta(days=365 * (years - 2))
        valid_until = endorsed + _dt.timedelta(days=365)
        state = "2" if roll >= 0.14 else "1"  # recorded expired, or lapsed though still recorded valid
    elif 0.08 <= roll < 0.12:
        state = "3"
    elif 0.12 <= roll < 0.14:
        state = "4"
    p.permit_number = f"33{p.district[2:6]}{issued:%Y}{serial:07d}"
    p.permit_issued, p.permit_valid_until, p.endorsed_on, p.permit_state = issued, valid_until, endorsed, state


def residents(n: int, seed: int = 1, as_of: _dt.date | None = None) -> list[SynthPerson]:
    """n adults with their registrations and permits, plus children (who count toward n) with guardians.

    Each also gets a life for the other bureaus' files (work, insurance, home, school) from a separate random
    stream, so the PSB fields are the same for a seed as before lives were added.
    """
    as_of = as_of or clock.today()
    rng = random.Random(seed)
    used: set[str] = set()
    out: list[SynthPerson] = []
    districts, weights = list(DISTRICT_WEIGHTS), list(DISTRICT_WEIGHTS.values())
    while len(out) < n:
        district = rng.choices(districts, weights)[0]
        birth = as_of - _dt.timedelta(days=rng.randrange(20 * 365, 58 * 365))
        adult = _person(rng, birth, district, as_of, used)
        if rng.random() < 0.03:
            adult.talent = rng.choice(("TZ", "YJ", "JN", "GX", "JX"))
        _give_permit(rng, adult, as_of, len(out))
        out.append(adult)
        if len(out) < n and rng.random() < 0.35 and (as_of - birth).days > 24 * 365:
            child_birth = as_of - _dt.timedelta(days=rng.randrange(3 * 365, 16 * 365))
            child = _person(rng, child_birth, district, as_of, used)
            child.address, child.housing_type, child.guardian = adult.address, adult.housing_type, adult
            child.hukou_region = adult.hukou_region
            out.append(child)
    from gateway.synth.lives import add_lives  # lives needs this module's names and SynthPerson

    add_lives(out, seed, as_of)
    return out
