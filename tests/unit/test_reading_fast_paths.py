"""The reader's shortcuts give what the general path gives: a line split on commas is csv.reader's record, cached
clean() and code() results are the computed ones.

The shortcuts exist for speed (an import reads millions of rows); what a row means must not depend on them.
"""
from __future__ import annotations

import csv

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import normalising, reading
from adapters.normalising import clean, code
from gateway.domain.records import ContributionKind, InsuranceType

# commas, quotes, CR, NUL, spaces (ideographic too), other controls, full-width and CJK: what a bureau line may hold
line_text = st.text(st.sampled_from(list(',"\r\x00 \u3000\t\x0b\x1cab\\\'Ｘ张\ufeff')), min_size=1, max_size=12)


def _csv_reader_record(text: str) -> list[str] | reading.BadLine:
    try:
        return next(csv.reader([text]))
    except (csv.Error, StopIteration):
        return reading.BadLine("line is not valid CSV")


@settings(max_examples=2000, deadline=None)
@given(line_text)
def test_a_one_line_record_is_what_csv_reader_reads(text: str) -> None:
    records = list(reading._csv_records(iter([(1, text)])))
    if not text.strip():
        assert records == []  # blank lines are skipped
        return
    if '"' in text:  # a quote may open a record that never closes: the general path decides, tested elsewhere
        return
    assert records == [(1, _csv_reader_record(text))]


@settings(deadline=None)
@given(st.text(max_size=12))
def test_clean_gives_the_same_value_cached_or_not(value: str) -> None:
    normalising._CLEANED.clear()
    first = clean(value)
    assert clean(value) == first  # from the cache, for non-ASCII values
    normalising._CLEANED.clear()
    assert clean(value) == first


def test_code_caches_members_not_mistakes() -> None:
    normalising._MEMBERS.clear()
    for _ in range(2):
        assert code({"K": "31"}, "K", ContributionKind) is ContributionKind.BACK_PAYMENT
        assert code({"I": " 310 "}, "I", InsuranceType) is InsuranceType.MEDICAL
        try:
            code({"K": "99"}, "K", ContributionKind)
        except normalising.RowError as exc:
            assert str(exc) == "K: unknown code '99'"
        else:
            raise AssertionError("99 is no contribution kind")


def test_the_clean_cache_keeps_neither_long_values_nor_too_many() -> None:
    """A line may be a megabyte long: such values are cleaned each time, never kept; and at most 4096 are kept."""
    normalising._CLEANED.clear()
    assert clean("张" * 101) == "张" * 101
    assert normalising._CLEANED == {}
    for i in range(5000):
        clean(f"张{i}")
    assert 0 < len(normalising._CLEANED) <= 4096
