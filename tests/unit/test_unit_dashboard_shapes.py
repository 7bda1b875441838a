"""Generated dashboards are built and their queries read once per shape, with each instance's values filled in:
the per-shape results must equal what building and reading every instance in full gives."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.check import dashboard_specs as specs
from promspec.check import dashboards as checks
from promspec.check import panel_queries
from promspec.compile import promql
from promspec.compile.dashboards import compiler
from promspec.compile.dashboards.compiler import build_dashboard
from promspec.compile.dashboards.plan import Context, Target, plan_dashboard, ref_letters
from promspec.compile.promql import PromQLError
from promspec.diagnostics import Report
from promspec.model.dashboards import Dashboard, Link, Panel, Query, Row
from promspec.model.loader import Document
from promspec.model.project import Ref
from promspec.pipeline import load_build
from promspec.render.dashboards import dashboard_text

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from generate import BACKENDS, write_specs  # noqa: E402  (the benchmark's realistic services)


def _ref() -> Ref:
    return Ref(doc=Document("t.yml", 0, {}), path=())


# ------------------------------------------------------------------------------ panel queries by shape


def _direct(expr: str):
    """What panel_query gave before shapes: the query as written, parsed and walked."""
    try:
        return panel_queries._panel_query(expr)
    except PromQLError:
        return PromQLError


def _by_shape(expr: str):
    try:
        return panel_queries.panel_query(expr)
    except PromQLError:
        return PromQLError


VALUES = st.one_of(
    st.text(alphabet="abcxyz019_.:-", min_size=0, max_size=8),
    st.text(max_size=6),  # anything: quotes, backslashes, $, braces, newlines
    st.sampled_from(["", "$job", 'a"b', "a\\b", "a\\", "(.*)", "[", "x{y}", "#", 'a="b"', "`"]),
)
OPS = st.sampled_from(["=", "!=", "=~", "!~", " = ", "!= "])
LABELS = st.sampled_from(["job", "instance", "__name__", "model_name", "le"])
QUOTES = st.sampled_from(['"', "'", "`"])


def _quoted(value: str, quote: str) -> str:
    if quote == "`":
        return f"`{value}`"
    return quote + value.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


@st.composite
def queries(draw) -> str:
    matchers = []
    for _ in range(draw(st.integers(0, 3))):
        value = draw(VALUES)
        # escaped in some quote, or put between double quotes as it is (maybe not PromQL at all)
        text = _quoted(value, draw(QUOTES)) if draw(st.booleans()) else '"' + value + '"'
        matchers.append(f"{draw(LABELS)}{draw(OPS)}{text}")
    name = draw(st.sampled_from(["vllm:num_requests_running", "up", "", "llm_request_total"]))
    selector = f"{name}{{{', '.join(matchers)}}}" if matchers or not name else name
    wrap = draw(
        st.sampled_from(
            [
                "{s}",
                "sum(rate({s}[$__rate_interval]))",
                'increase({s}[5m]) # job="x"',
                'label_replace({s}, "dst", "$1", "job", "(.*)")',
                "{s} / on(job) {s}",
                "histogram_quantile(0.9, sum by (le) (rate({s}[1h])))",
            ]
        )
    )
    return wrap.replace("{s}", selector)


@settings(max_examples=examples(200), deadline=None)
@given(queries())
def test_a_query_reads_the_same_by_its_shape_as_written(expr):
    assert _by_shape(expr) == _direct(expr)


@pytest.mark.parametrize(
    ("expr", "shaped"),
    [
        ('up{job="svc00001"}', 'up{job="_"}'),
        ('up{job!="a.b", x=~"y"}', 'up{job!="_", x=~"y"}'),
        ('{__name__="up", job="a"}', '{__name__="up", job="_"}'),  # the metric name is kept
        ('up{job="$job"}', 'up{job="$job"}'),  # variables, escapes and regexes are kept
        ('up{job="a\\"b"}', 'up{job="a\\"b"}'),
        ('up{job=""}', 'up{job=""}'),  # empty stays empty: {job=""} alone selects nothing
        ('label_replace(up, "job", "x", "a", "b")', 'label_replace(up, "job", "x", "a", "b")'),
        ('up # job="a"', 'up # job="a"'),
        ('`job="a"` + up{job="b"}', '`job="a"` + up{job="_"}'),
    ],
)
def test_query_shape(expr, shaped):
    assert panel_queries.query_shape(expr) == shaped


def test_services_queries_share_one_parse():
    panel_queries.panel_query.cache_clear()
    panel_queries._shape_query.cache_clear()
    for i in range(50):
        panel_queries.panel_query(
            f'sum(rate(vllm:request_success_total{{job="svc{i:05d}", model_name=~"$model"}}[5m]))'
        )
    assert panel_queries._shape_query.cache_info().misses == 1


# ------------------------------------------------------------------------------ panels built by shape


def _uncached(monkeypatch):
    monkeypatch.setattr(compiler, "_PANEL_JSON_MAX", 0)  # every panel through the SDK


@pytest.fixture(scope="module")
def bench_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    write_specs(str(root), len(BACKENDS) + 1)  # a service on each bundled backend, and one more: shapes repeat
    build, _ = load_build([str(root)], env={})
    return build


def test_per_shape_panels_equal_the_sdk_built_ones(bench_build, monkeypatch):
    built = [b for b in bench_build.dashboards.dashboards if b.plan is not None and b.data is not None]
    assert len(built) > 4 * (len(BACKENDS) + 1)
    shaped = [dashboard_text(build_dashboard(b.plan)) for b in built]
    _uncached(monkeypatch)
    compiler._PANEL_JSON.clear()
    full = [dashboard_text(build_dashboard(b.plan)) for b in built]
    assert shaped == full
    assert [dashboard_text(b.data) for b in built] == full


def test_dashboards_share_no_object(bench_build):
    services = [b for b in bench_build.dashboards.dashboards if b.dashboard.uid.startswith("llm-service-")]
    a, b = (build_dashboard(s.plan) for s in services[:2] if s.plan is not None)
    before = dashboard_text(b)
    for panel in a["panels"]:
        panel.setdefault("fieldConfig", {}).setdefault("defaults", {})["unit"] = "changed"
        for target in panel.get("targets") or []:
            target["legendFormat"] = "changed"
    assert dashboard_text(b) == before
    assert dashboard_text(build_dashboard(services[1].plan)) == before  # nor the cache


TEXTS = st.text(max_size=12)
NUMBERS = st.one_of(st.none(), st.floats(allow_nan=False, width=64), st.integers(-(10**6), 10**6))


@settings(max_examples=examples(60), deadline=None)
@given(
    exprs=st.lists(TEXTS, min_size=1, max_size=3),
    legend=TEXTS,
    title=TEXTS,
    threshold=NUMBERS,
    kind=st.sampled_from(["timeseries", "stat", "gauge", "bargauge", "table", "heatmap"]),
)
def test_a_panel_of_a_known_shape_keeps_its_own_values(exprs, legend, title, threshold, kind):
    def dashboard(queries: list[str]) -> str:
        panel = Panel(
            title=title or "t", ref=_ref(), type=kind, unit="s", thresholds=[(None, "green"), (threshold, "red")]
        )
        dash = Dashboard(name="d", ref=_ref(), uid="d", title="d", rows=[Row(title="", ref=_ref(), panels=[panel])])
        plan = plan_dashboard(Context(), dash)
        targets = {
            slot: [Target(expr=q, ref_id=ref_letters(k), legend=legend) for k, q in enumerate(queries)]
            for slot in plan.ids
        }
        return dashboard_text(build_dashboard(replace(plan, targets=targets)))

    other = [e + "x" for e in exprs]
    dashboard(other)  # the shape is built through the SDK with other expressions first
    shaped = dashboard(exprs)
    saved, compiler._PANEL_JSON_MAX = compiler._PANEL_JSON_MAX, 0
    try:
        assert shaped == dashboard(exprs)
    finally:
        compiler._PANEL_JSON_MAX = saved


# ------------------------------------------------------------------------------ schema by parts


def _set(path, value):
    """A change at path; "T" in it stands for the index of the dashboard's first graph with queries."""

    def mutate(data, graph: int):
        node = data
        for key in path[:-1]:
            node = node[graph if key == "T" else key]
        node[path[-1]] = value

    return mutate


