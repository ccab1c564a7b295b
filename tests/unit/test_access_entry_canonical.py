"""AccessEntry.canonical_bytes is what every log leaf hashes: fixed vectors (entries already logged must hash the
same for ever), and any entry against the plain definition — sorted-key compact UTF-8 JSON of every field but seq,
with `subjects` only when there are others."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from gateway.audit.entry import AccessEntry

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "access_entry_canonical.json").read_text("utf-8"))


def by_definition(entry: AccessEntry) -> bytes:
    d: dict[str, object] = {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry)
                            if f.name not in ("seq", "subjects")}
    if entry.subjects:
        d["subjects"] = list(entry.subjects)
    return json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def test_vectors_hash_as_they_always_did() -> None:
    assert len(VECTORS["cases"]) >= 4
    for case in VECTORS["cases"]:
        fields = dict(case["entry"])
        fields["subjects"] = tuple(fields.get("subjects", ()))
        entry = AccessEntry(**fields)
        assert entry.canonical_bytes() == case["canonical"].encode("utf-8"), case["what"]


def test_seq_is_not_hashed() -> None:
    case = VECTORS["cases"][0]
    entry = AccessEntry(**case["entry"])
    assert dataclasses.replace(entry, seq=41).canonical_bytes() == entry.canonical_bytes()


text = st.text(max_size=12)


@given(st.lists(text, min_size=14, max_size=14), st.lists(st.text(alphabet="0123456789abcdef", min_size=1,
                                                                   max_size=8), max_size=4))
def test_any_entry_matches_the_definition(values: list[str], others: list[str]) -> None:
    entry = AccessEntry(*values, subjects=tuple(others))
    assert entry.canonical_bytes() == by_definition(entry)


def test_the_others_are_always_a_sorted_tuple_without_the_subject() -> None:
    base = dict(time="2026-06-15T04:00:00.000000Z", principal="p", serial="0a", role="school", org="o",
                district="330203", method="m", purpose="", case_id="", operator_id="", subject="aa",
                decision="allow", reason="R", policy_version="v")
    assert AccessEntry(**base).subjects == ()  # type: ignore[arg-type]
    assert AccessEntry(**base, subjects=[]).subjects == ()  # type: ignore[arg-type]
    assert type(AccessEntry(**base, subjects=[]).subjects) is tuple  # type: ignore[arg-type]
    assert AccessEntry(**base, subjects=("cc", "aa", "bb", "", "cc")).subjects == ("bb", "cc")  # type: ignore[arg-type]


def test_escapes_and_a_field_that_is_not_text_match_the_definition_too() -> None:
    """Quotes, backslashes, control characters and non-ASCII text are escaped as json.dumps escapes them; a value
    that is not text (never written by the gateway) takes the general encoder, with the same result."""
    values = ['"q"', "back\\slash", "line\nbreak\x01", "宁波 ñ", "", "\u2028", "tab\t", "é", "x" * 40, "/", "<>&",
              "\x7f", "\ud7ff", "end"]
    entry = AccessEntry(*values, subjects=("b\"b", "a\\a"))  # type: ignore[arg-type]
    assert entry.canonical_bytes() == by_definition(entry)
    odd = dataclasses.replace(entry, decision=7)  # type: ignore[arg-type]
    assert odd.canonical_bytes() == by_definition(odd) and b'"decision":7' in odd.canonical_bytes()
