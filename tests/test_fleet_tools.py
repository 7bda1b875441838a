"""Rendered fleet/ files through the real tools: promtool (configs, rules, a unit test of the silent-cluster
guard and of events-weighting), vmalert -dryRun for every backend's global rule groups (issue 16)."""

from __future__ import annotations

import glob
import os
import subprocess

import pytest
import yaml

from conftest import REPO, promspec_in_process, require_tool

pytestmark = pytest.mark.slow

EXAMPLE = os.path.join(REPO, "docs", "examples", "fleet", "fleet.yml")
BACKENDS = {
    "victoriametrics": "",
    "mimir": "    tenant: team-a\n",
    "thanos": "",
}


def _render(tmp_path, backend: str) -> str:
    specs = tmp_path / backend / "specs"
    specs.mkdir(parents=True)
    with open(EXAMPLE, encoding="utf-8") as fh:
        text = fh.read().replace("backend: victoriametrics\n", f"backend: {backend}\n{BACKENDS[backend]}")
    (specs / "fleet.yml").write_text(text)
    out = tmp_path / backend / "out"
    promspec_in_process("generate", str(specs), "-o", str(out), check=0)
    return str(out)


def _global_rule_files(out: str, scratch: str) -> list[str]:
    """Every global rule file as Prometheus-format groups (Mimir's namespace file without its namespace key)."""
    paths = sorted(glob.glob(os.path.join(out, "fleet", "global", "*", "rules", "*.yml")))
    for i, path in enumerate(sorted(glob.glob(os.path.join(out, "fleet", "global", "mimir", "*.yml")))):
        with open(path, encoding="utf-8") as fh:
            content = yaml.safe_load(fh)
        plain = os.path.join(scratch, f"mimir-{i}.yml")
        with open(plain, "w", encoding="utf-8") as fh:
            yaml.safe_dump({"groups": content["groups"]}, fh)
        paths.append(plain)
    return paths


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_global_rule_file_passes_vmalert_dry_run_and_promtool(tmp_path, backend):
    out = _render(tmp_path, backend)
    rules = _global_rule_files(out, str(tmp_path))
    assert rules
    for path in rules:
        proc = subprocess.run(
            [require_tool("vmalert"), "-dryRun", f"-rule={path}"], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    cluster_rules = sorted(glob.glob(os.path.join(out, "fleet", "clusters", "*", "rules", "*.yml")))
    proc = subprocess.run(
        [require_tool("promtool"), "check", "rules", "--lint=all", "--lint-fatal", *rules, *cluster_rules],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for config in sorted(glob.glob(os.path.join(out, "fleet", "clusters", "*", "prometheus*.yml"))):
        proc = subprocess.run(
            [require_tool("promtool"), "check", "config", config], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_vmalert_dry_run_rejects_a_broken_rule_file(tmp_path):
    """The dry-run oracle says no: an expression vmalert cannot parse fails it."""
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: sum(rate(x[5m])\n")
    proc = subprocess.run(
        [require_tool("vmalert"), "-dryRun", f"-rule={bad}"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0


LABELS = 'slo_id="chat-availability",slo_service="chat",slo="availability"'


def test_fleet_ratio_is_events_weighted_and_a_silent_burning_cluster_pages(tmp_path, promtool):
    """promtool over the rendered global rules. eu: 18 req/s, no errors; us: 2 req/s, half errors, and us stops
    sending at 10m. The fleet 5m ratio is 1/20 (an average of the ratios would read 0.25). Once us is silent
    the fleet ratio reads 0, better than the truth: ClusterSilent{cluster="us"} pages. us's last sample (10m)
    is visible for Prometheus 2's 5m lookback, both ends included: absent from 15m30s, the guard is pending
    then and fires at 20m30s (for: 5m)."""
    out = _render(tmp_path, "victoriametrics")
    rules = os.path.join(out, "fleet", "global", "vmalert", "rules", "fleet.yml")
    eu = f'{{{LABELS},cluster="eu",region="europe"}}'
    us = f'{{{LABELS},cluster="us",region="america",shard="0"}}'
    test = {
        "rule_files": [rules],
        "evaluation_interval": "30s",
        "tests": [
            {
                "interval": "30s",
                "input_series": [
                    {"series": f"slo:sli_errors:rate5m{eu}", "values": "0x60"},
                    {"series": f"slo:sli_total:rate5m{eu}", "values": "18x60"},
                    {"series": f"slo:sli_errors:rate5m{us}", "values": "1x20"},
                    {"series": f"slo:sli_total:rate5m{us}", "values": "2x20"},
                ],
                "promql_expr_test": [
                    {
                        "expr": 'slo:sli_error:ratio_rate5m{slo_id="chat-availability"}',
                        "eval_time": "5m",
                        "exp_samples": [{"labels": f"slo:sli_error:ratio_rate5m{{{LABELS}}}", "value": 0.05}],
                    },
                    {
                        "expr": 'slo_cluster:sli_error:ratio_rate5m{slo_id="chat-availability",cluster="us"}',
                        "eval_time": "5m",
                        "exp_samples": [
                            {"labels": f'slo_cluster:sli_error:ratio_rate5m{{{LABELS},cluster="us"}}', "value": 0.5}
                        ],
                    },
                    {
                        "expr": 'slo:sli_error:ratio_rate5m{slo_id="chat-availability"}',
                        "eval_time": "16m",
                        "exp_samples": [{"labels": f"slo:sli_error:ratio_rate5m{{{LABELS}}}", "value": 0}],
                    },
                    {
                        "expr": 'ALERTS{alertname="ChatAvailabilityClusterSilent",alertstate="firing"}',
                        "eval_time": "20m",
                        "exp_samples": [],
                    },
                    {
                        "expr": 'ALERTS{alertname="ChatAvailabilityClusterSilent",alertstate="firing"}',
                        "eval_time": "20m30s",
                        "exp_samples": [
                            {
                                "labels": 'ALERTS{alertname="ChatAvailabilityClusterSilent",alertstate="firing",'
                                f'{LABELS},cluster="us",region="america",shard="0",severity="page"}}',
                                "value": 1,
                            }
                        ],
                    },
                ],
            }
        ],
    }
    path = tmp_path / "fleet.test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    proc = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