MUTATIONS = [
    _set(("graphTooltip",), "crosshair"),  # the dashboard part
    _set(("panels", 0, "gridPos", "w"), 99),  # over the schema's maximum
    _set(("panels", "T", "targets", 0, "refId"), 7),  # a query's field
    _set(("panels", "T", "options", "legend", "displayMode"), "sideways"),  # the panel type's options
    _set(("panels", "T", "fieldConfig", "defaults", "custom", "lineWidth"), "thick"),  # its field config
    _set(("panels", "T", "type"), ""),
    _set(("templating", "list", 0, "hide"), 9),
]


@pytest.mark.parametrize("mutation", range(len(MUTATIONS)))
def test_schema_by_parts_reports_what_the_whole_schema_does(bench_build, mutation):
    import copy

    services = [b for b in bench_build.dashboards.dashboards if b.dashboard.uid.startswith("llm-service-")]
    clean = services[0].data
    assert clean is not None
    graph = next(i for i, p in enumerate(clean["panels"]) if p["type"] == "timeseries" and p.get("targets"))
    assert checks.validate_dashboard(clean, by_shape=True) == []  # every part now known clean
    broken = copy.deepcopy(clean)
    MUTATIONS[mutation](broken, graph)
    whole = checks.validate_dashboard(broken)
    assert any(rule == "schema" for _p, rule, _m, _s in whole)
    assert checks.validate_dashboard(broken, by_shape=True) == whole
    # a row's panels belong to the row's part
    rowed = copy.deepcopy(clean)
    rowed["panels"] = [{**rowed["panels"][0], "type": "row", "collapsed": True, "panels": [broken["panels"][graph]]}]
    rowed["panels"][0].pop("targets", None)
    assert checks.validate_dashboard(rowed, by_shape=True) == checks.validate_dashboard(rowed)


