"""The benchmarks' peers and helpers (bench/): rule files Prometheus loads, and same-run ratios.

No timing is asserted: the benchmarks report figures, the tests only check that what they compare
is well formed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from conftest import require_tool

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
sys.path.insert(0, BENCH)

from machine import _tool_version, interleaved, ratios  # noqa: E402
from probe_overhead import interval_ttfts, ttft_totals  # noqa: E402
from pyrra_peer import pyrra_groups  # noqa: E402
from sloth_peer import WINDOWS, sloth_groups, sloth_tuned_groups  # noqa: E402

ERRORS = 'sum(rate(x_count{job="a"}[{{.window}}])) - sum(rate(x_bucket{job="a",le="0.5"}[{{.window}}]))'
TOTAL = 'sum(rate(x_count{job="a"}[{{.window}}]))'


def test_interleaved_alternates_the_order_and_pairs_each_round():
    calls: list[str] = []

    def a() -> float:
        calls.append("a")
        return 2.0

    def b() -> float:
        calls.append("b")
        return 4.0

    first, second = interleaved(a, b, 3)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert ratios(first, second) == [0.5, 0.5, 0.5]


def test_tuned_sloth_corrects_every_window_and_sets_the_group_intervals():
    sli, meta, alerts = sloth_tuned_groups("svc", "ttft", 99, ERRORS, TOTAL, optimized=False)
    assert (sli["interval"], meta["interval"], alerts["interval"]) == ("1m", "5m", "1m")
    corrections = {r["record"]: r["expr"] for r in meta["rules"] if r["record"].startswith("slo:numerator_correction")}
    assert sorted(corrections) == sorted(f"slo:numerator_correction:ratio{w}" for w in WINDOWS)
    assert corrections["slo:numerator_correction:ratio1h"].endswith("[30d])))")
    windows = [r for r in sli["rules"] if r["labels"]["sloth_window"] != "30d"]
    assert all("slo:numerator_correction:ratio" in r["expr"] for r in windows)
    period = sli["rules"][-1]["expr"]
    assert "[30d]" in period and "sum_over_time" not in period  # disableOptimized: the raw ratio
    optimized = sloth_tuned_groups("svc", "ttft", 99, ERRORS, TOTAL)[0]["rules"][-1]["expr"]
    assert optimized == sloth_groups("svc", "ttft", 99, ERRORS, TOTAL)[0]["rules"][-1]["expr"]


@pytest.mark.slow
def test_peer_rule_files_load_in_promtool(tmp_path):
    promtool = require_tool("promtool")
    sets = {
        "sloth": sloth_groups("svc", "ttft", 99, ERRORS, TOTAL),
        "tuned": sloth_tuned_groups("svc", "ttft", 99, ERRORS, TOTAL),
        "pyrra": pyrra_groups("svc-ttft", "x", 'job="a"', "0.5", 0.99),
    }
    for name, groups in sets.items():
        path = tmp_path / f"{name}.yml"
        path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        proc = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def _probe_scrape(*targets: tuple[float, int]) -> str:
    lines = ["# TYPE promspec_probe_llm_ttft_seconds histogram"]
    for i, (total, count) in enumerate(targets):
        lines.append(f'promspec_probe_llm_ttft_seconds_bucket{{target="t{i}",le="+Inf"}} {count}')
        lines.append(f'promspec_probe_llm_ttft_seconds_sum{{target="t{i}"}} {total}')
        lines.append(f'promspec_probe_llm_ttft_seconds_count{{target="t{i}"}} {count}')
    return "\n".join(lines) + "\n"


def test_probe_ttft_is_summed_over_targets_and_averaged_per_scrape_interval():
    bodies = [
        _probe_scrape((0.0, 0), (0.0, 0)),
        _probe_scrape((0.25, 1), (0.35, 1)),  # 2 probes, 0.30 s each on average
        _probe_scrape((0.25, 1), (0.35, 1)),  # none completed: no interval mean
        _probe_scrape((0.55, 2), (0.65, 2)),  # 2 more, 0.30 + 0.30 over 2
    ]
    assert ttft_totals(bodies[1]) == (0.6, 2.0)
    assert interval_ttfts(bodies) == pytest.approx([0.3, 0.3])


@pytest.mark.slow
def test_machine_state_names_the_debian_release_of_a_tool_that_prints_no_version():
    # Debian's vmalert prints nothing for -version: the fleet bench's header said "(version unknown)".
    vmalert = require_tool("vmalert")
    owner = subprocess.run(["dpkg", "-S", os.path.realpath(vmalert)], capture_output=True, text=True, check=True)
    package = owner.stdout.split(":", 1)[0]
    version = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True, check=True
    ).stdout
    assert _tool_version("vmalert") == f"{version} (Debian package {package})"
