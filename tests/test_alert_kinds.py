"""Alert kinds (threshold, compound, anomaly, absent, capacity): compiled PromQL, generated promtool tests
that pass against the rendered rules and fail when a rule changes, and clear errors."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from conftest import run_promspec

# Every test here starts a subprocess or a server (see the `slow` marker in pyproject.toml).
pytestmark = pytest.mark.slow

CATALOG = """\
apiVersion: promspec/v1
kind: Catalog
metadata: {name: c}
spec:
  metrics:
    - {name: llm_error_ratio, type: gauge, labels: [model]}
    - {name: llm_queue, type: gauge, labels: [model]}
    - {name: llm_requests_per_second, type: gauge, labels: [model]}
    - {name: gpu_memory_used_bytes, type: gauge, labels: [gpu]}
    - {name: gpu_memory_total_bytes, type: gauge, labels: [gpu]}
    - {name: kv_cache_usage_ratio, type: gauge, labels: [model]}
  external: ["node_.*"]
---
apiVersion: promspec/v1
kind: Settings
metadata: {name: s}
spec: {evaluation_interval: 30s}
"""

KINDS = """\
apiVersion: promspec/v1
kind: AlertGroup
metadata: {name: kinds}
spec:
  labels: {team: inference}
  alerts:
    - name: ErrorRatioHigh
      kind: threshold
      metric: llm_error_ratio{model="llama"}
      operator: ">"
      value: 0.05
      for: 2m
    - name: QueueStuck
      kind: compound
      all:
        - {metric: llm_queue, operator: ">=", value: 10}
        - {metric: llm_requests_per_second, operator: "<", value: 1}
      on_labels: [model]
    - name: TrafficAnomaly
      kind: anomaly
      metric: llm_requests_per_second
      method: zscore
      threshold: 3
      min_traffic: {value: 1}
      for: 1m
    - name: TrafficDropWeekOverWeek
      kind: anomaly
      metric: llm_requests_per_second{model="llama"}
      method: week_over_week
      threshold: 0.5
      direction: down
      for: 5m
    - name: VLLMGone
      kind: absent
      job: vllm
      for: 2m
    - name: GPUMemoryFullSoon
      kind: capacity
      used: gpu_memory_used_bytes
      limit: gpu_memory_total_bytes
      within: 2h
      lookback: 30m
      for: 5m
    - name: DiskFullSoon
      kind: capacity
      free: node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"}
      within: 1d
      lookback: 1h
    - name: KVCacheFullSoon
      kind: capacity
      used: sum by (model) (kv_cache_usage_ratio)
      limit: 0.95
      within: 30m
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinds")
    specs = root / "specs"
    specs.mkdir()
    (specs / "catalog.yml").write_text(CATALOG)
    (specs / "kinds.yml").write_text(KINDS)
    run_promspec("generate", str(specs), "-o", str(root / "out"), check=0)
    return root / "out"


def _rules(out) -> dict:
    groups = yaml.safe_load((out / "rules" / "kinds.yml").read_text())["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"]}


def test_kinds_compile_to_plain_promql(rendered):
    rules = _rules(rendered)
    assert rules["ErrorRatioHigh"]["expr"] == 'llm_error_ratio{model="llama"} > 0.05'
    assert rules["ErrorRatioHigh"]["labels"] == {"severity": "warning", "team": "inference"}
    assert rules["QueueStuck"]["expr"] == "(llm_queue >= 10) and on(model) (llm_requests_per_second < 1)"
    assert rules["TrafficAnomaly"]["expr"] == (
        "(abs((llm_requests_per_second - avg_over_time(llm_requests_per_second[1w])) / "
        "stddev_over_time(llm_requests_per_second[1w])) > 3) and "
        "(avg_over_time(llm_requests_per_second[1w]) >= 1)"
    )
    assert "offset 6d23h30m" in rules["TrafficDropWeekOverWeek"]["expr"]
    assert rules["VLLMGone"]["expr"] == 'up{job="vllm"} == 0 or absent(up{job="vllm"})'
    assert rules["GPUMemoryFullSoon"]["expr"] == (
        "(gpu_memory_total_bytes - predict_linear(gpu_memory_used_bytes[30m], 0)) / "
        "deriv(gpu_memory_used_bytes[30m]) >= 0 < 7200"
    )
    # An expression (not a series) is read through a subquery; absent gets a grace period by default.
    assert "(sum by (model) (kv_cache_usage_ratio))[1h:5m]" in rules["KVCacheFullSoon"]["expr"]
    assert rules["VLLMGone"]["for"] == "2m" and "summary" in rules["VLLMGone"]["annotations"]


