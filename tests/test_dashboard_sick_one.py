"""Find the sick one (issue 12): replicas up, worst-replica views, GPU hotspots, throttled GPUs, lost exporters.

JSON-level checks of the bundled dashboards, and promtool evaluating the rendered panel queries on injected
series: the replica or GPU a panel names is the one the series make sick (worked out here, by hand)."""

from __future__ import annotations

import pytest

from promspec.preview.render import grafana_to_promql
from test_dashboard_values import DASHES, GREEN, RED, _colour, _panel, _promtool

ENGINE, SERVICE, GPU = "llm-engine-vllm", "llm-service-chat-vllm", "gpu-fleet"


def _exprs(uid: str, title: str) -> list[str]:
    return [t["expr"] for t in _panel(uid, title)["targets"]]


@pytest.mark.parametrize("uid", [ENGINE, SERVICE])
def test_llm_replicas_and_worst_replica_panels(uid):
    up, total = _exprs(uid, "Replicas up")
    assert up.startswith("count((") and ") == 1) or vector(0)" in up and "up{" in up
    assert total.startswith("count(") and "up{" in total
    down = _panel(uid, "Replicas down")
    assert down["type"] == "stat" and _colour(down, 1) == RED and _colour(down, 0) == GREEN
    for title, unit in (
        ("TTFT p95: worst 5 replicas", "s"),
        ("Waiting requests: worst 5 replicas", "short"),
        ("Error ratio: worst 5 replicas", "percentunit"),
    ):
        panel = _panel(uid, title)
        assert panel["fieldConfig"]["defaults"]["unit"] == unit
        (expr,) = _exprs(uid, title)
        assert expr.startswith("topk(5,") and "by (instance" in expr.replace("by (le, instance", "by (instance")
        assert panel["targets"][0]["legendFormat"] == "{{instance}}"
    assert _colour(_panel(uid, "Error ratio: worst 5 replicas"), 0.06) == RED
    # The service dashboard counts its own job's targets, not every target Prometheus scrapes.
    if uid == SERVICE:
        assert 'up{job="vllm"' in up


def test_gpu_fleet_hotspots_throttle_table_and_lost_exporters():
    titles = {p["title"] for p in DASHES[GPU]["panels"]} | {
        q["title"] for p in DASHES[GPU]["panels"] for q in p.get("panels") or []
    }
    assert "Temperature" not in titles and "Throttle reasons" not in titles  # one line per GPU: gone
    hot = _panel(GPU, "Temperature: hottest 10 GPUs")
    assert hot["targets"][0]["expr"].startswith("topk(10, max by (instance, gpu)")
    assert hot["fieldConfig"]["defaults"]["unit"] == "celsius" and _colour(hot, 91) == RED
    mem = _panel(GPU, "Memory used share: top 10 GPUs")
    assert mem["targets"][0]["expr"].startswith("topk(10,") and mem["fieldConfig"]["defaults"]["unit"] == "percentunit"
    for title in ("Most XID errors (range): top 10 GPUs", "Most ECC errors (range): top 10 GPUs"):
        panel = _panel(GPU, title)
        assert panel["type"] == "bargauge" and panel["targets"][0]["instant"] is True
        assert "[$__range]" in panel["targets"][0]["expr"] and _colour(panel, 1) == RED
    table = _panel(GPU, "GPUs throttled now")
    assert table["type"] == "table"
    target = table["targets"][0]
    assert target["instant"] is True and target["format"] == "table"
    assert target["expr"].startswith("max by (instance, gpu, reason)") and target["expr"].endswith("== 1")
    lost = _panel(GPU, "Exporters lost")
    assert "up{" in lost["targets"][0]["expr"] and "== 0" in lost["targets"][0]["expr"]
    assert _colour(lost, 1) == RED and _colour(lost, 0) == GREEN


