"""Coverage (issue 12): the families the engines' and exporters' own dashboards chart, on the bundled dashboards.

JSON-level checks of the new panels (titles, units, colours by the preview's own threshold logic), and real
promtool evaluating the rendered queries on an injected incident. Expected values are worked out here, by
hand, from the injected series; quantiles go through round() so that float noise of the interpolation does
not decide a test (promtool compares exactly)."""

from __future__ import annotations

import pytest

from promspec.preview.render import grafana_to_promql
from test_dashboard_values import DASHES, GREEN, ORANGE, RED, _colour, _panel, _panels, _promtool

VLLM, SGLANG, TGI, LLAMACPP = "llm-engine-vllm", "llm-engine-sglang", "llm-engine-tgi", "llm-engine-llamacpp"
GPU, HOST = "gpu-fleet", "host-overview"


def _exprs(uid: str, title: str) -> list[str]:
    return [t["expr"] for t in _panel(uid, title)["targets"]]


def _q(expr: str) -> str:
    # Every variable at All, a 1 h range drawn at a 30 s step: $__rate_interval 60s, $__range 3600s.
    return grafana_to_promql(expr, 30, 3600)


def _titles(uid: str) -> set[str]:
    return {p.get("title", "") for p in _panels(DASHES[uid])}


def _run(tmp_path, series: list, checks: list) -> None:
    tests = [{"name": "coverage", "interval": "1m", "input_series": series, "promql_expr_test": checks}]
    result = _promtool(tmp_path, tests)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------ JSON level


def test_engine_dashboards_chart_their_engines_own_families():
    vllm = {
        "Prefix-cache hit rate",
        "Tokens per engine step",
        "Speculative decoding acceptance",
        "Speculative decoding tokens",
        "Speculative decoding mean acceptance length",
        "Running requests by replica",
        "Waiting requests by replica",
        "End-to-end latency (range)",
        "TTFT (range)",
        "Inter-token latency (range)",
    }
    sglang = {
        "Prefix-cache hit rate by replica",
        "Generation throughput by replica (engine)",
        "KV tokens used and capacity",
        "Speculative decoding accept length",
        "End-to-end latency (heatmap)",
        "Running requests by replica",
        "Waiting requests by replica",
        "TTFT (range)",
    }
    tgi = {
        "Requests: success and failure",
        "Max tokens per batch",
        "Prompt tokens per request",
        "Generated tokens per request",
        "Speculated tokens per request",
        "Batch concatenations",
        "Batch inference duration",
        "Batch forward duration",
        "Batch token decode duration",
        "Batch filter duration",
        "Batch concat duration",
    }
    for uid, want in ((VLLM, vllm), ("llm-service-chat-vllm", vllm), (SGLANG, sglang), (TGI, tgi)):
        assert want <= _titles(uid), (uid, sorted(want - _titles(uid)))
    # TGI has no TTFT histogram: no range stat for it; llama.cpp's adapter has none of these families.
    assert "TTFT (range)" not in _titles(TGI)
    assert "Prefix-cache hit rate" not in _titles(LLAMACPP)
    # Host panels on families promspec-exporter does not serve say where they come from.
    assert "node_exporter only" in _panel(HOST, "Uptime")["description"]
    assert "node_exporter" not in _panel(HOST, "Disk IOPS").get("description", "")


@pytest.mark.parametrize("uid", [VLLM, SGLANG])
def test_range_stats_read_the_whole_selected_range(uid):
    panel = _panel(uid, "TTFT (range)")
    assert panel["type"] == "stat" and panel["fieldConfig"]["defaults"]["unit"] == "s"
    legends = [t["legendFormat"] for t in panel["targets"]]
    assert legends == ["p50", "p90", "p99", "mean"]
    for target in panel["targets"]:
        assert target["instant"] is True and "[$__range]" in target["expr"] and "$__rate_interval" not in target["expr"]


