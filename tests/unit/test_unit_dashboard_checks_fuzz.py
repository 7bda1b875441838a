"""The dashboard checks' once-per-shape paths (Series.queries_clean, lint_key's joined-text form, the lazily made
presets) against every dashboard checked in full, on hostile trees of bench/diffz2_fuzz.py: services sharing the
bundled presets (odd selector values among them) and written dashboards copied with one difference each (an
uncatalogued metric, $jbo, a query that does not parse, regex and __name__ matchers, quotes and unicode).
The same diagnostics, in the same order and places.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace

import pytest

from promspec.check import lint_keys
from promspec.compile import promql
from promspec.compile.dashboards.compiler import Filled
from promspec.diagnostics import SpecError
from promspec.pipeline import _compiled

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "bench"))
import test_unit_dashboard_checks_by_shape as by_shape
from diffz2_fuzz import write_tree

bench_build = by_shape.bench_build  # the fixture: the benchmark's services, one on each bundled backend


@pytest.mark.parametrize("seed", range(6))
def test_hostile_trees_are_checked_as_in_full(tmp_path, seed):
    write_tree(seed, tmp_path / "specs")
    try:
        build, _ = _compiled([str(tmp_path / "specs")], {}, False)
    except SpecError:
        pytest.skip("the tree's model does not load: no dashboard is checked")
    assert by_shape._checked(build, full=False) == by_shape._checked(build, full=True)


def test_the_joined_lint_key_holds_the_panels_templates(bench_build):
    """Two dashboards whose panels hold the same queries in other templates (here: two panels of one dashboard
    with as many holes, their templates swapped) lint apart: lint_key's joined-text form keeps the templates,
    as its queries' text alone is the same."""
    swapped = 0
    for b in bench_build.dashboards.dashboards:
        compiled = b.compiled
        if compiled is None:
            continue
        top = [(i, e) for i, e in enumerate(compiled.panels) if isinstance(e, Filled) and e.values]
        pair = next(
            (
                (i, p, j, q)
                for i, p in top
                for j, q in top
                if i < j and p.template != q.template and len(p.values) == len(q.values)
            ),
            None,
        )
        if pair is None:
            continue
        i, p, j, q = pair
        panels = list(compiled.panels)
        panels[i] = Filled(template=q.template, values=p.values)
        panels[j] = Filled(template=p.template, values=q.values)
        other = replace(compiled, panels=tuple(panels))
        key = lint_keys.lint_key(compiled)
        assert key is not None and key[1][0] == "shaped"  # the joined-text form is the one under test
        assert lint_keys.lint_key(other) != key
        swapped += 1
    assert swapped


@pytest.mark.parametrize(
    "expr",
    ['up{job="a\x01b"}', 'up{job="x", instance="a\x01b"}', 'up{job="a\x01b", instance="x"}', 'up{job="a\x01\x01b"}'],
)
def test_a_value_holding_the_separator_of_the_all_plain_match_is_kept(expr):
    """shape(plain_values_only) keeps a value with a character outside [A-Za-z0-9_.:-], \\x01 too (a YAML
    "\\x01" escape in a selector puts it there): its values are matched as one text joined by \\x01, which
    must not read `a\\x01b` as two plain values. The oracle: the regex form, value by value."""
    oracle = promql._LITERALS.sub(promql._plain_matcher_shape, expr)
    assert promql.shape(expr, True) == oracle
    assert promql.joined_shape([expr, 'up{job="y"}']) == oracle + promql.JOINED_BY + 'up{job="_"}'
