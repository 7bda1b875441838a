"""The SLO engine: SLIs through backends, rule shapes, tiers, and Sloth/OpenSLO input."""

from __future__ import annotations

import textwrap

import pytest

from promspec.pipeline import load_build, load_project
from promspec.render.outputs import render_project

from conftest import run_promspec

BUNDLED = "specs"


def _service(tmp_path, body: str, name: str = "svc.yml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def _rules(tmp_path, body: str) -> dict:
    extra = [str(tmp_path / "cat.yml")] if (tmp_path / "cat.yml").exists() else []
    build, _ = load_build([BUNDLED, _service(tmp_path, body), *extra], env={})
    return {
        r.record if hasattr(r, "record") else (r.name, r.labels.get("burn_tier")): r
        for g in build.rule_groups
        if g.name.startswith("slo-svc-")
        for r in g.rules
    }


VLLM = """\
    apiVersion: promspec/v1
    kind: Service
    metadata: {{name: svc, labels: {{team: t}}}}
    spec:
      backend: vllm
      {extra}
      selector: {{job: vllm, model: llama}}
      slos:
        - name: s
          objective: {objective}
          window: {window}
          sli: {sli}
    """


def _vllm(tmp_path, sli="{signal: errors}", objective="99%", window="30d", extra="") -> dict:
    return _rules(tmp_path, VLLM.format(sli=sli, objective=objective, window=window, extra=extra))


def test_objective_is_printed_as_written(tmp_path):
    rules = _vllm(tmp_path, objective="0.999")
    assert rules["slo:objective:ratio"].expr == "vector(0.999)"
    assert rules["slo:error_budget:ratio"].expr == "vector(0.001)"
    assert rules["slo:info"].labels["objective"] == "0.999"
    rules = _vllm(tmp_path, objective="99.95%")
    assert rules["slo:info"].labels["objective"] == "99.95%"
    assert rules["slo:error_budget:ratio"].expr == "vector(0.0005)"


def test_errors_signal_uses_the_model_label_and_the_version(tmp_path):
    errors = _vllm(tmp_path)["slo:sli_errors:rate5m"].expr
    assert errors == (
        'sum(rate(vllm:request_success_total{job="vllm",model_name="llama",finished_reason="error"}[5m]))'
    )
    old = _vllm(tmp_path, extra='backend_version: "0.12"')["slo:sli_errors:rate5m"].expr
    assert 'finished_reason="abort"' in old


def test_vllm_inter_token_latency_rename_follows_the_version(tmp_path):
    sli = "{signal: inter_token_latency, threshold: 100ms}"
    assert "vllm:inter_token_latency_seconds_bucket" in _vllm(tmp_path, sli)["slo:sli_errors:rate5m"].expr
    old = _vllm(tmp_path, sli, extra='backend_version: "0.10"')["slo:sli_errors:rate5m"].expr
    assert "vllm:time_per_output_token_seconds_bucket" in old


def test_colons_as_underscores(tmp_path):
    expr = _vllm(tmp_path, "{signal: ttft, threshold: 500ms}", extra="colons_as_underscores: true")[
        "slo:sli_errors:rate5m"
    ].expr
    assert "vllm_time_to_first_token_seconds_bucket{" in expr and "vllm:" not in expr


def test_le_matches_prometheus_2_and_3_spellings(tmp_path):
    expr = _vllm(tmp_path, "{signal: ttft, threshold: 1s}")["slo:sli_errors:rate5m"].expr
    assert 'le=~"1|1.0"' in expr
    expr = _vllm(tmp_path, "{signal: ttft, threshold: 0.5}")["slo:sli_errors:rate5m"].expr
    assert 'le="0.5"' in expr


def test_triton_counts_milliseconds(tmp_path):
    rules = _rules(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: Service
        metadata: {name: svc}
        spec:
          backend: triton
          slos:
            - {name: s, objective: 99%, sli: {signal: ttft, threshold: 500ms}}
        """,
    )
    assert 'nv_inference_first_response_histogram_ms_bucket{le=~"500|500.0"}' in rules["slo:sli_errors:rate5m"].expr


def test_native_histogram_latency(tmp_path):
    (tmp_path / "cat.yml").write_text(
        "apiVersion: promspec/v1\nkind: Catalog\nmetadata: {name: app}\n"
        "spec: {metrics: [{name: app_latency_seconds, type: histogram}]}\n"
    )
    rules = _vllm(tmp_path, "{latency: {metric: 'app_latency_seconds', threshold: 0.25, native: true}}")
    assert rules["slo:sli_total:rate5m"].expr.startswith("histogram_count(sum(rate(app_latency_seconds{")
    assert "histogram_fraction(0, 0.25, " in rules["slo:sli_errors:rate5m"].expr


def test_windows_are_events_weighted_from_the_recorded_rates(tmp_path):
    rules = _vllm(tmp_path)
    assert rules["slo:sli_error:ratio_rate6h"].expr == (
        'sum_over_time(slo:sli_errors:rate5m{slo_id="svc-s"}[6h])\n/\n'
        'sum_over_time(slo:sli_total:rate5m{slo_id="svc-s"}[6h])'
    )
    raw_readers = [r for r, rule in rules.items() if isinstance(r, str) and "vllm:" in rule.expr]
    assert sorted(raw_readers) == ["slo:sli_errors:rate5m", "slo:sli_total:rate5m"]


def test_factors_scale_with_the_window(tmp_path):
    rules = _vllm(tmp_path, window="28d")
    page = rules[("SvcSErrorBudgetBurn", "page-fast")]
    assert "/ 0.01 > 13.44" in page.expr  # 2% of a 28d budget in 1h
    ticket = rules[("SvcSErrorBudgetBurn", "ticket-slow")]
    assert "/ 0.01 > 0.9333333333" in ticket.expr[:200] or "> 0.93333" in ticket.expr


def test_tiers_are_switchable_and_guarded(tmp_path):
    rules = _rules(
        tmp_path,
        """\
        apiVersion: promspec/v1
        kind: Service
        metadata: {name: svc}
        spec:
          backend: vllm
          alerting:
            min_traffic: 0.5
            tiers:
              ticket-slow: {enabled: false}
          slos:
            - name: s
              objective: 99%
              window: 2d
              sli: {signal: errors}
              alerting:
                tiers:
                  page-fast: {severity: critical, for: 2m, labels: {route: pager}, burn_rate: 20}
        """,
    )
    tiers = {k[1]: v for k, v in rules.items() if isinstance(k, tuple) and k[1]}
    assert sorted(tiers) == ["page-fast", "page-slow", "ticket-fast"]
    fast = tiers["page-fast"]
    assert (fast.severity, fast.for_, fast.labels["route"]) == ("critical", "2m", "pager")
    assert "> 20\n" in fast.expr
    assert 'avg_over_time(slo:sli_total:rate5m{slo_id="svc-s"}[5m]) >= 0.5' in fast.expr


@pytest.mark.slow
def test_generated_unit_tests_pass_under_promtool(tmp_path, promtool):
    out = tmp_path / "out"
    spec = _service(
        tmp_path,
        VLLM.format(
            sli="{signal: ttft, threshold: 250ms}", objective="99.5%", window="7d", extra="alerting: {min_traffic: 1}"
        ),
    )
    run_promspec("generate", BUNDLED, spec, "-o", str(out), check=0)
    tests = sorted(p.name for p in (out / "rules" / "tests").iterdir() if p.name.startswith("svc-slo-"))
    assert tests == [
        f"svc-slo-svc-s-{t}.test.yml"
        for t in ("budget-exhausted", "page-fast", "page-slow", "ticket-fast", "ticket-slow")
    ] + ["svc-slo-svc-s.rules.yml"]
    text = (out / "rules" / "tests" / "svc-slo-svc-s-page-fast.test.yml").read_text()
    assert "stays quiet below the minimum traffic of 1/s" in text
    proc = run_promspec("check", str(out))
    assert proc.returncode == 0, proc.stderr


SLOTH = """\
    version: "prometheus/v1"
    service: "myservice"
    labels: {owner: myteam}
    slos:
      - name: "requests-availability"
        objective: 99.9
        sli:
          events:
            error_query: sum(rate(http_requests_total{job="myservice",code=~"5.."}[{{.window}}]))
            total_query: sum(rate(http_requests_total{job="myservice"}[{{.window}}]))
        alerting:
          name: MyServiceHighErrorRate
          page_alert:
            labels: {severity: pageteam, routing_key: myteam}
          ticket_alert:
            disable: true
      - name: "raw"
        objective: 99
        sli:
          raw:
            error_ratio_query: sum(rate(x[{{.window}}]))
    ---
    apiVersion: promspec/v1
    kind: Catalog
    metadata: {name: http}
    spec:
      metrics:
        - {name: http_requests_total, type: counter, labels: [code]}
    """


def test_sloth_documents_are_read_directly(tmp_path):
    path = _service(tmp_path, SLOTH)
    project, report = load_project([BUNDLED, path], env={})
    (service,) = [s for s in project.services if s.name == "myservice"]
    (slo,) = service.slos
    assert slo.objective_text == "99.9%" and slo.conventions == "sloth"
    assert slo.errors_expr.endswith('code=~"5.."}[5m]))')
    tiers = {t.name: t for t in slo.tiers}
    # Sloth's page labels stay labels: severity: pageteam is the user's label, sloth_severity says page.
    assert tiers["page-fast"].labels == {"severity": "pageteam", "routing_key": "myteam"}
    assert not tiers["ticket-fast"].enabled and not tiers["ticket-slow"].enabled
    notes = [w for w in report.warnings if "not converted" in w.message]
    assert len(notes) == 1 and "a raw SLI is not converted" in notes[0].message
    assert str(notes[0].pos).endswith("svc.yml:20:7")
    alerts = [
        r
        for g in load_build([BUNDLED, path], env={})[0].rule_groups
        if g.name.startswith("sloth-slo-alerts-myservice")
        for r in g.rules
    ]
    assert [(a.name, a.labels["sloth_severity"], a.labels["severity"]) for a in alerts] == [
        ("MyServiceHighErrorRate", "page", "pageteam")
    ]


@pytest.mark.slow
def test_sloth_import_command(tmp_path):
    sloth, catalog = SLOTH.split("    ---\n")
    path = _service(tmp_path, sloth)
    cat = _service(tmp_path, catalog, "cat.yml")
    out = tmp_path / "imported.yml"
    proc = run_promspec("import", "sloth", path, "-o", str(out), check=0)
    assert "not converted: SLO 'raw': a raw SLI is not converted" in proc.stderr
    text = out.read_text()
    assert "kind: Service" in text and "objective: 99.9%" in text and "{{window}}" in text
    run_promspec("validate", BUNDLED, str(out), cat, check=0)


@pytest.mark.slow
def test_import_rejects_another_format(tmp_path):
    path = _service(tmp_path, SLOTH)
    proc = run_promspec("import", "openslo", path)
    assert proc.returncode == 1 and "not an openslo document" in proc.stderr and "Traceback" not in proc.stderr


OPENSLO = """\
    apiVersion: openslo/v1
    kind: SLI
    metadata: {name: good-requests}
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource: {type: Prometheus, spec: {query: 'http_requests_total{code!~"5.."}'}}
        total:
          metricSource: {type: Prometheus, spec: {query: http_requests_total}}
    ---
    apiVersion: openslo/v1
    kind: SLO
    metadata: {name: availability}
    spec:
      service: web
      indicatorRef: good-requests
      budgetingMethod: Occurrences
      timeWindow: [{duration: 28d, isRolling: true}]
      objectives: [{displayName: good, target: 0.995}]
      alertPolicies: [fast-burn]
    ---
    apiVersion: openslo/v1
    kind: AlertPolicy
    metadata: {name: fast-burn}
    spec:
      conditions:
        - kind: AlertCondition
          metadata: {name: c1}
          spec:
            severity: page
            condition: {kind: burnrate, op: gt, threshold: 10, lookbackWindow: 1h, alertAfter: 5m}
        - kind: AlertCondition
          metadata: {name: c2}
          spec:
            severity: ticket
            condition: {kind: burnrate, op: gt, threshold: 2, lookbackWindow: 2h, alertAfter: 5m}
    ---
    apiVersion: openslo/v1
    kind: SLO
    metadata: {name: calendar}
    spec:
      service: web
      indicatorRef: good-requests
      budgetingMethod: Timeslices
      objectives: [{target: 0.99}]
    """


def test_openslo_documents_convert(tmp_path):
    path = _service(tmp_path, OPENSLO)
    catalog = _service(tmp_path, SLOTH.split("    ---\n")[1], "cat.yml")
    project, report = load_project([BUNDLED, path, catalog], env={})
    (service,) = [s for s in project.services if s.name == "web"]
    (slo,) = service.slos
    assert (slo.name, slo.objective_text, slo.window) == ("availability", "99.5%", "28d")
    assert slo.total_expr == "sum(rate(http_requests_total[5m]))"
    assert slo.errors_expr.startswith("(sum(rate(http_requests_total[5m]))) - (sum(rate(http_requests_total{")
    tiers = {t.name: t for t in slo.tiers}
    assert [n for n, t in tiers.items() if t.enabled] == ["page-fast"]
    assert (tiers["page-fast"].burn_rate, tiers["page-fast"].for_) == ("10", "5m")
    messages = sorted(w.message for w in report.warnings)
    assert any("lookbackWindow '2h' is not one of promspec's burn windows" in m for m in messages)
    assert any("budgetingMethod Timeslices is not converted" in m for m in messages)
    files = render_project(project)
    assert any("WebAvailabilityErrorBudgetBurn" in v.decode() for k, v in files.items() if k.startswith("rules/"))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["sloth", "openslo"])
def test_import_of_a_missing_file_is_a_clear_error(fmt, tmp_path):
    proc = run_promspec("import", fmt, str(tmp_path / "missing.yml"))
    assert proc.returncode == 1 and "no such file or directory" in proc.stderr