def test_gpu_fleet_repeats_a_row_per_host():
    rows = [p for p in DASHES[GPU]["panels"] if p["type"] == "row" and p.get("repeat")]
    assert [(r["title"], r["repeat"]) for r in rows] == [("Host $instance", "instance")]
    variable = next(v for v in DASHES[GPU]["templating"]["list"] if v["name"] == "instance")
    assert variable["multi"] is True and variable["includeAll"] is True  # a repeat needs several values
    # The row's panels follow it (an open row) and each reads only its own host.
    after = DASHES[GPU]["panels"][DASHES[GPU]["panels"].index(rows[0]) + 1 :]
    titles = [p["title"] for p in after]
    assert titles == ["Utilisation per GPU", "Memory used share per GPU", "Temperature per GPU", "Power per GPU"]
    for p in after:
        for t in p["targets"]:
            assert 'instance=~"$instance"' in t["expr"] and "by (gpu)" in t["expr"]
    assert _colour(_panel(GPU, "Temperature per GPU"), 91) == RED


def test_gpu_fleet_interconnect_memory_health_and_the_profiling_note():
    assert _panel(GPU, "PCIe throughput")["fieldConfig"]["defaults"]["unit"] == "Bps"
    assert _panel(GPU, "NVLink throughput")["fieldConfig"]["defaults"]["unit"] == "Bps"
    assert _colour(_panel(GPU, "NVLink links down"), 1) == RED
    assert _colour(_panel(GPU, "Row remaps pending"), 1) == ORANGE
    assert _colour(_panel(GPU, "Row remaps pending"), 0) == GREEN
    assert _colour(_panel(GPU, "Row remaps failed"), 1) == RED
    assert _colour(_panel(GPU, "Page retirements pending"), 1) == ORANGE
    note = _panel(GPU, "Tensor-core activity")
    assert note["type"] == "text"
    assert "DCGM_FI_PROF_" in note["options"]["content"] and "NVML" in note["options"]["content"]


def test_host_essentials_colours():
    assert _colour(_panel(HOST, "Uptime"), 120) == ORANGE  # just rebooted
    assert _colour(_panel(HOST, "Uptime"), 86400) == GREEN
    for title in ("OOM kills (range)", "Read-only or errored filesystems", "Clocks not synchronised", "Hosts down"):
        assert _colour(_panel(HOST, title), 1) == RED and _colour(_panel(HOST, title), 0) == GREEN
    assert _colour(_panel(HOST, "File descriptors used"), 0.9) == RED
    assert _colour(_panel(HOST, "Conntrack table used"), 0.75) == ORANGE
    assert _colour(_panel(HOST, "Network utilisation of link speed"), 0.96) == RED
    assert _colour(_panel(HOST, "Inodes used"), 0.85) == ORANGE
    assert _panel(HOST, "Disk IOPS")["fieldConfig"]["defaults"]["unit"] == "iops"
    # One kill in a window reads 1.33 through increase()'s extrapolation: whole kills only.
    assert _panel(HOST, "OOM kills")["fieldConfig"]["defaults"]["decimals"] == 0


# ------------------------------------------------------------------------------ values, by real promtool


def _hist(name: str, labels: str, low: str, high: str, per_min: int, sum_per_min: float) -> list:
    """A histogram whose every observation falls in (low, high]: per_min observations a minute."""
    return [
        {"series": f'{name}_bucket{{{labels}, le="{low}"}}', "values": "0x70"},
        {"series": f'{name}_bucket{{{labels}, le="{high}"}}', "values": f"0+{per_min}x70"},
        {"series": f'{name}_bucket{{{labels}, le="+Inf"}}', "values": f"0+{per_min}x70"},
        {"series": f"{name}_sum{{{labels}}}", "values": f"0+{sum_per_min}x70"},
        {"series": f"{name}_count{{{labels}}}", "values": f"0+{per_min}x70"},
    ]