# ------------------------------------------------------------------------------ panel text and fingerprint per template


def _json_module_text(data) -> str:
    """The oracle: Python's json module with the separators and indent dashboard files are written with."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# Any text, with the characters JSON escapes or a writer could get wrong weighted in.
AWKWARD = st.text(
    alphabet=st.one_of(
        st.sampled_from(['"', "\\", "\x00", "\x1f", "\x7f", "\n", "\t", "\u2028", "\u2029", "é", "\U0001f600", "/"]),
        st.characters(exclude_categories=("Cs",)),
    ),
    max_size=10,
)
# Expressions that fingerprint differently from free text: empty, and words the schemas enumerate.
EXPRS = st.one_of(AWKWARD, st.sampled_from(["", "A", "table", "time_series", "heatmap", "up"]))


def _compiled(rows: list[tuple[str, bool]], exprs: list[str], title: str, legend: str, words: tuple[str, ...] = ()):
    """A dashboard of one stat and one graph per row (title, collapsed), each graph reading exprs; words:
    its description, two tags, and a link's title and URL (the dashboard level's values)."""
    layout = [
        Row(
            title=row_title,
            ref=_ref(),
            collapsed=collapsed,
            panels=[
                Panel(title=title or "t", ref=_ref(), type="timeseries", unit="s"),
                Panel(title="single", ref=_ref(), type="stat", unit="s"),
            ],
        )
        for row_title, collapsed in rows
    ]
    description, tag1, tag2, link_title, url = words or ("", "a", "b", "", "https://example.invalid")
    dash = Dashboard(
        name="d",
        ref=_ref(),
        uid=f"d{title}",
        title=title,
        description=description,
        tags=(tag1, tag2),
        links=[Link(title=link_title, url=url)],
        rows=layout,
    )
    plan = plan_dashboard(Context(), dash)
    targets = {
        slot: [Target(expr=e, ref_id=ref_letters(k), legend=legend) for k, e in enumerate(exprs)]
        if slot.panel == 0
        else []
        for slot in plan.ids
        if slot.panel is not None
    }
    return compiler.build_compiled(replace(plan, targets=targets))


ROWS = st.lists(
    st.tuples(st.sampled_from(["", "r1", "r2"]), st.booleans()), min_size=1, max_size=3, unique_by=lambda r: r[0]
)


@settings(max_examples=examples(80), deadline=None)
@given(
    rows=ROWS,
    first=st.lists(EXPRS, min_size=1, max_size=3),
    other=st.lists(EXPRS, min_size=1, max_size=3),
    title=AWKWARD,
    legend=AWKWARD,
    words=st.tuples(AWKWARD, AWKWARD, AWKWARD, AWKWARD, AWKWARD),
    first_words=st.tuples(AWKWARD, AWKWARD, AWKWARD, AWKWARD, AWKWARD),
)
def test_spliced_text_equals_the_json_module_on_the_plain_dict(rows, first, other, title, legend, words, first_words):
    from promspec.render.dashboards import compiled_text

    other = (other * 3)[: len(first)]  # as many queries: the same panel template, other expressions
    # builds the templates with the first expressions and dashboard-level values
    _compiled(rows, first, title + "x", legend, first_words)
    compiled = _compiled(rows, other, title, legend, words)
    assert compiled_text(compiled) == _json_module_text(compiled.to_data())
    # and the plain dict is what building every panel through the SDK gives
    saved, compiler._PANEL_JSON_MAX = compiler._PANEL_JSON_MAX, 0
    try:
        full = _compiled(rows, other, title, legend, words).to_data()
    finally:
        compiler._PANEL_JSON_MAX = saved
    assert _json_module_text(full) == compiled_text(compiled)


@settings(max_examples=examples(60), deadline=None)
@given(rows=ROWS, first=st.lists(EXPRS, min_size=1, max_size=2), other=st.lists(EXPRS, min_size=1, max_size=2))
def test_a_template_fingerprint_is_each_instance_fingerprint(rows, first, other):
    other = (other * 2)[: len(first)]
    _compiled(rows, first, "d", "")
    compiled = _compiled(rows, other, "d", "")
    data = compiled.to_data()
    assert compiled.view() == data
    for entry, node in zip(compiled.panels, data["panels"], strict=True):
        if isinstance(entry, compiler.Filled):
            assert checks._filled_shape(entry, entry.view()) == checks.shape(node)
    _view, found = checks.validate_compiled(compiled)
    assert found == checks.validate_dashboard(data)


def test_bench_dashboards_written_by_template_equal_the_json_module(bench_build):
    from promspec.render.dashboards import built_text

    built = [b for b in bench_build.dashboards.dashboards if b.compiled is not None]
    assert len(built) > 4 * (len(BACKENDS) + 1)
    for b in built:
        text = built_text(b)
        assert text == _json_module_text(b.compiled.to_data()) == dashboard_text(b.data), b.path
        assert json.loads(text) == b.data
    data, found = checks.validate_compiled(built[0].compiled)
    assert data == built[0].data and found == checks.validate_dashboard(built[0].data, by_shape=False)


def test_a_template_is_never_changed_by_its_instances(bench_build):
    services = [b for b in bench_build.dashboards.dashboards if b.dashboard.uid.startswith("llm-service-")]
    a, b = services[0].compiled, services[1].compiled
    assert a is not None and b is not None
    templates = {id(p.template): p.template for p in a.panels if isinstance(p, compiler.Filled)}
    assert any(isinstance(p, compiler.Filled) and id(p.template) in templates for p in b.panels)
    before = {k: _json_module_text(t.data) for k, t in templates.items()}
    assert b.view() == b.to_data()  # a view puts its values in copies, never in the template
    assert {k: _json_module_text(t.data) for k, t in templates.items()} == before
    mutated = a.to_data()  # a new dict (not the build's cached one: other tests read it)
    for panel in mutated["panels"]:
        for target in panel.get("targets") or []:
            target["expr"] = "changed"
    assert {k: _json_module_text(t.data) for k, t in templates.items()} == before


def test_a_dashboard_level_the_sdk_does_not_just_copy_values_into_is_built_in_full(monkeypatch):
    """The probe: were the SDK to write a value anywhere but its hole, the template would carry the first
    dashboard's value into the others; such a key is never used as a template."""
    from promspec.render.dashboards import compiled_text

    real = compiler._sdk_outer

    def echoing(dash, values):
        data = real(dash, values)
        data["weekStart"] = values.title  # the title, also where no hole is
        return data

    monkeypatch.setattr(compiler, "_sdk_outer", echoing)
    compiler._OUTER_JSON.clear()
    _compiled([("", False)], ["up"], "first", "")
    compiled = _compiled([("", False)], ["up"], "second", "")
    assert compiled.to_data()["weekStart"] == "second"
    assert compiled_text(compiled) == _json_module_text(compiled.to_data())
    assert list(compiler._OUTER_JSON.values()) == [None]
    compiler._OUTER_JSON.clear()


