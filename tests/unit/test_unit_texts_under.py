"""model/services.py _texts_under: the texts of a subtree taken from its enclosing value's texts equal those a
walk of the subtree finds (written_of walks it when not handed them), whatever the value holds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.model.project import written_of
from promspec.model.services import _texts_under

# (no labels or annotations keys: written_of reads them as mappings, which the schema made them)
_KEY = st.sampled_from(["sli", "alerting", "summary", "a", "sl", "sli2"])
_LEAF = st.one_of(st.text(max_size=3), st.integers(), st.none(), st.booleans())
_VALUE = st.recursive(
    _LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEY, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=examples(200), deadline=None)
@given(st.dictionaries(_KEY, _VALUE, max_size=5), st.sampled_from([("spec", "slos", 0), ()]))
def test_the_texts_under_a_key_are_those_a_walk_of_its_value_finds(raw, path):
    own = written_of(raw, path)
    for key in ("sli", "alerting", "a"):
        assert _texts_under(own.texts, path + (key,)) == written_of(raw.get(key), path + (key,)).texts