def _one(expr: str, value: float, at: str = "60m", labels: str = "{}") -> dict:
    return {"expr": expr, "eval_time": at, "exp_samples": [{"labels": labels, "value": value}]}


@pytest.mark.slow
def test_vllm_coverage_panels_during_an_incident(tmp_path):
    # Two replicas. r1 finds 80 of 100 queried prompt tokens in its prefix cache, r2 20 of 100: 50% overall.
    # Speculative decoding: each proposes 25 drafts of 50 tokens a minute; r1 accepts 40, r2 10 (50% overall,
    # 1 + 50/50 = 2 tokens per draft). r2 queues 30 requests. Every TTFT lies in (0.1, 0.25] s, 10 a minute,
    # summing to 2 s: mean 0.2 s, p50 = 0.1 + 0.15 * 0.5 = 0.175 s, p99 = 0.1 + 0.15 * 0.99 = 0.2485 s.
    # Engine steps schedule (16, 32] tokens: p50 = 16 + 16 * 0.5 = 24 tokens.
    series: list = []
    for r, hits, accepted, running, waiting in (("r1", 80, 40, 5, 0), ("r2", 20, 10, 7, 30)):
        labels = f'job="vllm", instance="{r}:8000", model_name="m", engine="0"'
        series += [
            {"series": f"vllm:prefix_cache_queries_total{{{labels}}}", "values": "0+100x70"},
            {"series": f"vllm:prefix_cache_hits_total{{{labels}}}", "values": f"0+{hits}x70"},
            {"series": f"vllm:spec_decode_num_drafts_total{{{labels}}}", "values": "0+25x70"},
            {"series": f"vllm:spec_decode_num_draft_tokens_total{{{labels}}}", "values": "0+50x70"},
            {"series": f"vllm:spec_decode_num_accepted_tokens_total{{{labels}}}", "values": f"0+{accepted}x70"},
            {"series": f"vllm:num_requests_running{{{labels}}}", "values": f"{running}x70"},
            {"series": f"vllm:num_requests_waiting{{{labels}}}", "values": f"{waiting}x70"},
        ]
        series += _hist("vllm:time_to_first_token_seconds", labels, "0.1", "0.25", 10, 2)
        series += _hist("vllm:iteration_tokens_total", labels, "16", "32", 10, 240)
    ttft = [_q(e) for e in _exprs(VLLM, "TTFT (range)")]
    spec = _exprs(VLLM, "Speculative decoding tokens")
    _run(
        tmp_path,
        series,
        [
            _one(f"round({_q(_exprs(VLLM, 'Prefix-cache hit rate')[0])}, 0.0001)", 0.5),
            _one(f"round({_q(_exprs(VLLM, 'Speculative decoding acceptance')[0])}, 0.0001)", 0.5),
            _one(f"round({_q(_exprs(VLLM, 'Speculative decoding mean acceptance length')[0])}, 0.0001)", 2),
            # 2 x 50 draft tokens a minute: 100/60 tokens/s; compared through x60 to stay in integers.
            _one(f"round(60 * ({_q(spec[0])}))", 100),
            _one(f"round({_q(_exprs(VLLM, 'Tokens per engine step')[0])}, 0.001)", 24),
            _one(f"round({ttft[0]}, 0.0001)", 0.175),
            _one(f"round({ttft[2]}, 0.0001)", 0.2485),
            _one(f"round({ttft[3]}, 0.0001)", 0.2),
            {
                "expr": _q(_exprs(VLLM, "Waiting requests by replica")[0]),
                "eval_time": "60m",
                "exp_samples": [
                    {"labels": '{instance="r1:8000"}', "value": 0},
                    {"labels": '{instance="r2:8000"}', "value": 30},
                ],
            },
            {
                "expr": _q(_exprs(VLLM, "Running requests by replica")[0]),
                "eval_time": "60m",
                "exp_samples": [
                    {"labels": '{instance="r1:8000"}', "value": 5},
                    {"labels": '{instance="r2:8000"}', "value": 7},
                ],
            },
        ],
    )


