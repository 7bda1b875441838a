"""What the bundled dashboards show during a known incident: the value (evaluated by real promtool) and the
colour and text (picked by the preview renderer from the panel's thresholds and unit) of the panels an
on-call engineer reads first. Expected values are worked out here, by hand, from the incident."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from promspec.preview.html import _threshold_color, format_value, page
from promspec.preview.render import grafana_to_promql

from conftest import REPO, require_tool

DASHBOARDS = os.path.join(REPO, "dashboards")
RED, ORANGE, GREEN = "#f2495c", "#ff9830", "#73bf69"


def _dashboards() -> dict:
    out = {}
    for path in sorted(glob.glob(os.path.join(DASHBOARDS, "**", "*.json"), recursive=True)):
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        out[data["uid"]] = data
    return out


DASHES = _dashboards()


def _panels(dash: dict):
    for p in dash["panels"]:
        yield p
        yield from p.get("panels") or []


def _panel(uid: str, title: str, nth: int = 0) -> dict:
    found = [p for p in _panels(DASHES[uid]) if p.get("title") == title]
    return found[nth]


def _colour(panel: dict, value: float) -> str:
    return _threshold_color(panel, value)


def _slo(uid: str) -> tuple[Decimal, list]:
    """(objective, tier factors) of a bundled SLO, read from its spec, not from the dashboard."""
    service, name = re.fullmatch(r"slo-(.+)-([a-z0-9]+)", uid).groups()
    for path in glob.glob(os.path.join(REPO, "specs", "services", "*.yml")):
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
        if doc["metadata"]["name"] == service:
            slo = next(s for s in doc["spec"]["slos"] if s["name"] == name)
            return Decimal(slo["objective"].rstrip("%")) / 100, slo
    raise AssertionError(uid)


def test_colour_oracle_is_the_preview():
    # The palette constants above are the preview's: a renamed colour would make every test below vacuous.
    panel = {
        "fieldConfig": {
            "defaults": {
                "thresholds": {
                    "steps": [
                        {"value": None, "color": "red"},
                        {"value": 1, "color": "orange"},
                        {"value": 2, "color": "green"},
                    ]
                }
            }
        }
    }
    assert [_colour(panel, v) for v in (0, 1, 2)] == [RED, ORANGE, GREEN]


# ------------------------------------------------------------------------------ SLO in breach


@pytest.mark.parametrize("uid", sorted(u for u in DASHES if u.startswith("slo-") and u != "slo-overview"))
def test_slo_breach_is_red_and_near_breach_amber(uid):
    objective, _spec = _slo(uid)
    budget = 1 - objective
    sli = _panel(uid, "SLI (period)")
    # The incident of the issue: SLI 85.8% against 99%, budget -1323%, 0 s to exhaustion.
    assert _colour(sli, float(objective - budget * Decimal("14.23"))) == RED
    assert _colour(sli, float(objective) - 1e-9) == RED
    # Met, but with a tenth of the budget left: near breach.
    assert _colour(sli, float(1 - budget * Decimal("0.9"))) == ORANGE
    assert _colour(sli, float(1 - budget * Decimal("0.5"))) == GREEN
    for title, nth in (("Error budget remaining", 0), ("Error budget remaining", 1)):
        panel = _panel(uid, title, nth)
        assert _colour(panel, -13.23) == RED
        assert _colour(panel, 0.1) == ORANGE
        assert _colour(panel, 0.6) == GREEN
    exhaustion = _panel(uid, "Time to exhaustion")
    assert _colour(exhaustion, 0) == RED
    assert _colour(exhaustion, 3600) == RED  # gone within the hour: faster than any page tier allows
    assert _colour(exhaustion, 40 * 86400) == GREEN  # outlives the 30-day window


@pytest.mark.parametrize("uid", sorted(u for u in DASHES if u.startswith("slo-") and u != "slo-overview"))
def test_slo_burn_rate_colours_follow_the_tiers(uid):
    burn = _panel(uid, "Burn rate (1h)")
    # The bundled SLOs keep the SRE Workbook tiers over 30d: page at 14.4x, the slowest ticket tier at 1x.
    assert _colour(burn, 14.4) == RED
    assert _colour(burn, 14.3) == ORANGE
    assert _colour(burn, 0.5) == GREEN
    assert format_value(14.4, burn["fieldConfig"]["defaults"]["unit"], 2) == "14.40 x"


def test_slo_overview_shows_burn_as_a_factor_not_a_percentage():
    table = _panel("slo-overview", "SLOs")
    overrides = {
        o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
        for o in table["fieldConfig"]["overrides"]
    }
    renamed = next(t for t in table["transformations"] if t["id"] == "organize")["options"]["renameByName"]
    unit = overrides[renamed["Value #D"]]["unit"]
    assert "%" not in format_value(14.4, unit) and format_value(14.4, unit).endswith("x")
    for title in ("Burn rate (1h)", "Burn rate (period)"):
        assert format_value(14.4, _panel("slo-overview", title)["fieldConfig"]["defaults"]["unit"]) == "14.4 x"
    budget = _panel("slo-overview", "Error budget remaining")
    assert _colour(budget, -13.23) == RED


# ------------------------------------------------------------------------------ thresholds drawn, links, TTFT


def test_time_series_panels_draw_their_thresholds():
    missing = []
    for uid, dash in DASHES.items():
        for p in _panels(dash):
            if p.get("type") != "timeseries":
                continue
            steps = p["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
            if len(steps) < 2:
                continue
            style = p["fieldConfig"]["defaults"].get("custom", {}).get("thresholdsStyle", {}).get("mode", "off")
            if style == "off":
                missing.append(f"{uid}: {p['title']}")
    assert not missing
    # The panels the issue names draw theirs.
    for uid, title in (
        ("gpu-fleet", "Temperature: hottest 10 GPUs"),
        ("llm-engine-vllm", "KV-cache usage by instance"),
        ("llm-engine-vllm", "Error ratio by model"),
        ("slo-chat-vllm-ttft", "Burn rate by window"),
    ):
        assert _panel(uid, title)["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"
    burn = _panel("slo-chat-vllm-ttft", "Burn rate by window")
    assert 14.4 in [s["value"] for s in burn["fieldConfig"]["defaults"]["thresholds"]["steps"]]


def test_links_are_visible_and_carry_only_the_data_source():
    for uid, dash in DASHES.items():
        for link in dash.get("links") or []:
            assert "placement" not in link, (uid, link)  # absent: Grafana shows links in the top bar
            assert link["includeVars"] is False, (uid, link)
            if link["url"].startswith("/d/"):
                target = urlsplit(link["url"]).path.split("/")[2]
                assert target in DASHES, (uid, link)
                carried = set(
                    parse_qs(urlsplit(link["url"]).query.replace("${datasource:queryparam}", "var-datasource=x"))
                )
                assert carried == {"var-datasource"}, (uid, link)
                names = {v["name"] for v in DASHES[target]["templating"]["list"]}
                assert "datasource" in names
                assert link["keepTime"] is True


def test_engine_ttft_stat_is_coloured_at_the_service_slo_threshold():
    with open(os.path.join(REPO, "specs", "services", "vllm.yml"), encoding="utf-8") as fh:
        spec = yaml.safe_load(fh)["spec"]
    threshold = next(s["sli"]["threshold"] for s in spec["slos"] if s["sli"].get("signal") == "ttft")
    assert threshold == "500ms"
    stat = _panel("llm-service-chat-vllm", "TTFT p95")
    assert _colour(stat, 0.45) == GREEN
    assert _colour(stat, 0.6) == RED  # over the SLO's 500 ms: before, 1 s / 5 s called this green
    # An engine dashboard without a service keeps the generic colours.
    assert _colour(_panel("llm-engine-vllm", "TTFT p95"), 0.6) == GREEN


def test_preview_variable_chip_is_not_cut_inside_an_entity():
    dash = {
        "title": "t",
        "uid": "t",
        "panels": [],
        "templating": {
            "list": [
                {
                    "name": "model",
                    "definition": 'label_values(vllm:num_requests_running{job=~"$job", '
                    'instance=~"$instance"}, model_name)',
                }
            ]
        },
    }
    text, _height = page(dash)
    chip = re.search(r"<span>\$model = (.*?)</span>", text).group(1)
    assert not re.search(r"&[a-z]*$", chip.rstrip("…")), chip
    assert chip.startswith("label_values(vllm:num_requests_running{job=~&quot;$job&quot;")


# ------------------------------------------------------------------------------ values, by real promtool


def _target(uid: str, title: str) -> str:
    return _panel(uid, title)["targets"][0]["expr"]


def _promtool(tmp_path, tests: list, rule_files: list = ()) -> subprocess.CompletedProcess:
    promtool = require_tool("promtool")
    path = tmp_path / "values.test.yml"
    path.write_text(
        yaml.safe_dump({"rule_files": list(rule_files), "evaluation_interval": "1m", "tests": tests}, sort_keys=False)
    )
    return subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_xid_panels_count_the_first_error_of_a_gpu(tmp_path):
    # GPU 3 of gpu-1 reports XID 79 at minute 20: its counter series appears at 1 and stays there.
    # The preview's substitution (step 30 s over 1 h: $__rate_interval = 60s, $__range = 3600s) is Grafana's.
    labels = 'instance="gpu-1:9400", job="gpu", gpu="3", uuid="GPU-3", name="H100", pci_bus_id="0", xid="79"'
    series = [
        {"series": f"promspec_gpu_xid_errors_total{{{labels}}}", "values": "_x20 1x40"},
        {"series": 'promspec_gpu_up{instance="gpu-1:9400", job="gpu", gpu="3", uuid="GPU-3"}', "values": "1x60"},
    ]
    stat = grafana_to_promql(_target("gpu-fleet", "XID errors (range)"), 30, 3600)
    graph = grafana_to_promql(_target("gpu-fleet", "XID errors"), 30, 3600)
    assert "[60s]" in graph and "[3600s]" in stat
    tests = [
        {
            "name": "first XID of a GPU",
            "interval": "1m",
            "input_series": series,
            "promql_expr_test": [
                # Over the last hour, one XID happened.
                {"expr": stat, "eval_time": "60m", "exp_samples": [{"labels": "{}", "value": 1}]},
                # The graph shows it in the minute it happened, and nothing later.
                {
                    "expr": graph,
                    "eval_time": "20m",
                    "exp_samples": [{"labels": '{instance="gpu-1:9400", gpu="3", xid="79"}', "value": 1}],
                },
                {
                    "expr": graph,
                    "eval_time": "40m",
                    "exp_samples": [{"labels": '{instance="gpu-1:9400", gpu="3", xid="79"}', "value": 0}],
                },
                # ... while the alert it sits next to fires.
                {
                    "expr": 'count(ALERTS{alertname="GPUXidErrors", alertstate="firing"})',
                    "eval_time": "21m",
                    "exp_samples": [{"labels": "{}", "value": 1}],
                },
            ],
        }
    ]
    result = _promtool(tmp_path, tests, [os.path.join(REPO, "rules", "gpu.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert _colour(_panel("gpu-fleet", "XID errors (range)"), 1) == RED


@pytest.mark.slow
def test_cpu_by_mode_is_a_share_of_each_host(tmp_path):
    # Two 2-core hosts, each core 50% user and 20% system: each host shows user 0.5 and system 0.2 of its CPUs,
    # not 2 (user summed over 4 cores on 2 hosts).
    series = []
    for host in ("h1:9100", "h2:9100"):
        for cpu in ("0", "1"):
            for mode, per_min in (("user", 30), ("system", 12), ("idle", 18)):
                series.append(
                    {
                        "series": f'node_cpu_seconds_total{{instance="{host}", job="node", cpu="{cpu}", '
                        f'mode="{mode}"}}',
                        "values": f"0+{per_min}x30",
                    }
                )
    expr = grafana_to_promql(_target("host-overview", "CPU by mode"), 30, 3600)
    samples = [
        {"labels": f'{{instance="{h}", mode="{m}"}}', "value": v}
        for h in ("h1:9100", "h2:9100")
        for m, v in (("user", 0.5), ("system", 0.2))
    ]
    tests = [
        {
            "name": "cpu by mode",
            "interval": "1m",
            "input_series": series,
            "promql_expr_test": [{"expr": expr, "eval_time": "20m", "exp_samples": samples}],
        }
    ]
    result = _promtool(tmp_path, tests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _panel("host-overview", "CPU by mode")["fieldConfig"]["defaults"]["unit"] == "percentunit"


def test_host_overview_reads_one_exporter_per_host():
    # The bundled targets scrape node_exporter (node, :9100) and promspec-exporter (:19400) on the same host:
    # both export node_cpu_seconds_total, so every host would appear twice with the job at All.
    with open(os.path.join(REPO, "specs", "targets.yml"), encoding="utf-8") as fh:
        jobs = {j["name"] for j in yaml.safe_load(fh)["spec"]["jobs"]}
    assert {"node", "promspec-exporter"} <= jobs
    job = next(v for v in DASHES["host-overview"]["templating"]["list"] if v["name"] == "job")
    assert job["multi"] is False and job["includeAll"] is False


def test_preview_draws_the_thresholds_a_time_series_shows():
    # KV cache at 0.97 on one replica: the graph of usage by instance carries the 0.8 and 0.95 lines.
    from promspec.preview.html import _panel_body

    panel = _panel("llm-engine-vllm", "KV-cache usage by instance")
    series = {
        t["refId"]: [{"metric": {"instance": "a", "model_name": "m"}, "values": [(0, 0.5), (60, 0.97)]}]
        for t in panel["targets"]
    }
    body = _panel_body(panel, series, 600, 300)
    assert body.count('class="threshold"') == 2
    assert f'stroke="{RED}" stroke-dasharray' in body and f'stroke="{ORANGE}" stroke-dasharray' in body
