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

from machine import interleaved, ratios  # noqa: E402
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
