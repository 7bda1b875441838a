"""The LLM serving dashboards' template (llm-serving.yml) and the constructs it added to the template engine:
`when: {signals: [...]}`, computed row and panel slots, `thresholds: {compute: ttft}`, and spec.service/backend
filled per instance. Oracles: the JSON Schema of the Dashboard kind, the committed dashboards/ llm-* files, and
hand-written expectations; nothing here compares the template with another code path of its own."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest

from promspec.compile.dashboards import templated
from promspec.compile.dashboards.presets import LLM_SERVING, llm_subject
from promspec.compile.dashboards.signals import Scope
from promspec.compile.dashboards.templated import (
    PLACEHOLDER,
    Subject,
    TemplateError,
    instantiate,
    read_template,
    split_template,
    template,
    template_data,
)
from promspec.diagnostics import Report
from promspec.model.loader import Document
from promspec.model.project import Ref
from promspec.model.validate import validate_documents

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VALUES = {
    "serving.uid": "llm-engine-x",
    "serving.name": "x",
    "serving.summary": "s",
    "serving.folder": "llm",
    "serving.service": "",
    "serving.backend": "x",
    "serving.engine": "x",
}


def _sample(value: Any) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub("x1", value)
    if isinstance(value, list):
        return [_sample(v) for v in value]
    if isinstance(value, dict):
        return {k: _sample(v) for k, v in value.items()}
    return value


def _ref() -> Ref:
    return Ref(doc=Document(file="b.yml", index=0, data={}), path=())


def _subject(signals: frozenset[str], scope: Scope | None = None) -> Subject:
    return Subject(ref=_ref(), values=templated.prepared(VALUES), lists={}, slos=(), signals=signals, scope=scope)


def _data() -> dict[str, Any]:
    return copy.deepcopy(template_data(LLM_SERVING))


def test_the_template_less_its_constructs_is_a_valid_dashboard_spec():
    split = split_template(template_data(LLM_SERVING), LLM_SERVING)
    spec = _sample(split.spec)
    report = Report()
    assert validate_documents([Document(file="llm-serving.yml", index=0, data=spec)], report)
    assert [e.message for e in report.errors] == []
    # what was taken out: three computed row slots, two computed panel slots, and the `when`s
    assert [r.compute for r in split.rows if isinstance(r, templated._Slot)] == ["replicas", "request_shape", "engine"]


def test_the_constructs_are_not_dashboard_spec_fields():
    """A user's spec cannot use them: the schema of the Dashboard kind rejects each."""
    for panel, bad in (
        ({"title": "P", "queries": [{"signal": "ttft"}]}, False),  # the control: no construct
        ({"title": "P", "when": {"signals": ["ttft"]}, "queries": [{"signal": "ttft"}]}, True),
        ({"title": "P", "queries": [{"signal": "ttft", "when": {"signals": ["ttft"]}}]}, True),
        ({"title": "P", "thresholds": {"compute": "ttft"}, "queries": [{"signal": "ttft"}]}, True),
        ({"compute": "errors_by"}, True),
    ):
        data = {"apiVersion": "promspec/v1", "kind": "Dashboard", "metadata": {"name": "d"}}
        data["spec"] = {"rows": [{"title": "R", "panels": [panel]}]}
        report = Report()
        validate_documents([Document(file="d.yml", index=0, data=data)], report)
        assert bool(report.errors) == bad, (panel, [e.message for e in report.errors])