# ------------------------------------------------------------------------------ a dashboard's queries, shaped together


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(queries(), min_size=0, max_size=5))
def test_queries_shaped_together_are_shaped_each_alone(exprs):
    """joined_shape: the shape of each query as shape() makes it alone, or None exactly when some query is not
    one of plain "..." strings (or holds the join itself, or has no partner for a quote)."""
    joined = promql.joined_shape(exprs)
    alone = [promql._plain_pieces(e) is not None and promql.JOINED_BY not in e for e in exprs]
    assert (joined is not None) == (bool(exprs) and all(alone))
    if joined is not None:
        assert joined.split(promql.JOINED_BY) == [promql.shape(e, True) for e in exprs]


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(queries(), min_size=1, max_size=4))
def test_queries_shaped_together_read_as_written(exprs):
    """When shaped_queries gives a text, its readings are each query's own (parsed and walked as written)."""
    panel_queries._LAST.clear()
    text = panel_queries.shaped_queries(exprs)
    if text is not None:
        assert panel_queries.shape_readings(text) == [_direct(e) for e in exprs]


class _Series(specs.Series):
    """Series over a fixed catalogue, without a project."""

    def known(self, name: str) -> bool:
        return name in CATALOGUE


CATALOGUE = {"up", "vllm:num_requests_running"}


