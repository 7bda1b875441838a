"""promspec status against a real Prometheus holding backfilled SLO series (docs/SLO.md names): the values
equal what the HTTP API returns for the same series, firing tiers come from ALERTS, errors are clear."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.parse

import pytest

from conftest import REPO, PrometheusServer, free_port, http_json, run_promspec
from ops_backfill import backfill
from ops_servers import FlakyProxy

# Every test here starts a subprocess or a server (see the `slow` marker in pyproject.toml).
pytestmark = pytest.mark.slow

SERVICES = """\
apiVersion: promspec/v1
kind: Service
metadata: {name: chat, labels: {team: inference}}
spec:
  backend: vllm
  selector: {job: vllm}
  slos:
    - {name: errors, objective: 99%, window: 30d, sli: {signal: errors}}
    - {name: ttft, objective: 99.5%, window: 7d, sli: {signal: ttft, threshold: 500ms}}
---
apiVersion: promspec/v1
kind: Service
metadata: {name: embed}
spec:
  backend: vllm
  selector: {job: embed}
  slos:
    - {name: errors, objective: 99.9%, sli: {signal: errors}}
"""
WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
# Per SLO: error ratio per window, over the period, and the budget; embed-errors has no data at all.
DATA = {
    "chat-errors": {"windows": [0.2, 0.18, 0.16, 0.02, 0.01, 0.005, 0.004], "period": 0.004, "budget": 0.01},
    "chat-ttft": {"windows": [0.001, 0.001, 0.002, 0.004, 0.006, 0.007, 0.007], "period": 0.007, "budget": 0.005},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("status")
    specs = root / "specs"
    specs.mkdir()
    shutil.copy(os.path.join(REPO, "specs", "backends", "vllm.yml"), specs)
    (specs / "services.yml").write_text(SERVICES)
    now = int(time.time()) // 15 * 15
    times = range(now - 1800, now + 1, 15)
    series = []
    for slo_id, d in DATA.items():
        service, slo = slo_id.split("-")
        labels = {"slo_id": slo_id, "slo_service": service, "slo": slo}
        for w, ratio in zip(WINDOWS, d["windows"], strict=True):
            series.append((f"slo:sli_error:ratio_rate{w}", labels, [(t, ratio) for t in times]))
        remaining = 1 - d["period"] / d["budget"]
        series += [
            ("slo:sli_error:ratio_period", labels, [(t, d["period"]) for t in times]),
            ("slo:error_budget:ratio", labels, [(t, d["budget"]) for t in times]),
            ("slo:objective:ratio", labels, [(t, 1 - d["budget"]) for t in times]),
            ("slo:period_error_budget_remaining:ratio", labels, [(t, remaining) for t in times]),
            ("slo:time_to_exhaustion:seconds", labels, [(t, 86400.0 * 3) for t in times]),
        ]
    alert = {"alertstate": "firing", "slo_service": "chat", "team": "inference"}
    series += [
        (
            "ALERTS",
            {
                **alert,
                "alertname": "ChatErrorsErrorBudgetBurn",
                "slo_id": "chat-errors",
                "slo": "errors",
                "severity": "page",
                "burn_tier": "page-fast",
            },
            [(t, 1.0) for t in times],
        ),
        (
            "ALERTS",
            {
                **alert,
                "alertname": "ChatTtftErrorBudgetExhausted",
                "slo_id": "chat-ttft",
                "slo": "ttft",
                "severity": "ticket",
            },
            [(t, 1.0) for t in times],
        ),
        (
            "ALERTS",
            {
                **alert,
                "alertstate": "pending",
                "alertname": "EmbedErrorsErrorBudgetBurn",
                "slo_id": "embed-errors",
                "severity": "page",
                "burn_tier": "page-slow",
            },
            [(t, 1.0) for t in times],
        ),
    ]
    backfill(root / "data.om", root / "tsdb", series)
    (root / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    prom = PrometheusServer(str(root / "prometheus.yml"), str(root / "tsdb"))
    yield {"specs": str(specs), "prom": prom, "time": now}
    prom.stop()


def _status(world, *args, check=0):
    return run_promspec(
        "status", world["specs"], "--prometheus", world["prom"].url, "--time", str(world["time"]), *args, check=check
    )


def _api(world, expr):
    query = urllib.parse.urlencode({"query": expr, "time": world["time"]})
    return {
        r["metric"]["slo_id"]: float(r["value"][1])
        for r in http_json(f"{world['prom'].url}/api/v1/query?{query}")["data"]["result"]
    }


def test_json_equals_the_http_api(world):
    report = json.loads(_status(world, "--output", "json").stdout)
    rows = {r["slo_id"]: r for r in report["slos"]}
    assert list(rows) == ["chat-errors", "chat-ttft", "embed-errors"]
    period = _api(world, "slo:sli_error:ratio_period")
    remaining = _api(world, "slo:period_error_budget_remaining:ratio")
    budgets = _api(world, "slo:error_budget:ratio")
    for slo_id in ("chat-errors", "chat-ttft"):
        row = rows[slo_id]
        assert row["sli"] == 1 - period[slo_id]
        assert row["error_budget_remaining"] == remaining[slo_id]
        assert row["time_to_exhaustion_seconds"] == _api(world, "slo:time_to_exhaustion:seconds")[slo_id]
        for w in WINDOWS:
            assert row["burn_rates"][w] == _api(world, f"slo:sli_error:ratio_rate{w}")[slo_id] / budgets[slo_id], w
    chat = rows["chat-errors"]
    assert chat["objective"] == "99%" and chat["window"] == "30d" and chat["service"] == "chat"
    assert chat["burn_rates"]["5m"] == pytest.approx(20) and chat["firing"] == ["page-fast"]
    tiers = {t["name"]: t for t in chat["tiers"]}
    assert tiers["page-fast"] == {
        "name": "page-fast",
        "severity": "page",
        "long_window": "1h",
        "short_window": "5m",
        "factor": 14.4,
        "firing": True,
    }
    assert tiers["ticket-slow"]["firing"] is False and tiers["ticket-slow"]["long_window"] == "3d"
    assert rows["chat-ttft"]["firing"] == ["exhausted"] and rows["chat-ttft"]["error_budget_remaining"] < 0
    # No data for embed-errors: every live value is missing, and a pending alert is not firing.
    embed = rows["embed-errors"]
    assert embed["sli"] is None and embed["burn_rates"]["1h"] is None and embed["firing"] == []


def test_table_colours_and_service_filter(world):
    plain = _status(world, "--color", "never").stdout
    lines = plain.splitlines()
    assert lines[0].split()[:6] == ["SERVICE", "SLO", "OBJECTIVE", "WINDOW", "SLI", "BUDGET"]
    assert "BURN 5m" in lines[0] and "BURN 3d" in lines[0]
    chat = next(line for line in lines if line.startswith("chat ") and " errors " in line)
    assert "99.600%" in chat and "60.0%" in chat and "20.00x" in chat and chat.endswith("page-fast")
    assert "\x1b[" not in plain
    coloured = _status(world, "--color", "always").stdout
    assert "\x1b[31m\x1b[1mpage-fast" in coloured  # a firing page tier in bold red
    only = _status(world, "--service", "embed", "--output", "json").stdout
    assert [r["slo_id"] for r in json.loads(only)["slos"]] == ["embed-errors"]
    proc = _status(world, "--service", "nosuch", check=1)
    assert "no SLOs of service nosuch in the specs (services: chat, embed)" in proc.stderr


def test_unreachable_and_failing_prometheus(world):
    url = f"http://127.0.0.1:{free_port()}"
    proc = run_promspec("status", world["specs"], "--prometheus", url, check=1)
    assert proc.stderr.startswith(f"promspec: cannot reach {url}:") and "Traceback" not in proc.stderr
    proxy = FlakyProxy(world["prom"].url)
    proxy.fail_next, proxy.fail_status = 1, 500
    try:
        proc = run_promspec("status", world["specs"], "--prometheus", proxy.url, check=1)
    finally:
        proxy.close()
    assert f"promspec: {proxy.url} answered HTTP 500 (Internal Server Error): injected by the test proxy" in proc.stderr


def test_specs_without_slos(world, tmp_path):
    (tmp_path / "t.yml").write_text("apiVersion: promspec/v1\nkind: Settings\nmetadata: {name: s}\nspec: {}\n")
    proc = run_promspec("status", str(tmp_path / "t.yml"), "--prometheus", world["prom"].url, check=1)
    assert "the specs declare no SLOs" in proc.stderr
