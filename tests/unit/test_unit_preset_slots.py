"""The computed parts of a template instance asked of the presets' pruning once per instance, answered once
per shape of its scope (presets._Pruning.computed, cached by _scope_shape()).

Oracle: each part made directly for the scope (its own code, no shape), its panels and queries asked of the
pruning one by one as _pruned() asks them. The fast path may say None (the instance is then made at once),
never another count; a cache key that forgot a part of the scope would hand one scope's count to another.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_unit_lazy_presets import _loaded, bench_specs  # noqa: F401 (bench_specs: a fixture, used by name)

from hypothesis_budget import examples
from promspec.compile.dashboards import presets
from promspec.compile.dashboards.signals import Scope
from promspec.compile.dashboards.templated import computed_maker
from promspec.model.dashboards import Row

# Every computed part of the LLM serving template, and a few subsets of them in other orders.
NAMES = ("replicas", "request_shape", "engine", "errors_by", "finish_reason")
SLOTS = st.sampled_from([NAMES, NAMES[::-1], ("engine",), ("errors_by", "replicas"), ()])
VALUES = st.sampled_from(["a", "b", 'q"\\', "x\ny"])
SELECTORS = st.dictionaries(st.sampled_from(["job", "model_name", "namespace"]), VALUES, max_size=2)
VARIABLES = st.sampled_from([presets.LLM_VARIABLES, ("job",), ()])


@pytest.fixture(scope="module")
def build(bench_specs: str) -> Any:  # noqa: F811 (the fixture imported above)
    got, _report = _loaded(bench_specs)
    return got


def _oracle(pruning: presets._Pruning, names: tuple[str, ...], subject: Any) -> int | None:
    """The queries of the parts made for subject, when the pruning keeps each panel as it is; else None."""
    queries = 0
    for name in names:
        for part in computed_maker(name)(subject):
            for panel in part.panels if isinstance(part, Row) else [part]:
                if not pruning.keeps_panel(panel):
                    return None
                queries += len(panel.queries)
    return queries


def _scopes(build: Any) -> st.SearchStrategy[Scope]:
    backends = sorted(build.project.backends.values(), key=lambda b: b.name)
    return st.builds(
        Scope,
        backend=st.sampled_from(backends),
        selector=SELECTORS,
        rename=st.booleans(),
        variables=VARIABLES,
    )


@settings(max_examples=examples(40), deadline=None)
@given(data=st.data())
def test_the_parts_asked_of_one_pruning_are_those_made_for_each_scope(build: Any, data: st.DataObject) -> None:
    pruning = presets._Pruning(build.project, build.rule_groups)
    # several scopes in one cache state: each one's answer must not depend on the shapes asked before it
    for scope in data.draw(st.lists(_scopes(build), min_size=1, max_size=6)):
        names = data.draw(SLOTS)
        subject = presets.llm_subject(scope.backend.ref, scope, {})
        got = pruning.computed(names, subject)
        assert got is None or got == _oracle(pruning, names, subject), (names, scope)


def test_every_part_of_the_scope_the_parts_read_is_in_the_cache_key(build: Any) -> None:
    """The key is (the parts asked, _scope_shape()); _scope_shape() is also the key of the parts' shapes
    (presets._SHAPES), which test_unit_preset_shapes checks over hostile selectors and renamings."""
    backends = sorted(build.project.backends.values(), key=lambda b: b.name)
    base = Scope(backend=backends[0], selector={"job": "a"}, variables=presets.LLM_VARIABLES)
    first = _count(build, NAMES, base)
    assert first is not None
    # Each part of the key changed alone, to one that changes the count of queries (asserted below, else this
    # table would prove nothing about the key).
    other = next(b for b in backends if _count(build, NAMES, Scope(backend=b, selector={"job": "a"})) != first)
    changes = {
        "backend": (NAMES, Scope(backend=other, selector=base.selector, variables=base.variables)),
        "the parts asked": (("engine",), base),
    }
    for what, (names, scope) in changes.items():
        pruning = presets._Pruning(build.project, build.rule_groups)
        assert pruning.computed(NAMES, presets.llm_subject(base.backend.ref, base, {})) == first
        want = _count(build, names, scope)
        assert pruning.computed(names, presets.llm_subject(scope.backend.ref, scope, {})) == want != first, what


def _count(build: Any, names: tuple[str, ...], scope: Scope) -> int | None:
    pruning = presets._Pruning(build.project, build.rule_groups)
    return _oracle(pruning, names, presets.llm_subject(scope.backend.ref, scope, {}))
