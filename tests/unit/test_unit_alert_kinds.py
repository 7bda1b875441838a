"""Alert kinds on records built in Python: expressions, checks, PromQL fragments, promtool cases, the table.

Expected expressions are written out by hand (they are the ones the bundled rules/ files carry).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

from promspec.alert_kinds import KINDS, build_kind, check_kind, kind_cases, kind_defaults, kind_fragments
from promspec.alert_kinds.absent import Absent
from promspec.alert_kinds.anomaly import Anomaly, MinTraffic
from promspec.alert_kinds.base import Condition
from promspec.alert_kinds.capacity import Capacity
from promspec.alert_kinds.compound import Compound
from promspec.alert_kinds.promtool_cases import Untestable
from promspec.alert_kinds.threshold import Threshold
from promspec.diagnostics import Report
from promspec.model.loader import Document
from promspec.model.project import Alert, Ref

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "gen" / "promspec"
REF = Ref(doc=Document(file="specs/a.yml", index=0, data={}, source="specs/a.yml"), path=("spec", "alerts", 0))


def _cond(metric: str, operator: str, value: float) -> Condition:
    return Condition(metric=metric, operator=operator, value=value, ref=REF)


def _alert(kind, for_: str = "", labels: dict | None = None) -> Alert:
    return Alert(
        name="A", expr=kind_defaults(kind).expr, ref=REF, for_=for_, severity="warning", labels=labels or {}, kind=kind
    )


def _errors(kind, for_: str = "") -> list[str]:
    report = Report()
    check_kind(_alert(kind, for_), kind, report)
    return [f"{d.path}: {d.message}" for d in report.errors]


def test_threshold_compiles_to_one_comparison_with_a_summary():
    d = kind_defaults(Threshold(condition=_cond('llm_error_ratio{model="llama"}', ">", 0.05), ref=REF))
    assert d.expr == 'llm_error_ratio{model="llama"} > 0.05'
    assert d.summary == 'llm_error_ratio{model="llama"} is {{ $value | humanize }} (> 0.05)'
    assert d.for_ == ""


def test_threshold_parenthesises_an_operand_that_is_not_atomic_and_prints_integral_floats_bare():
    d = kind_defaults(Threshold(condition=_cond("a - b", "<", 3.0), ref=REF))
    assert d.expr == "(a - b) < 3"


def test_compound_joins_on_the_shared_labels():
    all_of = (_cond("llm_queue", ">=", 10), _cond("llm_requests_per_second", "<", 1))
    d = kind_defaults(Compound(all_of=all_of, on_labels=("model",), ref=REF))
    assert d.expr == "(llm_queue >= 10) and on(model) (llm_requests_per_second < 1)"
    assert d.summary == "all of 2 conditions hold"
    d = kind_defaults(Compound(any_of=all_of, ref=REF))
    assert d.expr == "(llm_queue >= 10) or (llm_requests_per_second < 1)"


def test_anomaly_zscore_with_a_traffic_guard():
    kind = Anomaly(
        metric="llm_requests_per_second", method="zscore", threshold=3, min_traffic=MinTraffic(value=1), ref=REF
    )
    assert kind_defaults(kind).expr == (
        "(abs((llm_requests_per_second - avg_over_time(llm_requests_per_second[1w])) / "
        "stddev_over_time(llm_requests_per_second[1w])) > 3) and "
        "(avg_over_time(llm_requests_per_second[1w]) >= 1)"
    )


def test_anomaly_week_over_week_down_reads_the_same_hour_last_week():
    kind = Anomaly(metric="rps", method="week_over_week", threshold=0.5, direction="down", ref=REF)
    assert kind_defaults(kind).expr == (
        "(rps - avg_over_time(rps[1h] offset 6d23h30m)) / avg_over_time(rps[1h] offset 6d23h30m) < -0.5"
    )


def test_absent_job_and_metric_have_a_grace_period():
    d = kind_defaults(Absent(job="vllm", ref=REF))
    assert d.expr == 'up{job="vllm"} == 0 or absent(up{job="vllm"})'
    assert d.for_ == "10m" and d.summary == "a target of job vllm is down or gone"
    d = kind_defaults(Absent(metric=" up{job='x'} ", ref=REF))
    assert d.expr == "absent(up{job='x'})"


def test_capacity_used_against_a_limit_series_and_free_space():
    d = kind_defaults(
        Capacity(used="gpu_memory_used_bytes", limit="gpu_memory_total_bytes", within="2h", lookback="30m", ref=REF)
    )
    assert d.expr == (
        "(gpu_memory_total_bytes - predict_linear(gpu_memory_used_bytes[30m], 0)) / "
        "deriv(gpu_memory_used_bytes[30m]) >= 0 < 7200"
    )
    d = kind_defaults(Capacity(free="sum(x)", within="1d", ref=REF))
    assert d.expr == "predict_linear((sum(x))[1h:5m], 0) / -deriv((sum(x))[1h:5m]) >= 0 < 86400"
    assert d.summary.endswith("at the trend of the last 1h (alerting within 1d)")


def test_checks_refuse_what_the_schema_cannot_say():
    two = (_cond("a", ">", 1), _cond("b", ">", 1))
    assert _errors(Compound(all_of=two, any_of=two, ref=REF)) == [
        "spec.alerts[0].any: a compound alert takes all or any, not both"
    ]
    assert _errors(Absent(metric="up", job="x", ref=REF)) == [
        "spec.alerts[0].job: a absent alert takes metric or job, not both"
    ]
    assert _errors(Capacity(used="u", within="10m", ref=REF)) == [
        "spec.alerts[0].used: a capacity alert on used: needs limit:"
    ]
    assert _errors(Capacity(free="f", limit=1, within="10m", ref=REF)) == [
        "spec.alerts[0].limit: limit: has no meaning with free: (free space runs out at 0)"
    ]
    assert _errors(Capacity(used="u", limit=1, within="10m", ref=REF), for_="10m") == [
        "spec.alerts[0].for: for: 10m is not shorter than within: 10m, so the alert could never fire"
    ]
    assert _errors(Capacity(used="u", limit=1, within="0s", ref=REF)) == [
        "spec.alerts[0].within: within: must be longer than 0s"
    ]
    assert _errors(Anomaly(metric="m", method="zscore", threshold=3, on_labels=("model",), ref=REF)) == [
        "spec.alerts[0].on_labels: on_labels: joins the alert's metric with min_traffic.metric, which is not set"
    ]
    assert _errors(Threshold(condition=_cond("a", ">", 1), ref=REF)) == []


def test_fragments_name_the_promql_fields_below_the_alert():
    two = (_cond("a", ">", 1), _cond("b", ">", 1))
    assert [(f.path, f.text) for f in kind_fragments(Compound(any_of=two, ref=REF))] == [
        (("any", 0, "metric"), "a"),
        (("any", 1, "metric"), "b"),
    ]
    capacity = Capacity(used="u", limit="l", within="1h", ref=REF)
    assert [f.path for f in kind_fragments(capacity)] == [("used",), ("limit",)]
    anomaly = Anomaly(metric="m", method="zscore", threshold=3, min_traffic=MinTraffic(metric="t", value=1), ref=REF)
    assert [f.path for f in kind_fragments(anomaly)] == [("metric",), ("min_traffic", "metric")]
    assert kind_fragments(Absent(job="x", ref=REF)) == []


def test_build_keeps_what_was_written_and_the_positions_of_conditions():
    spec = {
        "name": "A",
        "kind": "compound",
        "any": [{"metric": "a", "operator": ">", "value": 1}, {"metric": "b", "operator": "<", "value": 2}],
    }
    kind = build_kind(spec, REF)
    assert isinstance(kind, Compound) and kind.all_of is None and kind.mode == "any"
    assert kind.conditions[1].ref.path == ("spec", "alerts", 0, "any", 1)
    capacity = build_kind({"name": "B", "kind": "capacity", "free": "f", "within": "1h"}, REF)
    assert capacity == Capacity(free="f", within="1h", lookback="1h", ref=REF)


def test_threshold_cases_fire_past_the_value_and_stay_quiet_at_it():
    kind = Threshold(condition=_cond('llm_error_ratio{model="llama"}', ">", 0.05), ref=REF)
    cases = kind_cases(_alert(kind, for_="2m", labels={"team": "inference"}), kind, 30.0)
    assert not cases.long
    fire, quiet = cases.groups
    assert fire["name"] == "A fires at 0.1" and quiet["name"] == "A stays quiet at 0.05"
    assert fire["input_series"] == [{"series": 'llm_error_ratio{model="llama"}', "values": "0.1x5"}]
    assert [c["eval_time"] for c in fire["promql_expr_test"]] == ["2m", "1m30s"]
    assert fire["promql_expr_test"][0]["exp_samples"] == [
        {
            "labels": 'ALERTS{alertname="A",alertstate="firing",model="llama",severity="warning",team="inference"}',
            "value": 1,
        }
    ]
    assert quiet["promql_expr_test"][0]["exp_samples"] == []


def test_anomaly_cases_are_long_and_an_expression_metric_is_untestable():
    kind = Anomaly(metric="rps", method="week_over_week", threshold=0.5, ref=REF)
    assert kind_cases(_alert(kind, for_="5m"), kind, 30.0).long
    kind = Threshold(condition=_cond("sum(x)", ">", 1), ref=REF)
    with pytest.raises(Untestable, match="expression, not a series selector"):
        kind_cases(_alert(kind), kind, 30.0)


def test_the_table_names_each_kind_after_its_record_and_feeds_the_schema():
    from promspec.model.schemas import SPECS

    for name, kind in KINDS.items():
        assert kind.name == name and kind.record.__dataclass_params__.frozen  # type: ignore[attr-defined]
    alert = SPECS["AlertGroup"]["properties"]["alerts"]["items"]  # the spec: part of an AlertGroup
    assert alert["properties"]["kind"]["enum"] == list(KINDS)
    assert [b["if"].get("properties", {}).get("kind", {}).get("const") for b in alert["allOf"]] == [None, *KINDS]


def _imports(path: pathlib.Path) -> set[str]:
    """Modules a source file imports, relative ones resolved against the promspec package."""
    out = set()
    package = path.relative_to(PACKAGE.parent).parent.parts
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            out.add(".".join((*base, *(node.module or "").split("."))).strip("."))
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_the_model_layer_never_imports_the_alert_compilers_and_kinds_import_no_compile_module_but_promql():
    for path in sorted((PACKAGE / "model").glob("*.py")):
        assert not {m for m in _imports(path) if m.startswith("promspec.compile.alert")}, path
    for path in sorted((PACKAGE / "alert_kinds").glob("*.py")):
        compiled = {m for m in _imports(path) if m.startswith("promspec.compile")}
        assert compiled <= {"promspec.compile.promql"}, path


def _model_alert(**fields: object) -> Alert:
    from promspec.model.project import build_project

    alert = {"name": "A", "kind": "threshold", "metric": "q", "operator": ">", "value": 1, **fields}
    data = {"apiVersion": "promspec/v1", "kind": "AlertGroup", "metadata": {"name": "g"}, "spec": {"alerts": [alert]}}
    report = Report()
    project = build_project([Document(file="specs/a.yml", index=0, data=data)], report, env={})
    assert report.errors == []
    (rule,) = project.groups[0].rules
    return rule


def test_a_kind_alerts_own_annotations_summary_is_kept_not_replaced_by_the_kinds_summary():
    # Regression: the kind's generated summary silently overwrote annotations.summary.
    assert _model_alert(annotations={"summary": "mine"}).annotations == {"summary": "mine"}
    assert _model_alert(summary="field", annotations={"summary": "mine"}).annotations == {"summary": "field"}
    rule = _model_alert()
    assert rule.annotations == {"summary": "q is {{ $value | humanize }} (> 1)"}
    assert rule.expr == "q > 1" and isinstance(rule.kind, Threshold)
