"""What resolve and check_project now compute once and share (issue 15 item 6, fourth round) equals what
they computed per query or per rule before.

Oracles: Grafana's refId sequence written out independently (bijective base 26 by itertools.product); each
query resolved on its own through scope_of and signal_query; promql.analyse, which copies per call.
"""

from __future__ import annotations

import dataclasses
import itertools
import string

import pytest

from bench_trees import write_bench_services
from promspec.compile.dashboards import plan
from promspec.compile.dashboards.plan import Target, resolve, scope_of
from promspec.compile.dashboards.project import DashboardBuild
from promspec.compile.dashboards.signals import SignalError, signal_query
from promspec.compile.promql import PromQLError, analyse, shared_analysis
from promspec.model.dashboards import Dashboard
from promspec.pipeline import load_build


def test_the_ref_letter_table_is_grafanas_ref_id_sequence() -> None:
    expected = [
        "".join(letters) for size in (1, 2, 3) for letters in itertools.product(string.ascii_uppercase, repeat=size)
    ]
    table = plan._ref_letter_table()
    assert len(table) == 10000
    assert list(table[:702]) == expected[:702]  # A..Z, AA..ZZ
    assert list(table) == expected[:10000]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> DashboardBuild:
    root = write_bench_services(str(tmp_path_factory.mktemp("bench")), 3)
    build, _report = load_build([root], env={})
    return build.dashboards


def _one_by_one(ctx: plan.Context, dash: Dashboard) -> tuple[list[list[tuple[str, str]]], list[str]]:
    """Each signal query resolved on its own: (expr, legend) per panel, and the messages of those that fail."""
    exprs: list[list[tuple[str, str]]] = []
    failed: list[str] = []
    for _slot, _row, panel in dash.slots():
        mine: list[tuple[str, str]] = []
        for q in panel.queries:
            if q.expr:
                mine.append((q.expr.strip(), q.legend))
                continue
            scope = scope_of(ctx, dash, q.service)
            if isinstance(scope, str):
                failed.append(scope)
                continue
            try:
                expr, legend, _fmt = signal_query(
                    scope,
                    q.signal,
                    quantile=q.quantile,
                    quantile_written=q.quantile_text,
                    mean=q.mean,
                    ratio=q.ratio,
                    by=q.by,
                    heatmap=panel.type == "heatmap" and q.quantile is None and not q.mean,
                )
            except SignalError as exc:
                failed.append(str(exc))
                continue
            mine.append((expr, q.legend or legend))
        exprs.append(mine)
    return exprs, failed


def _resolved(ctx: plan.Context, dash: Dashboard) -> tuple[list[list[tuple[str, str]]], list[str]]:
    targets, problems = resolve(ctx, dash)
    by_slot: dict[object, list[Target]] = dict(targets)
    return (
        [[(t.expr, t.legend) for t in by_slot[slot]] for slot, _r, _p in dash.slots()],
        [p.message for p in problems],
    )


def test_resolve_with_one_scope_per_service_resolves_each_query_as_on_its_own(bench: DashboardBuild) -> None:
    ctx = bench.ctx
    services = sorted(ctx.services)
    assert len(services) >= 2
    checked = unknown = 0
    for built in bench.dashboards:
        dash = built.dashboard
        if not any(q.signal for _s, _r, p in dash.slots() for q in p.queries):
            continue
        assert _resolved(ctx, dash) == _one_by_one(ctx, dash)
        # The same dashboard with its signal queries spread over other services, an unknown one and none:
        # the scope shared by service name must be each query's own.
        names = [*services, "no-such-service", ""]
        spread = dataclasses.replace(
            dash,
            rows=[
                dataclasses.replace(
                    row,
                    panels=[
                        dataclasses.replace(
                            panel,
                            queries=[
                                dataclasses.replace(q, service=names[(i + k) % len(names)]) if q.signal else q
                                for k, q in enumerate(panel.queries)
                            ],
                        )
                        for i, panel in enumerate(row.panels)
                    ],
                )
                for row in dash.rows
            ],
        )
        got, want = _resolved(ctx, spread), _one_by_one(ctx, spread)
        assert got == want
        unknown += any("no-such-service" in m for m in got[1])
        checked += 1
    assert checked >= 3 and unknown >= 1


EXPRS = [
    'sum by (model) (rate(vllm:request_success_total{job="a", namespace="x"}[5m]))',
    'sum by (model) (rate(vllm:request_success_total{job="b", namespace="y"}[5m]))',
    'histogram_quantile(0.99, sum by (le) (rate(x_bucket{job="a"}[1m]))) > 2',
    'label_replace(up{job="c"}, "dst", "$1", "src", "(.*)")',
    '{__name__="up", job="a"}',
    '{__name__=~"up|down", job="a"}',
    'up{job=~"a|b"} or on (instance) node_load1{job!="x"}',
    'count without (pod) (kube_pod_info{job="k"})',
]


@pytest.mark.parametrize("expr", EXPRS)
def test_the_shared_analysis_is_what_analyse_answers(expr: str) -> None:
    assert shared_analysis(expr) == analyse(expr)


def test_rules_of_one_shape_share_one_analysis_and_an_error_is_the_expressions_own() -> None:
    assert shared_analysis(EXPRS[0]) is shared_analysis(EXPRS[1])
    for bad in ('up{job="a"', "sum by (model (x)", 'rate(up{job="x"}[5m]'):
        with pytest.raises(PromQLError) as shared_error:
            shared_analysis(bad)
        with pytest.raises(PromQLError) as own_error:
            analyse(bad)
        assert str(shared_error.value) == str(own_error.value)