@pytest.mark.slow
def test_sglang_and_tgi_coverage_panels_during_an_incident(tmp_path):
    # SGLang: r1's radix cache hits 25% (two TP ranks at 0.2 and 0.3), r2's 75%. TGI: 60 concatenations a
    # minute for backpressure (1/s); decode forwards all take (0.01, 0.05] s: p50 = 0.01 + 0.04 * 0.5 = 0.03 s;
    # 120 successes and 6 overloaded failures a minute (2/s and 0.1/s).
    series: list = []
    for r, rates in (("r1", (0.2, 0.3)), ("r2", (0.75, 0.75))):
        for rank, rate in enumerate(rates):
            labels = f'job="sglang", instance="{r}:30000", model_name="m", tp_rank="{rank}"'
            series.append({"series": f"sglang:cache_hit_rate{{{labels}}}", "values": f"{rate}x70"})
    tgi = 'job="tgi", instance="t1:80"'
    series += [
        {"series": f'tgi_batch_concat{{{tgi}, reason="backpressure"}}', "values": "0+60x70"},
        {"series": f"tgi_request_success{{{tgi}}}", "values": "0+120x70"},
        {"series": f'tgi_request_failure{{{tgi}, err="overloaded"}}', "values": "0+6x70"},
    ]
    series += _hist("tgi_batch_forward_duration", f'{tgi}, method="decode"', "0.01", "0.05", 100, 3)
    success, failure = (_q(e) for e in _exprs(TGI, "Requests: success and failure"))
    _run(
        tmp_path,
        series,
        [
            {
                "expr": _q(_exprs(SGLANG, "Prefix-cache hit rate by replica")[0]),
                "eval_time": "60m",
                "exp_samples": [
                    {"labels": '{instance="r1:30000"}', "value": 0.25},
                    {"labels": '{instance="r2:30000"}', "value": 0.75},
                ],
            },
            _one(_q(_exprs(TGI, "Batch concatenations")[0]), 1, labels='{reason="backpressure"}'),
            _one(success, 2),
            _one(failure, 0.1, labels='{err="overloaded"}'),
            _one(f"round({_q(_exprs(TGI, 'Batch forward duration')[0])}, 0.0001)", 0.03, labels='{method="decode"}'),
        ],
    )


