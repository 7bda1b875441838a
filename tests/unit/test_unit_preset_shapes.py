"""The generated dashboards' pruning reads metric names once per template shape, not per instance.

Oracles: `_panel_query` (the uncached parse and walk of a filled query's own text), hand-written
expectations, and `_prune` without the names read from the templates (every query parsed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench_trees import write_bench_services
from hypothesis_budget import examples
from promspec.check.panel_queries import _panel_query
from promspec.compile.dashboards import presets, templated
from promspec.compile.dashboards.presets import _prune, preset_dashboards
from promspec.compile.dashboards.signals import Scope
from promspec.compile.dashboards.slo_dashboards import slo_subject
from promspec.compile.dashboards.templated import MetricsRead, Preset, Subject, instantiate, prepared, template
from promspec.compile.promql import PromQLError
from promspec.model.dashboards import Dashboard, Panel, Query, Row
from promspec.model.loader import Document
from promspec.model.project import Project, Ref, RuleGroup
from promspec.model.services import SLO, TIERS, Tier
from promspec.model.sli import SLI
from promspec.pipeline import load_build

TEMPLATES = ("slo-detail", "slo-overview", presets.LLM_SERVING)


def _expr_texts() -> Iterator[Any]:
    """Every PromQL text of the bundled templates, compiled."""
    for name in TEMPLATES:
        for row in template(name).rows:
            for panel in getattr(row, "panels", ()):
                for query in getattr(panel, "queries", ()):
                    yield query.expr


def _oracle(expr: str) -> tuple[str, ...] | None:
    """The metric names of expr from its own parse, None when it does not parse."""
    try:
        return _panel_query(expr).metrics
    except PromQLError:
        return None


# Names a user may give: quotes, backslashes, newlines, unicode, Grafana's variable syntax, empty.
HOSTILE = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
    st.sampled_from(['"', "\\", "\n", 'a"}) or up{x="', "$job", '${a:"}', "[[job]]", "[$__rate_interval]", ""]),
)
TAILS = st.from_regex(r"[a-z0-9_:]{1,6}", fullmatch=True)


@settings(max_examples=examples(150), deadline=None)
@given(values=st.fixed_dictionaries({k: HOSTILE for k in ("slo.id", "tier.name", "serving.uid")}), window=TAILS)
def test_the_names_a_template_shape_gives_are_those_the_filled_text_reads(values: dict[str, str], window: str) -> None:
    fields = prepared({**values, "window": window})
    for text in _expr_texts():
        try:
            filled = text.fill(fields)
        except templated.TemplateError:
            continue
        names = text.metrics_read(fields)
        if names is not None:
            assert names == _oracle(filled), filled


def test_plain_values_take_the_shape_path_for_every_slo_detail_query() -> None:
    fields = prepared({"slo.id": "svc-a-availability", "tier.name": "page-fast", "window": "5m"})
    texts = [q.expr for r in template("slo-detail").rows for p in getattr(r, "panels", ()) for q in p.queries]
    assert texts and all(t.metrics_read(fields) == _oracle(t.fill(fields)) for t in texts)
    assert all(t.metrics_read(fields) is not None for t in texts)


def test_where_a_placeholder_sits_decides_whether_the_shape_tells_the_names() -> None:
    fields = prepared({"slo.id": "a", "window": "5m"})

    def read(text: str) -> tuple[str, ...] | None:
        return templated._text(text, expr=True).metrics_read(fields)

    assert read('slo:x{slo_id="${slo.id}"}') == ("slo:x",)
    assert read('sum(a{slo_id != "${slo.id}"}) / b') == ("a", "b")
    assert read("slo:ratio_rate${window}") == ("slo:ratio_rate5m",)
    # the value names the metric, is a regex, or is a function's argument: the filled text is parsed
    assert read('{__name__="${slo.id}"}') is None
    assert read('a{slo_id=~"${slo.id}"}') is None
    assert read('label_replace(a, "d", "${slo.id}", "s", "(.*)")') is None
    assert read("up") is None  # no placeholder: one text for every instance, parsed (and cached) as it is
    # an empty value may leave a selector that matches everything, which Prometheus refuses
    assert templated._text('{slo_id="${slo.id}"}', expr=True).metrics_read(prepared({"slo.id": ""})) is None


def _slo(service: str, name: str, tier_name: str) -> SLO:
    long, short, share, severity = TIERS["page-fast"]
    return SLO(
        service=service,
        name=name,
        ref=Ref(doc=Document(file="svc.yml", index=0, data={}), path=("spec", "slos", 0)),
        objective_text="0.99",
        objective=Decimal("0.99"),
        window="30d",
        sli=SLI(kind="ratio", errors="sum(rate(e[5m]))", total="sum(rate(t[5m]))"),
        tiers=(Tier(name=tier_name, long=long, short=short, share=share, severity=severity),),
    )


NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)


@settings(max_examples=examples(60), deadline=None)
@given(service=NAMES, name=NAMES, tier=NAMES)
def test_an_instance_notes_what_its_queries_read(service: str, name: str, tier: str) -> None:
    read: MetricsRead = {}
    records = ["slo:sli_error:ratio_rate5m", "slo:sli_error:ratio_rate1h"]
    dash = instantiate(template("slo-detail"), slo_subject(_slo(service, name, tier), "t", records, "x"), read)
    exprs = [q.expr for _r, p in dash.panels() for q in p.queries]
    assert set(read) == set(exprs)  # every query of it: the names are non-empty and its matchers plain
    for expr in exprs:
        assert read[expr] == _oracle(expr)


# ------------------------------------------------------------------------------------ the pruning


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Dashboard], Project, list[RuleGroup], MetricsRead]:
    """A bench project's generated dashboards before pruning, and the names their templates gave."""
    root = write_bench_services(str(tmp_path_factory.mktemp("bench")), 3)
    build, _report = load_build([root], env={})
    seen: list[tuple[list[Dashboard], MetricsRead]] = []
    real, lazily = presets._pruned, presets.instantiate_lazily

    def spy(dashes: list[Preset], pruning: presets._Pruning) -> presets.Presets:
        seen.append(([p.model() for p in dashes], dict(pruning.known)))
        return real(dashes, pruning)

    presets._pruned = spy  # type: ignore[assignment]
    presets.instantiate_lazily = lambda *_args: None  # every preset made at once, noting what it reads
    try:
        preset_dashboards(build.project, build.rule_groups)
    finally:
        presets._pruned, presets.instantiate_lazily = real, lazily  # type: ignore[assignment]
    ((dashes, read),) = seen
    assert read
    return dashes, build.project, build.rule_groups, read