def test_generated_unit_tests_pass_under_promspec_check(rendered):
    tests = sorted(p.name for p in (rendered / "rules" / "tests").iterdir())
    assert tests == ["kinds.long.test.yml", "kinds.test.yml"]
    head = (rendered / "rules" / "tests" / "kinds.test.yml").read_text()
    # The alert over an expression gets no synthesised series, and the header says so.
    assert "# Not unit-tested: KVCacheFullSoon: its metric is an expression, not a series selector" in head
    names = [
        t["name"] for name in tests for t in yaml.safe_load((rendered / "rules" / "tests" / name).read_text())["tests"]
    ]
    for alert in (
        "ErrorRatioHigh",
        "QueueStuck",
        "TrafficAnomaly",
        "TrafficDropWeekOverWeek",
        "VLLMGone",
        "GPUMemoryFullSoon",
        "DiskFullSoon",
    ):
        assert any(n.startswith(alert + " fires") for n in names), alert
        assert any(n.startswith(alert + " stays quiet") for n in names), alert
    assert "TrafficAnomaly stays quiet under min_traffic" in names
    proc = run_promspec("check", str(rendered), check=0)
    assert "promtool test rules: 2 files" in proc.stderr


@pytest.mark.parametrize(
    "alert,old,new",
    [
        ("ErrorRatioHigh", "> 0.05", "> 0.1"),  # a looser threshold no longer fires at the tested value
        ("ErrorRatioHigh", "> 0.05", ">= 0.05"),  # the boundary value must stay quiet
        ("QueueStuck", " and on(model) ", " or on(model) "),
        ("TrafficAnomaly", ">= 1)", ">= 0)"),  # without the traffic guard the low-traffic case fires
        ("TrafficDropWeekOverWeek", "< -0.5", "< -0.9"),
        ("GPUMemoryFullSoon", "< 7200", "< 600"),
        ("VLLMGone", ' or absent(up{job="vllm"})', ""),
    ],
)
def test_generated_tests_fail_when_the_rule_changes(rendered, tmp_path, promtool, alert, old, new):
    out = tmp_path / "out"
    shutil.copytree(rendered / "rules", out / "rules")
    data = yaml.safe_load((rendered / "rules" / "kinds.yml").read_text())
    for rule in data["groups"][0]["rules"]:
        if rule["alert"] == alert:
            assert old in rule["expr"]
            rule["expr"] = rule["expr"].replace(old, new)
    (out / "rules" / "kinds.yml").write_text(yaml.safe_dump(data))
    test = "kinds.long.test.yml" if alert.startswith("Traffic") else "kinds.test.yml"  # anomalies: long file
    proc = subprocess.run(
        [promtool, "test", "rules", str(out / "rules" / "tests" / test)], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert alert in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "alert,fragment",
    [
        ("- {name: A, kind: threshold, metric: llm_queue, operator: '>'}", "missing required field 'value'"),
        ("- {name: A, kind: threshold, metric: llm_queue, operator: '>', value: 1, all: []}", "unknown field 'all'"),
        ("- {name: A, kind: treshold, metric: llm_queue}", "invalid value: the string 'treshold'"),
        (
            "- {name: A, kind: compound, any: [{metric: llm_queue, operator: '>', value: 1}, "
            "{metric: llm_queue, operator: '<', value: 0}], all: [{metric: llm_queue, operator: '>', value: 1}, "
            "{metric: llm_queue, operator: '<', value: 0}]}",
            "a compound alert takes all or any, not both",
        ),
        (
            "- {name: A, kind: capacity, used: gpu_memory_used_bytes, limit: 1, within: 10m, for: 10m}",
            "for: 10m is not shorter than within: 10m, so the alert could never fire",
        ),
        ("- {name: A, kind: capacity, used: gpu_memory_used_bytes, within: 10m}", "needs limit:"),
        (
            "- {name: A, kind: threshold, metric: llm_queu, operator: '>', value: 1}",
            "metric 'llm_queu' is not in any Catalog (did you mean 'llm_queue'?) at spec.alerts[0].metric",
        ),
        ("- {name: A, kind: anomaly, metric: 'llm_queue[5m]', method: zscore, threshold: 3}", "PromQL parse error"),
    ],
)
def test_bad_alert_kinds_are_clear_errors(tmp_path, alert, fragment):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "catalog.yml").write_text(CATALOG)
    (specs / "bad.yml").write_text(
        "apiVersion: promspec/v1\nkind: AlertGroup\nmetadata: {name: bad}\nspec:\n  alerts:\n    " + alert + "\n"
    )
    proc = run_promspec("generate", str(specs), "-o", str(tmp_path / "out"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith(f"{specs}/bad.yml:6:"), first
    assert fragment in first and "expected" in first
    assert not (tmp_path / "out").exists()
