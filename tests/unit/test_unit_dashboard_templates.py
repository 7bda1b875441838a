"""The templated bundled dashboards (slo-overview, one per SLO): the templates are Dashboard specs plus the
documented constructs, instantiation renders what the committed dashboards/ hold, and names land escaped
where they land. Oracles: the JSON Schema of the Dashboard kind, the committed output of specs/, promql-parser
and hand-written PromQL; nothing here compares the instantiation with another code path of its own."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from typing import Any

import promql_parser as pp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_budget import examples
from promspec.compile.dashboards import slo_dashboards, templated
from promspec.compile.dashboards.slo_dashboards import slo_subject
from promspec.compile.dashboards.templated import (
    PLACEHOLDER,
    TemplateError,
    instantiate,
    split_template,
    template,
    template_data,
)
from promspec.diagnostics import Report
from promspec.model.dashboards import Dashboard, Panel, Query, Row, Variable
from promspec.model.loader import Document
from promspec.model.project import Ref
from promspec.model.services import SLO, TIERS, Tier
from promspec.model.sli import SLI
from promspec.model.validate import validate_documents

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATES = sorted(f[:-4] for f in os.listdir(templated.DATA_DIR) if f.startswith("slo-") and f.endswith(".yml"))
# A value every placeholder can take in a sample: a name, a label value and the end of a metric name at once.
SAMPLE = "x1"


def _sample(value: Any) -> Any:
    """value with every template placeholder replaced by SAMPLE."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(SAMPLE, value)
    if isinstance(value, list):
        return [_sample(v) for v in value]
    if isinstance(value, dict):
        return {k: _sample(v) for k, v in value.items()}
    return value


