"""The fact codec: the direct encoder writes exactly the bytes of its definition (json.dumps), and they decode back.

Stored facts are these bytes, encrypted: a different byte would be a different content MAC, so a re-import of an
unchanged file would store every fact again instead of counting duplicates. Every kind, any text.
"""
from __future__ import annotations

import datetime as dt
import enum
import json
import types
import typing
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.districts import DISTRICTS, District
from gateway.domain.idnumber import IdNumber, check_char
from gateway.domain.records import FACT_KINDS, NATURAL_KEYS, Contribution, ContributionKind, InsuranceType
from gateway.store import codec


def _id(birth: dt.date, seq: int) -> IdNumber:
    first17 = f"330203{birth:%Y%m%d}{seq:03d}"
    return IdNumber(first17 + check_char(first17))


def _strategy(hint: Any) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return st.one_of(*(st.none() if a is type(None) else _strategy(a) for a in typing.get_args(hint)))
    if origin is tuple:
        return st.lists(_strategy(typing.get_args(hint)[0]), max_size=3).map(tuple)
    if hint is IdNumber:
        return st.builds(_id, st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)), st.integers(0, 999))
    if hint is District:
        return st.sampled_from(sorted(DISTRICTS)).map(District)
    if hint is dt.date:
        return st.dates()
    if hint is bool:
        return st.booleans()
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    assert hint is str, hint
    return st.text()  # any text: quotes, backslashes, control characters, non-ASCII, astral planes


facts = st.one_of(*(st.builds(cls, **{name: _strategy(h) for name, h in codec._hints(cls).items()})
                    for cls in FACT_KINDS.values()))


@settings(max_examples=400, deadline=None)  # a loaded machine must not fail it
@given(facts)
def test_direct_encoding_is_the_json_definition_byte_for_byte(fact: Any) -> None:
    assert codec.encode(fact) == codec._reference_text(fact).encode("utf-8")
    assert codec.decode(codec.encode(fact)) == fact


@settings(max_examples=200, deadline=None)
@given(facts)
def test_key_text_is_the_natural_key_fields_as_text(fact: Any) -> None:
    """Stored key digests are taken of this text: kind, then each natural-key field's plain value, 0x1F between."""
    names = NATURAL_KEYS[type(fact)]
    expected = "\x1f".join([type(fact).__name__, *(str(codec._plain(getattr(fact, n))) for n in names)])
    assert codec.key_text(fact, names) == expected
    every = tuple(codec._names(type(fact)))  # every field, so each type of value is covered
    assert codec.key_text(fact, every) == "\x1f".join([type(fact).__name__,
                                                        *(str(codec._plain(getattr(fact, n))) for n in every)])


def test_a_contribution_encodes_as_before() -> None:
    """The bytes stored before the direct encoder, written out: the format itself is unchanged."""
    fact = Contribution(_id(dt.date(1970, 1, 1), 1), "U330203001", '宁波"某\\某', InsuranceType.MEDICAL, "2020-01",
                        "2020-02", ContributionKind.BACK_PAYMENT)
    expected = ('["Contribution",{"id_number":"' + fact.id_number.value + '","employer_code":"U330203001",'
                '"employer_name":"宁波\\"某\\\\某","insurance":"310","month_for":"2020-01","month_paid":"2020-02",'
                '"kind":"31"}]')
    assert codec.encode(fact) == expected.encode("utf-8")
    assert json.loads(codec.encode(fact))[1]["employer_name"] == '宁波"某\\某'