@pytest.mark.slow
def test_gpu_interconnect_memory_health_and_host_row_during_an_incident(tmp_path):
    # Host h1: GPU 0 sends 6000 B a minute over each of its two NVLink links (200 B/s in all) and its link 1 is
    # down; PCIe tx 1 GB/s. GPU 2 waits for a reset after a row remap, GPU 3's remap failed. Host h2 runs hot:
    # its GPU 0 is at 95 °C; the repeated row of h1 must not show it.
    series: list = []
    for host in ("h1:9400", "h2:9400"):
        for gpu in range(4):
            labels = f'job="gpu", instance="{host}", gpu="{gpu}", uuid="GPU-{host[1]}{gpu}"'
            hot = host == "h2:9400" and gpu == 0
            series += [
                {"series": f"promspec_gpu_up{{{labels}}}", "values": "1x70"},
                {"series": f"promspec_gpu_temperature_celsius{{{labels}}}", "values": f"{95 if hot else 50 + gpu}x70"},
                {
                    "series": f"promspec_gpu_remapped_rows_pending{{{labels}}}",
                    "values": f"{int(host == 'h1:9400' and gpu == 2)}x70",
                },
                {
                    "series": f"promspec_gpu_remapped_rows_failed{{{labels}}}",
                    "values": f"{int(host == 'h1:9400' and gpu == 3)}x70",
                },
            ]
    h1g0 = 'job="gpu", instance="h1:9400", gpu="0", uuid="GPU-10"'
    for link, active in (("0", 1), ("1", 0)):
        series += [
            {"series": f'promspec_gpu_nvlink_transmit_bytes_total{{{h1g0}, link="{link}"}}', "values": "0+6000x70"},
            {"series": f'promspec_gpu_nvlink_active{{{h1g0}, link="{link}"}}', "values": f"{active}x70"},
        ]
    series.append(
        {"series": f'promspec_gpu_pcie_throughput_bytes_per_second{{{h1g0}, direction="tx"}}', "values": "1e9x70"}
    )
    h1_temps = _panel(GPU, "Temperature per GPU")["targets"][0]["expr"].replace("$instance", "h1:9400")
    _run(
        tmp_path,
        series,
        [
            _one(_q(_exprs(GPU, "NVLink throughput")[0]), 200, labels='{instance="h1:9400", gpu="0"}'),
            _one(_q(_exprs(GPU, "NVLink links down")[0]), 1),
            _one(_q(_exprs(GPU, "PCIe throughput")[0]), 1e9, labels='{instance="h1:9400", gpu="0", direction="tx"}'),
            _one(_q(_exprs(GPU, "Row remaps pending")[0]), 1),
            _one(_q(_exprs(GPU, "Row remaps failed")[0]), 1),
            _one(_q(_exprs(GPU, "Page retirements pending")[0]), 0),
            {
                "expr": _q(_exprs(GPU, "GPUs waiting for a reset or service")[0]),
                "eval_time": "60m",
                "exp_samples": [
                    {"labels": '{instance="h1:9400", gpu="3", state="row remap failed"}', "value": 1},
                    {"labels": '{instance="h1:9400", gpu="2", state="row remap pending"}', "value": 1},
                ],
            },
            {
                "expr": _q(h1_temps),
                "eval_time": "60m",
                "exp_samples": [{"labels": f'{{gpu="{g}"}}', "value": 50 + g} for g in range(4)],
            },
        ],
    )


