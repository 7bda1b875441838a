"""The dashboard checks of generated dashboards, once per shape (check/dashboard_specs.py): the same
diagnostics, in the same order and places, as checking every dashboard in full.

The oracle checks each dashboard on its own: the rendered-JSON lint on `to_data()` through the whole
schema (no shape cache, no lint_key), and every query checked, its metric names looked up (no Series memo).
Generated dashboards of a benchmark tree are then made wrong in one instance, at every position, in
their queries and in their dashboard-level values: the fault must be reported there, and only there.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.check import dashboard_specs as specs
from promspec.check import dashboards as checks
from promspec.check import lint_keys
from promspec.compile.dashboards.compiler import CompiledDashboard, CompiledRow, Filled
from promspec.compile.dashboards.project import BuiltDashboard, Made
from promspec.diagnostics import Report
from promspec.pipeline import load_build

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "bench"))
from generate import BACKENDS, write_specs  # the benchmark's realistic services


@pytest.fixture(scope="module")
def bench_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    write_specs(str(root), len(BACKENDS) + 2)  # a service on each bundled backend, and two more: shapes repeat
    build, _ = load_build([str(root)], env={})
    return build


class _EveryName(specs.Series):
    """The oracle's Series: every query's names looked up, nothing remembered."""

    def all_known(self, names: tuple[str, ...]) -> bool:
        return all(self.known(n) for n in names)

    def queries_clean(self, exprs: list[str], defined: set[str]) -> bool:
        return False  # every query checked on its own


@contextmanager
def _in_full() -> Iterator[None]:
    """Every dashboard linted on its own plain dict through the whole schema, and no lint_key; every query
    checked on its own."""

    def full(compiled: CompiledDashboard):
        data = compiled.to_data()
        return data, checks.validate_dashboard(data)

    with (
        mock.patch.object(specs, "lint_key", lambda compiled: None),
        mock.patch.object(specs, "validate_compiled", full),
        mock.patch.object(specs, "Series", _EveryName),
    ):
        yield


def _items(report: Report) -> list[tuple[str, str, str, str, str]]:
    return [(d.severity, str(d.pos), d.message, d.path, d.expected) for d in report.items]


def _checked(build, *, full: bool, jobs: int = 1) -> list[tuple[str, str, str, str, str]]:
    report = Report()
    specs._LINT_CLEAN.clear()
    if full:
        with _in_full():
            specs.check_dashboards(build, report, jobs)
    else:
        specs.check_dashboards(build, report, jobs)
    return _items(report)


def _with_dashboards(build, dashboards: list[BuiltDashboard]):
    return replace(build, dashboards=replace(build.dashboards, dashboards=dashboards))


def _kinds(build) -> dict[str, list[int]]:
    """Positions of the generated dashboards that have a compiled form, by the uid's kind (uid less its name)."""
    out: dict[str, list[int]] = {}
    for i, b in enumerate(build.dashboards.dashboards):
        if b.dashboard.generated and b.compiled is not None and b.plan is not None:
            out.setdefault(b.dashboard.uid.rsplit("-", 1)[0], []).append(i)
    return out


def test_the_bench_tree_is_checked_as_in_full(bench_build):
    kinds = _kinds(bench_build)
    assert max(len(v) for v in kinds.values()) >= len(BACKENDS) + 2  # shapes do repeat
    assert _checked(bench_build, full=False) == []
    # the oracle (the whole schema per dashboard, slow) on two copies of each kind and every backend's own
    some = [bench_build.dashboards.dashboards[i] for v in kinds.values() for i in v[:2]]
    assert _checked(_with_dashboards(bench_build, some), full=True) == []


def _in_full_alone(build, broken: BuiltDashboard) -> list[tuple[str, str, str, str, str]]:
    """What the oracle reports of a copy of the (clean) tree made wrong in one dashboard: that dashboard's own
    findings, which it reports checked alone."""
    return _checked(_with_dashboards(build, [broken]), full=True)


def _refilled(filled: Filled, k: int, value: str) -> Filled:
    values = list(filled.values)
    values[k % len(values)] = value
    return Filled(template=filled.template, values=tuple(values))


def _broken(built: BuiltDashboard, where: int, value: str, outer: bool) -> BuiltDashboard:
    """built with one hole's value replaced: one of the dashboard level's, or one query of a panel."""
    compiled = built.compiled
    assert compiled is not None
    if outer:
        assert compiled.outer.values
        compiled = replace(compiled, outer=_refilled(compiled.outer, where, value))
    else:
        filled = [
            (i, j, p)
            for i, entry in enumerate(compiled.panels)
            for j, p in ([(None, entry)] if isinstance(entry, Filled) else [(j, p) for j, p in enumerate(entry.panels)])
            if p.values
        ]
        i, j, p = filled[where % len(filled)]
        panels = list(compiled.panels)
        if j is None:
            panels[i] = _refilled(p, where, value)
        else:
            row = panels[i]
            assert isinstance(row, CompiledRow)
            inner = list(row.panels)
            inner[j] = _refilled(p, where, value)
            panels[i] = replace(row, panels=tuple(inner))
        compiled = replace(compiled, panels=tuple(panels))
    made = Made(plan=built.plan, problems=built.problems, compiled=compiled)
    return BuiltDashboard(head=built.dashboard, path=built.path, ctx=built.ctx, given=made)


