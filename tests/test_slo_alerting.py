"""SLO alerting against the SRE Workbook, computed independently of promspec's rule generator.

A service burns its budget at a known error ratio from a known minute. For each tier, plain
arithmetic over exact event counts (bad events / all events in the window, as the Workbook
defines the error ratio) predicts the minute the alert must fire; the generated rules, run by
promtool on raw counters, must agree within one 5m rate window.
"""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest
import yaml

from conftest import REPO, require_tool, run_promspec

# Every test here starts a subprocess or a server (see the `slow` marker in pyproject.toml).
pytestmark = pytest.mark.slow

STEP_MIN = 1
BASELINE_MIN = 180
BURN_MIN = 420
RATE = 10.0  # requests per second
ERROR_SHARE = 0.288  # 2x the page-fast threshold of a 99% SLO (14.4 x 1%)
TIERS = {  # name: (long window, short window, burn factor), for a 30d window
    "page-fast": (60, 5, 14.4),
    "page-slow": (360, 30, 6.0),
    "ticket-fast": (1440, 120, 3.0),
    "ticket-slow": (4320, 360, 1.0),
}
TOLERANCE_MIN = 6  # one 5m rate window and one evaluation step


def counters():
    """Cumulative good and bad request counts at each minute."""
    good, bad, out = 0.0, 0.0, []
    for minute in range(BASELINE_MIN + BURN_MIN + 1):
        out.append((good, bad))
        share = ERROR_SHARE if minute >= BASELINE_MIN else 0.0
        good += 60 * RATE * (1 - share)
        bad += 60 * RATE * share
    return out


def workbook_ratio(series, minute: int, window: int) -> float:
    start = max(0, minute - window)
    (g0, b0), (g1, b1) = series[start], series[minute]
    total = (g1 - g0) + (b1 - b0)
    return (b1 - b0) / total if total else 0.0


def predicted_fire_minute(series, long: int, short: int, factor: float) -> int:
    threshold = factor * 0.01
    for minute in range(len(series)):
        if workbook_ratio(series, minute, long) > threshold and workbook_ratio(series, minute, short) > threshold:
            return minute
    raise AssertionError("never fires")


def _values(xs) -> str:
    return " ".join(repr(round(x, 6)) for x in xs)


def test_generated_alerts_fire_when_the_workbook_says(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "svc.yml").write_text(
        textwrap.dedent("""\
        apiVersion: promspec/v1
        kind: Service
        metadata: {name: svc, labels: {team: t}}
        spec:
          backend: engine
          selector: {job: svc}
          slos:
            - name: avail
              objective: 99%
              window: 30d
              sli: {signal: errors}
        """)
    )
    out = tmp_path / "out"
    run_promspec("generate", os.path.join(REPO, "tests", "fixtures", "base"), str(specs), "-o", str(out), check=0)
    series = counters()
    predicted = {tier: predicted_fire_minute(series, *params) for tier, params in TIERS.items()}
    assert predicted["page-fast"] == BASELINE_MIN + 30  # the Workbook: 2x the burn threshold halves the window

    checks = []
    for tier, minute in predicted.items():
        alert = f'ALERTS{{alertname="SvcAvailErrorBudgetBurn",burn_tier="{tier}",alertstate="firing"}}'
        labels = (
            f'ALERTS{{alertname="SvcAvailErrorBudgetBurn",alertstate="firing",burn_tier="{tier}",'
            f'severity="{"page" if tier.startswith("page") else "ticket"}",slo="avail",slo_id="svc-avail",'
            f'slo_service="svc",team="t"}}'
        )
        checks.append({"expr": alert, "eval_time": f"{minute - TOLERANCE_MIN}m", "exp_samples": []})
        checks.append(
            {"expr": alert, "eval_time": f"{minute + TOLERANCE_MIN}m", "exp_samples": [{"labels": labels, "value": 1}]}
        )
    rule_file = next(p for p in os.listdir(out / "rules") if p.endswith("svc.yml"))
    groups = [g["name"] for g in yaml.safe_load((out / "rules" / rule_file).read_text())["groups"]]
    test = {
        "rule_files": [f"../{rule_file}"],
        "evaluation_interval": "1m",
        "group_eval_order": groups,
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'engine:requests_total{job="svc",finished_reason="stop"}',
                        "values": _values(g for g, _b in series),
                    },
                    {
                        "series": 'engine:requests_total{job="svc",finished_reason="error"}',
                        "values": _values(b for _g, b in series),
                    },
                ],
                "promql_expr_test": checks,
            }
        ],
    }
    path = out / "rules" / "tests" / "workbook.test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    proc = subprocess.run([require_tool("promtool"), "test", "rules", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