def test_instantiated_llm_serving_dashboards_render_the_committed_files():
    """specs/'s LLM serving dashboards, as generate makes them, are the files committed in dashboards/."""
    from dashboard_helpers import dashboard_json
    from promspec.compile.build import compile_build
    from promspec.compile.dashboards.compiler import build_dashboard
    from promspec.compile.dashboards.plan import context_for, plan_with, resolve
    from promspec.compile.dashboards.presets import preset_dashboards
    from promspec.compile.dashboards.project import dashboard_path
    from promspec.pipeline import load_model

    project, _report = load_model([os.path.join(REPO, "specs")])
    build = compile_build(project)
    made = [d for d in preset_dashboards(project, build.rule_groups).dashboards if d.uid.startswith("llm-")]
    made = [d for d in made if d.uid.startswith(("llm-engine-", "llm-service-"))]
    committed = {
        os.path.relpath(os.path.join(root, f), REPO)
        for root, _dirs, files in os.walk(os.path.join(REPO, "dashboards"))
        for f in files
        if f.startswith(("llm-engine-", "llm-service-"))
    }
    assert len(committed) >= 4 and {dashboard_path(d) for d in made} == committed
    ctx = context_for(project, made)
    for dash in made:
        targets, problems = resolve(ctx, dash)
        assert problems == []
        with open(os.path.join(REPO, dashboard_path(dash)), "rb") as fh:
            assert dashboard_json(build_dashboard(plan_with(ctx, dash, targets))) == fh.read(), dash.uid


def test_when_leaves_out_panels_queries_and_rows_of_signals_the_engine_lacks():
    t = template(LLM_SERVING)
    t = templated.DashboardTemplate(
        **{**t.__dict__, "rows": tuple(r for r in t.rows if not isinstance(r, templated._Slot))}
    )
    t = templated.DashboardTemplate(
        **{
            **t.__dict__,
            "rows": tuple(
                templated._RowT(
                    **{**r.__dict__, "panels": tuple(p for p in r.panels if not isinstance(p, templated._Slot))}
                )
                for r in t.rows
            ),
        }
    )
    dash = instantiate(t, _subject(frozenset({"requests", "prompt_tokens"})))
    # hand-written: what a request counter and a prompt-token counter alone give
    assert [(r.title, [p.title for p in r.panels]) for r in dash.rows] == [
        ("Overview", ["Request rate"]),
        ("Traffic and errors", ["Request rate by model"]),
        ("Tokens", ["Token throughput"]),
    ]
    throughput = dash.rows[2].panels[0]
    assert [(q.signal, q.legend) for q in throughput.queries] == [("prompt_tokens", "prompt tokens/s")]
    assert dash.title == "LLM serving: x" and dash.backend == "x" and dash.service == "" and dash.uid == "llm-engine-x"


def test_a_row_without_constructs_stays_when_empty():
    """The SLO templates' rows have no `when` or slot: they are drawn as before even with no panel."""
    data = _data()
    data["spec"]["rows"] = [{"title": "Plain", "panels": []}]
    t = read_template(data, "t")
    assert [r.title for r in instantiate(t, _subject(frozenset())).rows] == ["Plain"]


def test_ttft_thresholds_come_from_the_services_ttft_slo():
    from types import SimpleNamespace

    slos: Any = (
        SimpleNamespace(signal="ttft", threshold="500ms"),
        SimpleNamespace(signal="ttft", threshold="0.25"),
        SimpleNamespace(signal="errors", threshold=""),
    )
    assert templated.ttft_thresholds(slos) == [(0.25, "red")]
    assert templated.ttft_thresholds(()) == [(1, "orange"), (5, "red")]


# ------------------------------------------------------------------------------------ error paths


@pytest.mark.parametrize(
    ("when", "match"),
    [
        ({"signals": ["tftt"]}, "no signal 'tftt'"),
        ({"signals": []}, "expected `when: {signals"),
        ({"signal": ["ttft"]}, "expected `when: {signals"),
        ("ttft", "expected `when: {signals"),
    ],
)
def test_a_bad_when_is_a_template_error(when, match):
    data = _data()
    data["spec"]["rows"][0]["panels"][0]["when"] = when
    with pytest.raises(TemplateError, match=match):
        split_template(data, "t")
    data = _data()
    data["spec"]["rows"][0]["panels"][0]["queries"][0]["when"] = when
    with pytest.raises(TemplateError, match=r"queries\[0\]\.when"):
        split_template(data, "t")