def _run(tmp_path, series: list, checks: list) -> None:
    tests = [{"name": "sick one", "interval": "1m", "input_series": series, "promql_expr_test": checks}]
    result = _promtool(tmp_path, tests)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_worst_replicas_name_the_sick_replica_and_replicas_count_the_dead_one(tmp_path):
    # Four vLLM replicas of job vllm; r3 queues 40 requests and fails 20% of them, r4 is dead (up 0, no series).
    # A node_exporter target that is down too belongs to another job and must not count.
    series = [{"series": 'up{job="node", instance="n1:9100"}', "values": "0x30"}]
    for r, waiting, errors in (("r1", 1, 0), ("r2", 2, 0), ("r3", 40, 12)):
        base = f'job="vllm", instance="{r}:8000", model_name="m"'
        series += [
            {"series": f'up{{job="vllm", instance="{r}:8000"}}', "values": "1x30"},
            {"series": f"vllm:num_requests_waiting{{{base}}}", "values": f"{waiting}x30"},
            {
                "series": f'vllm:request_success_total{{{base}, finished_reason="stop"}}',
                "values": f"0+{60 - errors}x30",
            },
            {"series": f'vllm:request_success_total{{{base}, finished_reason="error"}}', "values": f"0+{errors}x30"},
        ]
    series.append({"series": 'up{job="vllm", instance="r4:8000"}', "values": "0x30"})

    def q(title: str, n: int = 0) -> str:
        return grafana_to_promql(_exprs(ENGINE, title)[n], 30, 3600)

    worst_waiting = [{"labels": f'{{instance="{r}:8000"}}', "value": v} for r, v in (("r1", 1), ("r2", 2), ("r3", 40))]
    _run(
        tmp_path,
        series,
        [
            {"expr": q("Replicas up"), "eval_time": "20m", "exp_samples": [{"labels": "{}", "value": 3}]},
            {"expr": q("Replicas up", 1), "eval_time": "20m", "exp_samples": [{"labels": "{}", "value": 4}]},
            {"expr": q("Replicas down"), "eval_time": "20m", "exp_samples": [{"labels": "{}", "value": 1}]},
            {"expr": q("Waiting requests: worst 5 replicas"), "eval_time": "20m", "exp_samples": worst_waiting},
            # The error ratio of the sick replica is 12/60; the healthy ones show 0.
            {
                "expr": f"topk(1, {q('Error ratio: worst 5 replicas')})",
                "eval_time": "20m",
                "exp_samples": [{"labels": '{instance="r3:8000"}', "value": 0.2}],
            },
        ],
    )


@pytest.mark.slow
def test_gpu_hotspots_name_the_hottest_gpu_and_the_throttled_one(tmp_path):
    # Two hosts of 6 GPUs at 50..61 °C, one GPU at 95 °C and thermally throttled; another is merely idle.
    # A third host's exporter is dead: up 0, no GPU series. A node_exporter target down too does not count.
    series = [
        {"series": 'up{job="gpu", instance="h1:9400"}', "values": "1x30"},
        {"series": 'up{job="gpu", instance="h2:9400"}', "values": "1x30"},
        {"series": 'up{job="gpu", instance="h3:9400"}', "values": "0x30"},
        {"series": 'up{job="node", instance="h1:9100"}', "values": "0x30"},
        # A job whose only exporter died at minute 10: its GPU series stop, and it must still count as lost.
        {"series": 'up{job="gpu-b", instance="h9:9400"}', "values": "1x10 0x20"},
        {"series": 'promspec_gpu_up{job="gpu-b", instance="h9:9400", gpu="0", uuid="GPU-b0"}', "values": "1x10"},
    ]
    temps = {}
    for i in range(12):
        host, gpu = f"h{1 + i // 6}:9400", str(i % 6)
        temps[(host, gpu)] = 95 if (host, gpu) == ("h2:9400", "4") else 50 + i
        labels = f'job="gpu", instance="{host}", gpu="{gpu}", uuid="GPU-{i}"'
        series += [
            {"series": f"promspec_gpu_up{{{labels}}}", "values": "1x30"},
            {"series": f"promspec_gpu_temperature_celsius{{{labels}}}", "values": f"{temps[(host, gpu)]}x30"},
        ]
        for reason in ("gpu_idle", "hw_thermal_slowdown", "sw_power_cap"):
            on = (reason == "hw_thermal_slowdown" and temps[(host, gpu)] == 95) or (reason == "gpu_idle" and i == 0)
            series.append(
                {
                    "series": f'promspec_gpu_clock_event_active{{{labels}, reason="{reason}"}}',
                    "values": f"{int(on)}x30",
                }
            )
    hottest = sorted(temps.items(), key=lambda kv: -kv[1])[:10]
    assert hottest[0] == (("h2:9400", "4"), 95)

    def q(title: str) -> str:
        return grafana_to_promql(_panel(GPU, title)["targets"][0]["expr"], 30, 3600)

    _run(
        tmp_path,
        series,
        [
            {
                "expr": q("Temperature: hottest 10 GPUs"),
                "eval_time": "20m",
                "exp_samples": [{"labels": f'{{instance="{h}", gpu="{g}"}}', "value": t} for (h, g), t in hottest],
            },
            {
                "expr": q("GPUs throttled now"),
                "eval_time": "20m",
                "exp_samples": [{"labels": '{instance="h2:9400", gpu="4", reason="hw_thermal_slowdown"}', "value": 1}],
            },
            {"expr": q("Exporters lost"), "eval_time": "20m", "exp_samples": [{"labels": "{}", "value": 2}]},
        ],
    )