def test_the_slo_templates_ship():
    assert TEMPLATES == ["slo-detail", "slo-overview"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_a_template_less_its_constructs_is_a_valid_dashboard_spec(name):
    spec = _sample(split_template(template_data(name), name).spec)
    report = Report()
    assert validate_documents([Document(file=f"{name}.yml", index=0, data=spec)], report)
    assert [e.message for e in report.errors] == []


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_expression_parses_once_filled(name):
    t = template(name)
    fields = templated.prepared({"slo.id": SAMPLE, "tier.name": SAMPLE, "window": "5m"})
    exprs = [q.expr.fill(fields) for r in t.rows for p in r.panels for q in p.queries]
    assert exprs
    for expr in exprs:
        pp.parse(expr.replace("$slo_service", "x"))


def test_a_template_is_read_once_per_process():
    assert template("slo-detail") is template("slo-detail")


# ------------------------------------------------------------------------------------ the committed output


def test_instantiated_slo_dashboards_render_the_committed_files():
    """specs/'s SLO dashboards, instantiated from the templates and compiled alone, are the files committed in
    dashboards/ (written by `make generate` and kept up to date by `generate --check`)."""
    from dashboard_helpers import dashboard_json
    from promspec.compile.build import compile_build
    from promspec.compile.dashboards.compiler import build_dashboard
    from promspec.compile.dashboards.plan import context_for, plan_with, resolve
    from promspec.compile.dashboards.project import dashboard_path
    from promspec.pipeline import load_model

    project, _report = load_model([os.path.join(REPO, "specs")])
    build = compile_build(project)
    serving = {s.name: f"llm-service-{s.name}" for s in sorted(project.services, key=lambda s: s.name) if s.backend}
    made = slo_dashboards.slo_dashboards(project.services, build.rule_groups, serving)
    assert made[0].uid == "slo-overview" and made[1].uid.startswith("slo-chat-vllm-")
    ctx = context_for(project, made)
    committed = {
        os.path.relpath(os.path.join(root, f), REPO)
        for root, _dirs, files in os.walk(os.path.join(REPO, "dashboards"))
        for f in files
        if f.startswith("slo-")
    }
    assert {dashboard_path(d) for d in made} == committed
    for dash in made:
        targets, problems = resolve(ctx, dash)
        assert problems == []
        with open(os.path.join(REPO, dashboard_path(dash)), "rb") as fh:
            assert dashboard_json(build_dashboard(plan_with(ctx, dash, targets))) == fh.read(), dash.uid


# ------------------------------------------------------------------------------------ escaping


def _ref() -> Ref:
    return Ref(doc=Document(file="svc.yml", index=0, data={}), path=("spec", "slos", 0))


def _slo(service: str, name: str, tier_name: str = "page-fast") -> SLO:
    long, short, share, severity = TIERS["page-fast"]
    return SLO(
        service=service,
        name=name,
        ref=_ref(),
        objective_text="0.99",
        objective=Decimal("0.99"),
        window="30d",
        sli=SLI(kind="ratio", errors="sum(rate(e[5m]))", total="sum(rate(t[5m]))"),
        tiers=(Tier(name=tier_name, long=long, short=short, share=share, severity=severity),),
    )


def _detail(slo: SLO) -> Dashboard:
    records = ["slo:sli_error:ratio_rate5m", "slo:sli_error:ratio_rate1h"]
    return instantiate(template("slo-detail"), slo_subject(slo, "team-a", records, "llm-service-x"))


def _matchers(expr: str) -> list[tuple[str, str]]:
    """(name, value) of every label matcher in expr, as promql-parser reads them."""
    found: list[tuple[str, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, pp.VectorSelector):
            found.extend((m.name, m.value) for m in node.matchers.matchers)
        for attr in ("expr", "lhs", "rhs", "vector_selector", "param"):
            child = getattr(node, attr, None)
            if isinstance(child, pp.Expr):
                walk(child)
        for child in getattr(node, "args", None) or ():
            walk(child)

    walk(pp.parse(expr))
    return found


def test_a_name_with_a_quote_and_a_backslash_is_escaped_in_promql_and_written_as_it_is_elsewhere():
    dash = _detail(_slo('chat "a\\b"', "avail\\ty", tier_name='pa"ge'))
    queries = [q for r in dash.rows for p in r.panels for q in p.queries]
    # Hand-written: promql.quote()'s escaping of `chat "a\b"-avail\ty`, the SLO's id.
    assert queries[0].expr == '1 - slo:sli_error:ratio_period{slo_id="chat \\"a\\\\b\\"-avail\\\\ty"}'
    firing = [q for q in queries if q.legend == 'pa"ge']
    assert firing[0].expr == (
        'max(ALERTS{slo_id="chat \\"a\\\\b\\"-avail\\\\ty", burn_tier="pa\\"ge", alertstate="firing"})'
        " or on() vector(0)"
    )
    assert dash.title == 'SLO chat "a\\b" / avail\\ty'
    assert dash.tags == ("slo", 'chat "a\\b"')


NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)


@settings(max_examples=examples(60), deadline=None)
@given(service=NAMES, name=NAMES, tier=NAMES)
def test_any_name_round_trips_through_promql_and_titles(service, name, tier):
    slo = _slo(service, name, tier_name=tier)
    dash = _detail(slo)
    assert dash.title == f"SLO {service} / {name}"
    queries = [q for r in dash.rows for p in r.panels for q in p.queries]
    assert len(queries) == 14  # 6 status; 2 windows, budget; 2 events, 2 ratios, 1 tier
    for query in queries:
        values = dict(_matchers(query.expr))
        assert values["slo_id"] == slo.id
        if "burn_tier" in values:
            assert values["burn_tier"] == tier
            assert query.legend == tier


# ------------------------------------------------------------------------------------ what a template may say


def test_a_placeholder_in_promql_must_be_a_whole_label_value_or_a_metric_name_end():
    with pytest.raises(TemplateError, match="neither a whole label value"):
        templated._text('up{job=~".*${slo.id}"}', expr=True)
    assert templated._text('up{job="${slo.id}"}', expr=True).fill(templated.prepared({"slo.id": 'a"'})) == (
        'up{job="a\\""}'
    )
    with pytest.raises(TemplateError, match="cannot end a metric name"):
        templated._text("rate_${window}", expr=True).fill(templated.prepared({"window": "5m}"}))


def test_a_placeholder_without_a_value_is_a_template_error():
    for text, expr in (("${window} window", False), ('x{a="${tier.name}"}', True), ("rate_${window}", True)):
        with pytest.raises(TemplateError, match="no value for"):
            templated._text(text, expr=expr).fill(templated.prepared({"slo.id": "a"}))


def test_grafana_variables_pass_through_a_template():
    text = templated._text('x{a="${datasource}", b=~"$job"} ${__rate_interval}', expr=True)
    assert text.fill(templated.prepared({})) == 'x{a="${datasource}", b=~"$job"} ${__rate_interval}'


def test_an_unknown_computed_threshold_is_a_template_error():
    data = template_data("slo-detail")
    data["spec"]["rows"][0]["panels"][0]["thresholds"] = {"compute": "nope"}
    with pytest.raises(TemplateError, match="no computed thresholds 'nope'"):
        split_template(data)


# ------------------------------------------------------------------------------------ user specs


def _user(title: str, legend: str, variables: tuple[str, ...] = ("datasource",)) -> Dashboard:
    doc = Document(file="d.yml", index=0, data={})
    ref = Ref(doc, ("spec",))
    query = Query(ref=ref.at("panels", 0, "queries", 0), expr="up", legend=legend)
    panel = Panel(title="P", ref=ref.at("panels", 0), queries=[query])
    return Dashboard(
        name="d",
        ref=ref,
        title=title,
        variables=[Variable(name=v, ref=ref) for v in variables],
        rows=[Row(title="", ref=ref, panels=[panel])],
    )


def test_a_template_placeholder_in_a_user_spec_is_an_error():
    report = Report()
    templated.check_user_placeholders([_user("SLO ${slo.name}", "${tier.name}")], report)
    assert [re.sub(r" is .*", "", e.message) for e in report.errors] == ["${slo.name}", "${tier.name}"]
    assert [e.path for e in report.errors] == ["spec.title", "spec.panels[0].queries[0].legend"]


def test_grafana_variables_in_a_user_spec_are_not_template_placeholders():
    report = Report()
    dash = _user("${datasource} ${__rate_interval} ${job:csv}", "${window} window", ("datasource", "window"))
    templated.check_user_placeholders([dash], report)
    assert report.errors == []


def test_template_placeholders_in_a_user_specs_tags_and_links_are_errors_too():
    from dataclasses import replace

    from promspec.model.dashboards import Link

    dash = replace(_user("T", ""), tags=("a", "${slo.service}"), links=[Link(title="to ${serving.uid}", url="/d/x")])
    report = Report()
    templated.check_user_placeholders([dash], report)
    assert [e.path for e in report.errors] == ["spec.tags[1]", "spec.links[0].title"]