@pytest.mark.parametrize(
    ("slot", "match"),
    [
        ({"compute": "replica"}, "NAME one of replicas, request_shape, engine"),
        ({"compute": "replicas", "title": "R"}, "is `compute: NAME` alone"),
        ({"compute": "errors_by"}, "NAME one of replicas"),  # a panel slot is not a row slot
    ],
)
def test_a_bad_computed_row_slot_is_a_template_error(slot, match):
    data = _data()
    data["spec"]["rows"].insert(1, slot)
    with pytest.raises(TemplateError, match=match):
        split_template(data, "t")


def test_a_bad_computed_panel_slot_is_a_template_error():
    data = _data()
    data["spec"]["rows"][0]["panels"].append({"compute": "replicas"})
    with pytest.raises(TemplateError, match=r"spec.rows\[0\].panels\[6\]: .*NAME one of errors_by, finish_reason"):
        split_template(data, "t")


def test_a_computed_part_without_an_engine_scope_is_a_template_error():
    with pytest.raises(TemplateError, match="needs a subject with an engine scope"):
        instantiate(template(LLM_SERVING), _subject(frozenset()))


def test_the_serving_placeholders_in_a_user_specs_service_and_backend_are_errors():
    from dataclasses import replace

    from promspec.model.dashboards import Dashboard

    doc = Document(file="d.yml", index=0, data={})
    dash = replace(
        Dashboard(name="d", ref=Ref(doc, ("spec",))), service="${serving.service}", backend="${serving.backend}"
    )
    report = Report()
    templated.check_user_placeholders([dash], report)
    assert [e.path for e in report.errors] == ["spec.service", "spec.backend"]


def test_an_engine_subject_lists_the_signals_its_adapter_has():
    from promspec.pipeline import load_model

    project, _report = load_model([os.path.join(REPO, "specs")])
    vllm = llm_subject(_ref(), Scope(backend=project.backends["vllm"]), VALUES)
    assert {"requests", "ttft", "kv_cache_usage"} <= vllm.signals <= templated.WHEN_SIGNALS


def test_a_long_dotted_service_name_gets_an_llm_service_uid_grafana_accepts(tmp_path):
    """Grafana refuses a dashboard uid over 40 characters or with a character outside [a-zA-Z0-9_-] (its
    provisioning then skips the dashboard): llm-service-<service> is used when it is one, else a readable
    head and a hash; the SLO dashboards link to the uid it got. (Before, the name was used as written.)"""
    import re
    import shutil

    from promspec.compile.build import compile_build
    from promspec.compile.dashboards.presets import preset_dashboards
    from promspec.pipeline import load_model

    shutil.copytree(os.path.join(REPO, "specs", "catalog"), tmp_path / "catalog")
    (tmp_path / "svc.yml").write_text(
        "apiVersion: promspec/v1\nkind: Service\nmetadata: {name: chat.api-with-a-rather-long-name}\n"
        "spec:\n  backend: vllm\n  selector: {job: vllm}\n"
        "  slos:\n    - {name: errors, objective: 99%, sli: {signal: errors}}\n"
    )
    project, report = load_model([str(tmp_path)])
    assert not report.errors, [e.message for e in report.errors]
    made = preset_dashboards(project, compile_build(project).rule_groups).dashboards
    serving = [d for d in made if d.uid.startswith("llm-service-")]
    assert len(serving) == 1
    uid = serving[0].uid
    assert len(uid) <= 40 and re.fullmatch(r"[a-zA-Z0-9_-]+", uid), uid
    assert uid.startswith("llm-service-chat-api-with-")
    detail = next(d for d in made if d.uid.startswith("slo-chat"))
    assert uid in {link.dashboard for link in detail.links}
    short = [d.uid for d in made if d.uid.startswith("llm-engine-")]
    assert short == ["llm-engine-vllm"]  # a name that is a uid already stays as written
