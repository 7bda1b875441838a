"""Pyrra input keeps its identity: burnrate/increase series, alert names and labels, absent alerts, firing."""

from __future__ import annotations

import subprocess
import textwrap
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from promspec.diagnostics import SpecError
from promspec.pipeline import load_project
from promspec.render.outputs import render_project

from conftest import run_promspec

PYRRA = Path(__file__).parent / "fixtures" / "foreign" / "pyrra"


def _groups(*paths) -> dict:
    project, _ = load_project([str(p) for p in paths], env={})
    files = render_project(project)
    return {
        g["name"]: g
        for k, v in files.items()
        if k.startswith("rules/") and "/tests/" not in k
        for g in yaml.safe_load(v)["groups"]
    }


def _write(tmp_path, body: str, name: str = "pyrra.yml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_a_ratio_objective_renders_pyrras_series_alerts_and_labels():
    groups = _groups(PYRRA / "api-errors.yml")
    assert list(groups) == ["api-errors-increase", "api-errors", "api-errors-alerts", "api-errors-increase-alerts"]
    (increase,) = groups["api-errors-increase"]["rules"]
    assert increase == {
        "record": "shop_api_requests:increase4w",
        "expr": 'sum by (code, route) (increase(shop_api_requests_total{job="api"}[4w]))',
        "labels": {"slo": "api-errors", "team": "storefront", "job": "api"},
    }
    assert groups["api-errors-increase"]["interval"] == "2m30s"
    burnrates = groups["api-errors"]["rules"]
    assert [r["record"] for r in burnrates] == [
        f"shop_api_requests:burnrate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "4d")
    ]
    assert burnrates[0]["expr"] == (
        'sum by (route) (rate(shop_api_requests_total{job="api",code=~"5.."}[5m])) / '
        'sum by (route) (rate(shop_api_requests_total{job="api"}[5m]))'
    )
    alerts = groups["api-errors-alerts"]["rules"]
    # Pyrra's 4-week table: (short, long, factor, for, severity, exhaustion).
    assert [
        (
            a["alert"],
            a["labels"]["short"],
            a["labels"]["long"],
            a["for"],
            a["labels"]["severity"],
            a["labels"]["exhaustion"],
        )
        for a in alerts
    ] == [
        ("ApiErrorBudgetBurn", "5m", "1h", "2m", "critical", "2d"),
        ("ApiErrorBudgetBurn", "30m", "6h", "15m", "critical", "4d"),
        ("ApiErrorBudgetBurn", "2h", "1d", "1h", "warning", "2w"),
        ("ApiErrorBudgetBurn", "6h", "4d", "3h", "warning", "4w"),
    ]
    assert alerts[0]["expr"] == (
        'shop_api_requests:burnrate5m{job="api",slo="api-errors"} > (14 * (1-0.995)) and '
        'shop_api_requests:burnrate1h{job="api",slo="api-errors"} > (14 * (1-0.995))'
    )
    assert {k: v for k, v in alerts[0]["labels"].items() if k not in ("short", "long", "exhaustion")} == {
        "severity": "critical",
        "slo": "api-errors",
        "team": "storefront",
        "job": "api",
    }
    assert alerts[0]["annotations"] == {"runbook": "https://runbooks.example.test/api"}
    (absent,) = groups["api-errors-increase-alerts"]["rules"]
    assert (absent["alert"], absent["expr"], absent["for"]) == (
        "SLOMetricAbsent",
        'absent(shop_api_requests_total{job="api"}) == 1',
        "2m",
    )


def test_latency_native_bool_gauge_and_disabled_alerting():
    groups = _groups(PYRRA / "latency.yml")
    assert "checkout-latency-increase-alerts" not in groups  # absent: false
    increase = groups["checkout-latency-increase"]["rules"]
    assert [(r["record"], r["labels"].get("le")) for r in increase] == [
        ("shop_checkout_seconds:increase2w", None),
        ("shop_checkout_seconds:increase2w", "0.5"),
    ]
    # 2w scales Pyrra's 28-day table by half: 5m -> 3m (rounded to the minute), 1h -> 30m.
    first = groups["checkout-latency-alerts"]["rules"][0]
    assert (first["labels"]["short"], first["labels"]["long"], first["for"]) == ("3m", "30m", "1m")
    native = groups["search-latency-native"]["rules"][0]
    assert native["expr"] == '1 - histogram_fraction(0, 0.3, sum(rate(shop_search_seconds{job="search"}[5m])))'
    assert "probes-alerts" not in groups and "probes-increase-alerts" not in groups  # alerting.disabled
    assert groups["probes"]["rules"][0]["record"] == "probe_success:burnrate5m"


@pytest.mark.slow
def test_import_pyrra_renders_the_same_groups(tmp_path):
    out = tmp_path / "imported.yml"
    proc = run_promspec("import", "pyrra", str(PYRRA / "api-errors.yml"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "kind: Catalog" in out.read_text()
    assert _groups(out) == _groups(PYRRA / "api-errors.yml")
    proc = run_promspec("import", "pyrra", "--conventions", "promspec", str(PYRRA / "api-errors.yml"))
    assert proc.returncode == 1 and "applies to Sloth input" in proc.stderr


@pytest.mark.parametrize(
    ("field", "value", "message", "where"),
    [
        ("target", '"abc"', "target 'abc' is not a percentage below 100", "pyrra.yml:5:11"),
        ("metric", "sum(rate(x[5m]))", "is not a series selector", "pyrra.yml:10:17"),
    ],
)
@pytest.mark.slow
def test_bad_input_is_an_error_at_its_position(tmp_path, field, value, message, where):
    target = value if field == "target" else '"99"'
    metric = value if field == "metric" else "x_total"
    path = _write(
        tmp_path,
        f"""\
        apiVersion: pyrra.dev/v1alpha1
        kind: ServiceLevelObjective
        metadata: {{name: x}}
        spec:
          target: {target}
          window: 4w
          indicator:
            ratio:
              errors:
                metric: {metric}
              total: {{metric: x_total}}
        """,
    )
    with pytest.raises(SpecError) as exc:
        load_project([path], env={})
    (error,) = exc.value.diagnostics
    assert message in error.message and str(error.pos).endswith(where)
    out = tmp_path / "out.yml"
    proc = run_promspec("import", "pyrra", path, "-o", str(out))
    assert proc.returncode == 1 and not out.exists() and "Traceback" not in proc.stderr


# Pyrra's alert table for a 4-week window, from its documentation and sources: (short, long, factor, for),
# in minutes.
PYRRA_4W = ((5, 60, 14, 2), (30, 360, 7, 15), (120, 1440, 2, 60), (360, 5760, 1, 180))
START, MINUTES, TOTAL_PER_MIN, ERRORS_PER_MIN = 120, 200, 1000, 200
E0, T0 = 10**6, 10**9  # large counter offsets: rate() never clamps its extrapolation at zero


@pytest.mark.slow
def test_pyrra_alerts_fire_in_the_minute_pyrras_rules_would(tmp_path, promtool):
    """Pyrra (Go) cannot run here: the expected minutes come from _expected_firing (exact counts with
    Pyrra's documented windows, factors and `for`), and promtool runs promspec's rules on the same counters."""
    out = tmp_path / "out"
    run_promspec("generate", str(PYRRA / "api-errors.yml"), "-o", str(out), check=0)
    errors = f"{E0}x{START - 1} {E0}+{ERRORS_PER_MIN}x{MINUTES - START}"
    series = {
        'shop_api_requests_total{job="api",route="/cart",code="200"}': f"{T0}+{TOTAL_PER_MIN}x{MINUTES}",
        'shop_api_requests_total{job="api",route="/cart",code="500"}': errors,
    }
    # total = the 200s + the 500s: the selector job="api" reads both.
    firing = {(short, long): _expected_firing(short, long, factor, wait) for short, long, factor, wait in PYRRA_4W}
    labels = {"slo": "api-errors", "team": "storefront", "job": "api", "route": "/cart"}
    table = {
        (5, 60): ("5m", "1h", "critical", "2d"),
        (30, 360): ("30m", "6h", "critical", "4d"),
        (120, 1440): ("2h", "1d", "warning", "2w"),
        (360, 5760): ("6h", "4d", "warning", "4w"),
    }

    def alert(key) -> dict:
        short, long, severity, exhaustion = table[key]
        return {
            "exp_labels": {**labels, "short": short, "long": long, "severity": severity, "exhaustion": exhaustion},
            "exp_annotations": {"runbook": "https://runbooks.example.test/api"},
        }

    minutes = sorted({m + d for m in firing.values() if m < MINUTES for d in (-1, 0)})
    assert len(minutes) >= 4  # at least two alerts fire within the run
    checks = [
        {
            "eval_time": f"{t}m",
            "alertname": "ApiErrorBudgetBurn",
            "exp_alerts": [alert(k) for k, m in firing.items() if m <= t],
        }
        for t in minutes
    ]
    order = ["api-errors-increase", "api-errors", "api-errors-alerts", "api-errors-increase-alerts"]
    spec = {
        "rule_files": [str(out / "rules" / "api-errors.yml")],
        "evaluation_interval": "1m",
        "group_eval_order": order,
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series.items()],
                "alert_rule_test": checks,
            }
        ],
    }
    test_file = tmp_path / "pyrra.test.yml"
    test_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    proc = subprocess.run(
        [promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _expected_firing(short: int, long: int, factor: int, wait: int) -> int:
    """The minute an alert fires: the first minute both windows burn over factor x budget, plus its `for`.

    Samples one minute apart with shared timestamps: each window's ratio is exactly the ratio of the
    events between its first and last sample (errors over errors + successes), clipped at the first
    sample. Budget 0.5% (target 99.5)."""

    def errors(t):
        return ERRORS_PER_MIN * max(0, t - START)

    def ratio(t, w):
        first = max(0, t - w + 1)
        total = TOTAL_PER_MIN * (t - first) + errors(t) - errors(first)
        return Fraction(errors(t) - errors(first), total)

    threshold = factor * Fraction(5, 1000)
    for t in range(1, MINUTES):
        if ratio(t, short) > threshold and ratio(t, long) > threshold:
            return t + wait
    return MINUTES * 10  # does not fire within the run


def test_fields_promspec_does_not_implement_are_warnings(tmp_path):
    body = (
        (PYRRA / "api-errors.yml")
        .read_text()
        .replace("  window: 4w\n", "  window: 4w\n  performanceOverAccuracy: true\n")
    )
    _project, report = load_project([_write(tmp_path, body)], env={})
    (warning,) = [w for w in report.warnings if "performanceOverAccuracy" in w.message]
    assert str(warning.pos).endswith("pyrra.yml:15:3") and "not implemented" in warning.message