# Values for a hole: a query with a rate off $__rate_interval, one of an undefined variable, an empty and an
# unparsable one, a word the schemas enumerate, the datasource variable's query, and plain free text.
VALUES = st.sampled_from(
    [
        "sum(rate(llm_requests_total[5m]))",
        'rate(x{job="$nope"}[$__rate_interval])',
        "",
        "   ",
        "sum(",
        "table",
        "prometheus",
        "up",
        'sum by (le) (rate(promspec_slo_bad_total{service="other"}[$__rate_interval]))',
    ]
)


@settings(max_examples=examples(20), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), value=VALUES, outer=st.booleans(), where=st.integers(min_value=0, max_value=40))
def test_a_wrong_instance_is_reported_in_every_position(bench_build, data, value, outer, where):
    kinds = _kinds(bench_build)
    kind = data.draw(st.sampled_from(sorted(k for k, v in kinds.items() if len(v) > 1)))
    positions = kinds[kind]
    at = data.draw(st.sampled_from(positions))
    dashboards = [bench_build.dashboards.dashboards[i] for i in positions]  # that kind alone: fast
    broken = dashboards[positions.index(at)] = _broken(bench_build.dashboards.dashboards[at], where, value, outer)
    assert _checked(_with_dashboards(bench_build, dashboards), full=False) == _in_full_alone(bench_build, broken)


def test_a_rate_off_the_interval_is_found_in_each_instance(bench_build):
    """Each copy of a dashboard, in turn, reads a rate over [5m]: exactly that copy is reported, after its
    kind was linted clean (first position: before it was)."""
    kinds = _kinds(bench_build)
    positions = kinds[min(k for k in kinds if k.startswith("llm-service"))]
    found_at = []
    for at in positions:
        dashboards = [bench_build.dashboards.dashboards[i] for i in positions]
        broken = dashboards[positions.index(at)] = _broken(
            dashboards[positions.index(at)], 0, "sum(rate(llm_requests_total[5m]))", outer=False
        )
        items = _checked(_with_dashboards(bench_build, dashboards), full=False)
        assert items == _in_full_alone(bench_build, broken)
        assert len(items) == 1 and "[target-rate-interval]" in items[0][2], items
        found_at.append(items[0][1])
    assert len(set(found_at)) == len(positions)  # each at its own dashboard's place


def test_an_uncatalogued_metric_is_found_in_each_instance(bench_build):
    """The spec checks' metric names are remembered per tuple of names: an instance whose query reads
    another name is still looked up, at every position (a name unlike any other: did_you_mean is quick)."""
    kinds = _kinds(bench_build)
    positions = kinds[min(k for k in kinds if k.startswith("llm-service"))]
    for at in positions:
        dashboards = [bench_build.dashboards.dashboards[i] for i in positions]
        built = dashboards[positions.index(at)]
        assert built.plan is not None
        slot, targets = next((s, t) for s, t in built.plan.targets.items() if t)
        wrong = [replace(targets[0], expr="sum(rate(zqxjvk[$__rate_interval]))"), *targets[1:]]
        plan = replace(built.plan, targets={**built.plan.targets, slot: wrong})
        made = Made(plan=plan, problems=built.problems, compiled=built.compiled)
        broken = dashboards[positions.index(at)] = BuiltDashboard(
            head=built.dashboard, path=built.path, ctx=built.ctx, given=made
        )
        items = _checked(_with_dashboards(bench_build, dashboards), full=False)
        assert items == _in_full_alone(bench_build, broken)
        assert [m for _s, _p, m, _f, _e in items] == ["metric 'zqxjvk' is neither catalogued nor recorded"], items


def test_lint_key_reads_every_hole_the_compiler_makes(bench_build):
    """Every hole of the bench tree's templates is one whose reading lint_key knows: were the compiler to
    add another, its value would be taken as it is (exact, but one key per service: the sharing would go)."""
    kinds = set()
    for b in bench_build.dashboards.dashboards:
        if b.compiled is None:
            continue
        key = lint_keys.lint_key(b.compiled)
        assert key is not None
        assert key[1][0] == "shaped"  # the panels' queries read together (_shaped_panels_key), not one by one
        entries = [b.compiled.outer] + [
            p for e in b.compiled.panels for p in ([e] if isinstance(e, Filled) else e.panels)
        ]
        kinds |= {k for e in entries for k in lint_keys._HOLE_KINDS[e.template]}
    assert lint_keys._AS_IS not in kinds
    assert {lint_keys._EXPR, lint_keys._SCHEMA_ONLY, lint_keys._VARIABLE_QUERY} <= kinds


def test_services_share_their_lint(bench_build):
    keys = {}
    for b in bench_build.dashboards.dashboards:
        if b.dashboard.generated and b.compiled is not None:
            keys.setdefault(b.dashboard.uid.rsplit("-", 1)[0], set()).add(lint_keys.lint_key(b.compiled))
    service_kinds = [k for k in keys if k.startswith("llm-service")]
    assert service_kinds and all(len(keys[k]) < len(BACKENDS) + 2 for k in service_kinds)


@pytest.mark.slow
def test_in_workers_the_same_report(bench_build):
    """check_dashboards in forked workers (--jobs) reports what one process does, wrong instances included."""
    kinds = _kinds(bench_build)
    positions = kinds[min(k for k in kinds if k.startswith("llm-service"))]
    dashboards = [bench_build.dashboards.dashboards[i] for i in positions]
    for n in range(1, len(dashboards), 2):
        dashboards[n] = _broken(dashboards[n], n, "sum(rate(llm_requests_total[5m]))", outer=False)
    build = _with_dashboards(bench_build, dashboards)
    serial = _checked(build, full=True)
    assert serial and _checked(build, full=False, jobs=2) == serial == _checked(build, full=False)