def test_pruning_with_the_names_read_is_pruning_by_parse(made: Any) -> None:
    dashes, project, groups, read = made
    assert _prune(dashes, project, groups, read) == _prune(dashes, project, groups)


def test_pruning_without_the_recorded_series_drops_the_same_panels_either_way(made: Any) -> None:
    dashes, project, _groups, read = made
    by_parse = _prune(dashes, project, [])
    assert by_parse.left_out or any(d.dropped for d in by_parse.dashboards)  # the SLO series are gone
    assert _prune(dashes, project, [], read) == by_parse


def test_a_dashboard_that_loses_nothing_is_kept_as_it_is_and_an_empty_chart_still_goes(made: Any) -> None:
    dashes, project, groups, read = made
    kept = _prune(dashes, project, groups, read)
    assert all(any(d is k for d in dashes) for k in kept.dashboards)
    dash = kept.dashboards[0]
    ref = dash.ref
    row = Row(
        title="Extra",
        ref=ref,
        panels=[Panel(title="No query", ref=ref), Panel(title="Up", ref=ref, queries=[Query(ref=ref, expr="up")])],
    )
    pruned = _prune([replace(dash, rows=[*dash.rows, row])], project, groups, read).dashboards[0]
    assert [p.title for p in pruned.rows[-1].panels] == ["Up"]
    assert pruned.rows[:-1] == dash.rows


# ------------------------------------------------------------------------------------ computed parts per shape

MAKERS = (
    presets.replicas_rows,
    presets.request_shape_rows,
    presets.engine_rows,
    presets.errors_by_panels,
    presets.finish_reason_panels,
)
SELECTORS = st.dictionaries(st.sampled_from(["job", "model_name", "namespace", "__name__", "le"]), HOSTILE, max_size=3)


@settings(max_examples=examples(40), deadline=None)
@given(selector=SELECTORS, rename=st.booleans(), data=st.data())
def test_a_computed_part_made_per_shape_is_the_part_made_for_the_scope(
    made: Any, selector: dict[str, str], rename: bool, data: st.DataObject
) -> None:
    """Oracle: the computed part made directly for the scope (its own code, no shape), and each query's own parse."""
    _dashes, project, _groups, _read = made
    backend = data.draw(st.sampled_from(sorted(project.backends.values(), key=lambda b: b.name)))
    scope = Scope(backend=backend, selector=selector, rename=rename, variables=presets.LLM_VARIABLES)
    subject = presets.llm_subject(backend.ref, scope, {})
    for make in MAKERS:
        read: MetricsRead = {}
        assert presets.per_shape(make, subject, read) == make(subject)
        assert presets.per_shape(make, subject, read) == make(subject)  # the second: from the shape kept
        for expr, names in read.items():
            assert names == _oracle(expr), expr


def test_a_selector_value_outside_a_matcher_makes_each_copy_as_it_is(made: Any) -> None:
    _dashes, project, _groups, _read = made
    backend = sorted(project.backends.values(), key=lambda b: b.name)[0]

    def titled(subject: Subject) -> list[Panel]:  # a part that writes a value where no quote() escapes it
        assert subject.scope is not None
        return [Panel(title=f"for {dict(subject.scope.selector)}", ref=subject.ref)]

    for value in ("a", "b"):
        scope = Scope(backend=backend, selector={"job": value}, variables=presets.LLM_VARIABLES)
        subject = presets.llm_subject(backend.ref, scope, {})
        assert presets.per_shape(titled, subject, None) == [Panel(title=f"for {{'job': {value!r}}}", ref=backend.ref)]


def test_an_element_that_replaces_a_subject_value_is_quoted_as_its_own() -> None:
    values = prepared({"slo.id": "a"})
    subject = Subject(ref=_slo("s", "n", "t").ref, values=values, lists={"slo": [prepared({"slo.id": 'b"'})]}, slos=())
    text = templated._text('x{slo_id="${slo.id}"}', expr=True)
    assert text.fill(values) == 'x{slo_id="a"}'  # values now holds its quoted slo.id
    assert [text.fill(v) for v in subject.each("slo", values)] == ['x{slo_id="b\\""}']
    assert subject.each("slo", values) is subject.each("slo", values)  # once per instance
