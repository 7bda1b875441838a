"""Semantic checks and loader details, in-process."""

from __future__ import annotations

import textwrap

import pytest

from promspec.diagnostics import SpecError
from promspec.pipeline import load_project

BASE = "tests/fixtures/base"


def _write(tmp_path, text, name="s.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def _errors(*paths, **kw):
    with pytest.raises(SpecError) as info:
        load_project([BASE, *paths], env={}, **kw)
    return [d.format() for d in info.value.diagnostics]


def test_several_errors_are_reported_at_once(tmp_path):
    path = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: AlertGroup
        metadata: {name: x}
        spec:
          alerts:
            - name: A
              expr: sum(rate(nope_total[5m])) > 1
            - name: B
              expr: sum by (zone) (rate(llm_request_total[5m])) > 1
              for: 5s
        """,
    )
    errors = _errors(path)
    assert len(errors) == 3
    assert any("metric 'nope_total'" in e for e in errors)
    assert any("label 'zone' in by()" in e for e in errors)
    assert any("for: 5s is shorter" in e for e in errors)


def test_high_cardinality_label_is_a_warning_and_strict_makes_it_an_error(tmp_path):
    path = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: Catalog
        metadata: {name: c}
        spec:
          metrics:
            - {name: chat_requests_total, type: counter, labels: [model, user_id]}
        """,
    )
    _project, report = load_project([BASE, path], env={})
    assert [w.message for w in report.warnings] == ["label 'user_id' looks high-cardinality (one series per value)"]
    assert str(report.warnings[0].pos).endswith("s.yml:6:66")
    errors = _errors(path, strict=True)
    assert "user_id" in errors[0]


def test_recorded_series_carry_their_inputs_labels(tmp_path):
    path = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: RecordingGroup
        metadata: {name: r}
        spec:
          rules:
            - record: job:llm_requests:rate5m
              expr: sum by (job, model) (rate(llm_request_total[5m]))
            - record: job:llm_requests:rate5m:sum
              expr: sum by (model) (job:llm_requests:rate5m)
            - record: bad
              expr: sum by (type) (job:llm_requests:rate5m)
        """,
    )
    errors = _errors(path)
    assert len(errors) == 1 and "label 'type' in by() is not a label of job:llm_requests:rate5m" in errors[0]


def test_external_metrics_and_regexes_are_accepted(tmp_path):
    path = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: AlertGroup
        metadata: {name: x}
        spec:
          alerts:
            - name: A
              expr: node_load1 > 4 and on(instance) up == 1
        """,
    )
    _project, report = load_project([BASE, path], env={})
    assert not report.errors


def test_histogram_series_get_le(tmp_path):
    path = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: RecordingGroup
        metadata: {name: r}
        spec:
          rules:
            - record: x:p95
              expr: histogram_quantile(0.95, sum by (le, model) (rate(llm_request_duration_seconds_bucket[5m])))
        """,
    )
    load_project([BASE, path], env={})


def test_yaml_anchors_and_merge_keys(tmp_path):
    path = _write(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: AlertGroup
        metadata: {name: x}
        spec:
          alerts:
            - &base
              name: A
              expr: up == 0
              severity: page
            - <<: *base
              name: B
        """,
    )
    project, _ = load_project([BASE, path], env={})
    alerts = [r for g in project.groups for r in g.rules]
    assert [(a.name, a.severity) for a in alerts] == [("A", "page"), ("B", "page")]


@pytest.mark.slow
def test_jsonnet_specs(tmp_path):
    path = _write(
        tmp_path,
        """\
        local alert(name, expr) = { name: name, expr: expr, severity: 'page' };
        {
          apiVersion: 'promspec/v1', kind: 'AlertGroup', metadata: { name: 'from-jsonnet' },
          spec: { alerts: [alert('Down%d' % i, 'up{job="j%d"} == 0' % i) for i in [1, 2]] },
        }
        """,
        "a.jsonnet",
    )
    project, _ = load_project([BASE, path], env={})
    assert [r.name for g in project.groups for r in g.rules] == ["Down1", "Down2"]


@pytest.mark.slow
def test_jsonnet_errors_have_positions(tmp_path):
    path = _write(tmp_path, "{\n  a: 1 +,\n}\n", "bad.jsonnet")
    errors = _errors(path)
    assert "bad.jsonnet:2:" in errors[0] and "Jsonnet error" in errors[0]


def test_env_overrides_win_over_settings(tmp_path):
    project, _ = load_project([BASE], env={"PROMSPEC_SCRAPE_INTERVAL": "7s", "PROMSPEC_ALERTMANAGERS": "a:1,b:2"})
    assert project.settings.scrape_interval == "7s"
    assert project.settings.alertmanagers == ["a:1", "b:2"]
    assert project.settings.from_env == {
        "scrape_interval": "PROMSPEC_SCRAPE_INTERVAL",
        "alertmanagers": "PROMSPEC_ALERTMANAGERS",
    }


def test_many_documents_take_the_quick_schema_check_and_keep_the_same_errors(tmp_path):
    docs = [
        f"apiVersion: promspec/v1\nkind: AlertGroup\nmetadata: {{name: g{i}}}\n"
        f"spec:\n  alerts:\n    - {{name: A{i}, expr: up == 0, for: 5m}}\n"
        for i in range(205)
    ]
    docs[7] = docs[7].replace("for: 5m", "for: 5 minutes")
    path = _write(tmp_path, "---\n".join(docs))
    errors = _errors(path)
    assert len(errors) == 1
    assert "s.yml:55:38: invalid value: the string '5 minutes' at spec.alerts[0].for" in errors[0]