@pytest.mark.slow
def test_host_essentials_during_an_incident(tmp_path):
    # n1 has been up 20 min at minute 20, n2 rebooted 3 min ago; n1 swaps 75% of 1000 B, n2 has no swap.
    # n1's kernel killed one process at minute 10; n2's clock is not synchronised; n1's root is read-only and
    # n2's /data fails statfs (a read-only tmpfs does not count). n1 reads 600 times a minute, spending 60 s
    # in them (0.1 s each), fills 90% of its file handles, 75% of its conntrack table, and receives 96% of
    # its 1 Gbit/s link.
    # n3 is down (up 0, no series); a down target of another job does not count.
    series: list = [
        {"series": 'up{job="node", instance="n3:9100"}', "values": "0x70"},
        {"series": 'up{job="vllm", instance="r1:8000"}', "values": "0x70"},
    ]
    for host, boot in (("n1:9100", 0), ("n2:9100", 1020)):
        labels = f'job="node", instance="{host}"'
        series += [
            {"series": f"up{{{labels}}}", "values": "1x70"},
            {"series": f'node_cpu_seconds_total{{{labels}, cpu="0", mode="idle"}}', "values": "0+30x70"},
            {"series": f"node_time_seconds{{{labels}}}", "values": "0+60x70"},
            {"series": f"node_boot_time_seconds{{{labels}}}", "values": f"{boot}x70"},
            {"series": f"node_timex_sync_status{{{labels}}}", "values": f"{int(host == 'n1:9100')}x70"},
            {"series": f"node_memory_SwapTotal_bytes{{{labels}}}", "values": f"{1000 if host == 'n1:9100' else 0}x70"},
            {"series": f"node_memory_SwapFree_bytes{{{labels}}}", "values": f"{250 if host == 'n1:9100' else 0}x70"},
            {"series": f"node_vmstat_oom_kill{{{labels}}}", "values": f"0x10 {int(host == 'n1:9100')}x60"},
        ]
    n1 = 'job="node", instance="n1:9100"'
    fs = (
        ("n1:9100", "/", "ext4", 1, 0),
        ("n1:9100", "/run", "tmpfs", 1, 0),
        ("n2:9100", "/", "ext4", 0, 0),
        ("n2:9100", "/data", "xfs", 0, 1),
    )
    for host, mount, fstype, readonly, error in fs:
        labels = f'job="node", instance="{host}", device="sda", mountpoint="{mount}", fstype="{fstype}"'
        series += [
            {"series": f"node_filesystem_readonly{{{labels}}}", "values": f"{readonly}x70"},
            {"series": f"node_filesystem_device_error{{{labels}}}", "values": f"{error}x70"},
        ]
    series += [
        {"series": f'node_disk_reads_completed_total{{{n1}, device="sda"}}', "values": "0+600x70"},
        {"series": f'node_disk_read_time_seconds_total{{{n1}, device="sda"}}', "values": "0+60x70"},
        {"series": f"node_filefd_allocated{{{n1}}}", "values": "900x70"},
        {"series": f"node_filefd_maximum{{{n1}}}", "values": "1000x70"},
        {"series": f"node_nf_conntrack_entries{{{n1}}}", "values": "60000x70"},
        {"series": f"node_nf_conntrack_entries_limit{{{n1}}}", "values": "80000x70"},
        {"series": f'node_network_speed_bytes{{{n1}, device="eth0"}}', "values": "125000000x70"},
        {"series": f'node_network_receive_bytes_total{{{n1}, device="eth0"}}', "values": "0+7200000000x70"},
        {"series": f'node_network_receive_bytes_total{{{n1}, device="lo"}}', "values": "0+7200000000x70"},
    ]
    n1_out = '{instance="n1:9100", job="node"}'
    _run(
        tmp_path,
        series,
        [
            {
                "expr": _q(_exprs(HOST, "Uptime")[0]),
                "eval_time": "20m",
                "exp_samples": [
                    {"labels": '{instance="n1:9100", job="node"}', "value": 1200},
                    {"labels": '{instance="n2:9100", job="node"}', "value": 180},
                ],
            },
            _one(_q(_exprs(HOST, "Swap used")[0]), 0.75, "20m", n1_out),
            _one(_q(_exprs(HOST, "OOM kills (range)")[0]), 1, "60m"),
            _one(_q(_exprs(HOST, "Clocks not synchronised")[0]), 1, "20m"),
            _one(_q(_exprs(HOST, "Hosts down")[0]), 1, "20m"),
            {
                "expr": _q(_exprs(HOST, "CPU cores")[0]),
                "eval_time": "20m",
                "exp_samples": [
                    {"labels": '{instance="n1:9100"}', "value": 1},
                    {"labels": '{instance="n2:9100"}', "value": 1},
                ],
            },
            _one(_q(_exprs(HOST, "Read-only or errored filesystems")[0]), 2, "20m"),
            {
                "expr": _q(_exprs(HOST, "Read-only or errored: which")[0]),
                "eval_time": "20m",
                "exp_samples": [
                    {"labels": '{instance="n1:9100", mountpoint="/"}', "value": 1},
                    {"labels": '{instance="n2:9100", mountpoint="/data"}', "value": 1},
                ],
            },
            _one(_q(_exprs(HOST, "Disk latency")[0]), 0.1, "20m", '{instance="n1:9100", job="node", device="sda"}'),
            _one(_q(_exprs(HOST, "Disk IOPS")[0]), 10, "20m", '{instance="n1:9100"}'),
            _one(_q(_exprs(HOST, "File descriptors used")[0]), 0.9, "20m", n1_out),
            _one(_q(_exprs(HOST, "Conntrack table used")[0]), 0.75, "20m", n1_out),
            _one(
                _q(_exprs(HOST, "Network utilisation of link speed")[0]),
                0.96,
                "20m",
                '{instance="n1:9100", job="node", device="eth0"}',
            ),
        ],
    )