def _series() -> specs.Series:
    return _Series(universe=SimpleNamespace(labels=dict.fromkeys(CATALOGUE)), recorded=set())


def _found(exprs: list[str], defined: set[str], series: specs.Series) -> list[str]:
    """The oracle: what _check_expr reports of each query, checked on its own."""
    report = Report()
    for expr in exprs:
        specs._check_expr(Query(ref=_ref(), expr=expr), expr, defined, series, report, written=False)
    return [d.message for d in report.items]


DEFINED = st.sets(st.sampled_from(["job", "instance", "model", "jbo"]))


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.lists(queries(), min_size=1, max_size=3), min_size=1, max_size=4), DEFINED)
def test_queries_clean_only_when_nothing_is_found(dashboards, defined):
    """Series.queries_clean, on dashboards checked in turn by one Series (its verdicts remembered): True only
    when the full check of each query finds nothing, and True whenever the queries are shaped together and
    clean (the fast path is taken whenever it may be)."""
    series = _series()
    panel_queries._LAST.clear()
    for exprs in dashboards:
        found = _found(exprs, defined, _series())
        clean = series.queries_clean(exprs, defined)
        assert not (clean and found)
        if panel_queries.shaped_queries(exprs) is not None:
            assert clean == (not found)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        ('sum(rate(upp{job="svc2", instance=~"$instance"}[5m]))', "metric 'upp' is neither catalogued nor recorded"),
        ('sum(rate(up{job="svc2", instance=~"$jbo"}[5m]))', "$jbo is not a variable of this dashboard"),
        ('sum(rate(up{job="$jbo", instance=~"$instance"}[5m]))', "$jbo is not a variable of this dashboard"),
        ('sum(rate({__name__="upp", job="svc2"}[5m]))', "metric 'upp' is neither catalogued nor recorded"),
    ],
)
def test_a_query_unlike_a_clean_one_is_checked(wrong, message):
    """After a dashboard's queries were found clean, another service's copy that differs in a metric name or a
    variable (in a regex or as a label's value) is not: what the key leaves out must never hide a finding."""
    series = _series()
    defined = {"job", "instance"}
    clean = ['sum(rate(up{job="svc1", instance=~"$instance"}[5m]))', 'up{job="svc1"}']
    assert series.queries_clean(clean, defined) and _found(clean, defined, series) == []
    other = [wrong, 'up{job="svc2"}']
    assert not series.queries_clean(other, defined)
    assert any(m.startswith(message) for m in _found(other, defined, series))
    # and the variables are part of the verdict: the clean queries under fewer variables are not clean
    assert not series.queries_clean(clean, {"job"})


def test_services_copies_share_one_verdict():
    series = _series()
    for i in range(20):
        exprs = [f'sum(rate(up{{job="svc{i}", instance=~"$instance"}}[5m]))', f'up{{job="svc{i}"}}']
        assert series.queries_clean(exprs, {"job", "instance"})
    assert len(series.clean_read) == 1
