"""model/sli/base.py le_matcher, cached per bound spelling, against the plain matcher built each time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.compile.promql import matcher
from promspec.model.sli.base import _le_matcher, le_matcher, le_values


def _plain(bound: float) -> str:
    values = le_values(bound)
    return matcher("le", values[0]) if len(values) == 1 else matcher("le", "|".join(values), "=~")


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.floats() | st.integers(-(10**20), 10**20) | st.sampled_from([0.0, -0.0, 1, 1.0, True]), max_size=6))
def test_le_matcher_equals_the_plain_one_whatever_came_before(bounds):
    for bound in bounds:
        assert le_matcher(bound) == _plain(bound)


def test_bounds_equal_as_numbers_but_spelled_apart_get_their_own_matcher():
    # a cache keyed by the float would give -0.0 the matcher of 0.0 (they are ==, and hash alike)
    _le_matcher.cache_clear()
    assert le_matcher(0.0) == 'le=~"0|0.0"'
    assert le_matcher(-0.0) == 'le=~"-0|-0.0"'
    assert _le_matcher.cache_info().misses == 2
