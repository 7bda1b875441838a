"""Render docs/images/ previews of the bundled dashboards during a known incident (issue 12's evidence).

Not a test: run by hand, `python tests/preview_incident.py docs/images`. It backfills an hour of series into a
real Prometheus (promtool tsdb create-blocks-from openmetrics), runs the bundled SLO rules on them, and draws the
LLM serving, GPU fleet, host and one SLO dashboard with `promspec preview`. The incident is the one of
tests/test_dashboard_sick_one.py and tests/test_dashboard_coverage.py, at fleet scale:

- vLLM (job vllm): four replicas; r3 queues 40 requests, fails 20% of them and answers its first token in
  0.75-1 s; r4 died 30 minutes ago (up 0, no series). The chat-vllm SLOs (99%) are in breach.
- GPUs (job gpu): two hosts of 8 GPUs; g2 GPU 4 is at 95 C, thermally throttled and reported XID 79 twenty
  minutes ago; g1 GPU 2 waits for a reset after a row remap; the exporter on g3 is dead.
- Hosts (job node): two 2-core hosts; n2 has just rebooted, its root filesystem went read-only, its kernel killed
  a process and its link runs at 92%; n3 is down.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from conftest import BIN, REPO, free_port, require_tool  # noqa: E402
from ops_backfill import backfill  # noqa: E402

STEP = 15  # seconds between samples
SPAN = 3600  # one hour of history, ending now
TTFT = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
ITL = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
E2E = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0)
LENGTHS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
ITERATION = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)

# (name, labels, value at unix time t, or None where the series does not exist): pure, so the same series are
# backfilled for the last hour and then served live, and the previews have no gap at "now".
Series = list[tuple[str, dict, Callable[[float], float | None]]]


class Clock:
    """The incident's timeline: `start` one hour before it is drawn."""

    def __init__(self, now: float):
        self.start = now - SPAN

    def until(self, end: float | None) -> Callable[[float], bool]:
        return lambda t: end is None or t <= end


def _counter(
    name: str, labels: dict, per_s: float, clock: Clock, start: float = 0.0, end: float | None = None
) -> Series:
    t0, alive = clock.start, clock.until(end)
    return [(name, labels, lambda t: start + per_s * (t - t0) if alive(t) else None)]


def _gauge(name: str, labels: dict, value: float, clock: Clock, end: float | None = None) -> Series:
    alive = clock.until(end)
    return [(name, labels, lambda t: value if alive(t) else None)]


def _histogram(
    name: str, labels: dict, bounds: tuple, observed: float, per_s: float, clock: Clock, end: float | None = None
) -> Series:
    """Every observation equals `observed`: the buckets at or above it count them all."""
    out: Series = []
    for le in [*bounds, "+Inf"]:
        hit = le == "+Inf" or observed <= float(le)
        out += _counter(f"{name}_bucket", {**labels, "le": str(le)}, per_s if hit else 0, clock, end=end)
    out += _counter(f"{name}_sum", labels, per_s * observed, clock, end=end)
    out += _counter(f"{name}_count", labels, per_s, clock, end=end)
    return out


def vllm_series(now: float) -> Series:
    out: Series = []
    clock = Clock(now)
    for r in ("r1", "r2", "r3", "r4"):
        sick, dead = r == "r3", r == "r4"
        end = now - 1800 if dead else None
        target = {"job": "vllm", "instance": f"{r}:8000"}
        out.append(("up", target, lambda t, dead=dead, now=now: 0.0 if dead and t > now - 1800 else 1.0))
        labels = {**target, "model_name": "llama-3-8b", "engine": "0"}
        requests = 5.0
        errors = requests * 0.2 if sick else 0.0
        out += _counter(
            "vllm:request_success_total", {**labels, "finished_reason": "stop"}, requests - errors, clock, end=end
        )
        out += _counter("vllm:request_success_total", {**labels, "finished_reason": "error"}, errors, clock, end=end)
        out += _histogram(
            "vllm:time_to_first_token_seconds", labels, TTFT, 0.9 if sick else 0.2, requests, clock, end=end
        )
        out += _histogram("vllm:inter_token_latency_seconds", labels, ITL, 0.14 if sick else 0.04, 200, clock, end=end)
        out += _histogram("vllm:e2e_request_latency_seconds", labels, E2E, 12 if sick else 4, requests, clock, end=end)
        out += _histogram("vllm:request_queue_time_seconds", labels, E2E, 8 if sick else 0.3, requests, clock, end=end)
        out += _histogram("vllm:iteration_tokens_total", labels, ITERATION, 200 if sick else 60, 20, clock, end=end)
        for name, bounds, observed in (
            ("vllm:request_prompt_tokens", LENGTHS, 180),
            ("vllm:request_generation_tokens", LENGTHS, 40),
            ("vllm:request_max_num_generation_tokens", LENGTHS, 512),
            ("vllm:request_prefill_time_seconds", E2E, 0.8 if sick else 0.15),
            ("vllm:request_decode_time_seconds", E2E, 3 if sick else 3.5),
        ):
            out += _histogram(name, labels, bounds, observed, requests, clock, end=end)
        out += _counter("vllm:prompt_tokens_total", labels, 900, clock, end=end)
        out += _counter("vllm:generation_tokens_total", labels, 200, clock, end=end)
        out += _counter("vllm:prefix_cache_queries_total", labels, 900, clock, end=end)
        out += _counter("vllm:prefix_cache_hits_total", labels, 200 if sick else 600, clock, end=end)
        out += _counter("vllm:spec_decode_num_drafts_total", labels, 40, clock, end=end)
        out += _counter("vllm:spec_decode_num_draft_tokens_total", labels, 120, clock, end=end)
        out += _counter("vllm:spec_decode_num_accepted_tokens_total", labels, 50 if sick else 90, clock, end=end)
        out += _counter("vllm:num_preemptions_total", labels, 0.5 if sick else 0, clock, end=end)
        out += _gauge("vllm:num_requests_running", labels, 16 if sick else 8, clock, end=end)
        out += _gauge("vllm:num_requests_waiting", labels, 40 if sick else 1, clock, end=end)
        out += _gauge("vllm:kv_cache_usage_perc", labels, 0.97 if sick else 0.55, clock, end=end)
    return out


def gpu_series(now: float) -> Series:
    out: Series = []
    clock = Clock(now)
    out += _gauge("up", {"job": "gpu", "instance": "g3:9400"}, 0, clock)
    for host in ("g1", "g2"):
        target = {"job": "gpu", "instance": f"{host}:9400"}
        out += _gauge("up", target, 1, clock)
        for gpu in range(8):
            labels = {**target, "gpu": str(gpu), "uuid": f"GPU-{host}-{gpu}", "name": "NVIDIA H100 80GB HBM3"}
            hot = host == "g2" and gpu == 4
            out += _gauge("promspec_gpu_up", labels, 1, clock)
            out += _gauge("promspec_gpu_info", {**labels, "driver_version": "550.54.15"}, 1, clock)
            out += _gauge("promspec_gpu_utilization_ratio", labels, 0.6 + 0.04 * gpu, clock)
            out += _gauge("promspec_gpu_memory_utilization_ratio", labels, 0.3 + 0.05 * gpu, clock)
            out += _gauge("promspec_gpu_memory_used_bytes", labels, (50 + 3 * gpu) * 2**30, clock)
            out += _gauge("promspec_gpu_memory_total_bytes", labels, 80 * 2**30, clock)
            out += _gauge(
                "promspec_gpu_temperature_celsius", labels, 95 if hot else 55 + gpu + (3 if host == "g2" else 0), clock
            )
            threshold = {**labels, "threshold": "slowdown"}
            out += _gauge("promspec_gpu_temperature_threshold_celsius", threshold, 92, clock)
            out += _gauge("promspec_gpu_power_watts", labels, 420 if hot else 500 + 10 * gpu, clock)
            out += _gauge("promspec_gpu_power_limit_watts", labels, 700, clock)
            out += _gauge("promspec_gpu_clock_hertz", {**labels, "clock": "sm"}, (1.2e9 if hot else 1.98e9), clock)
            for reason in ("gpu_idle", "hw_thermal_slowdown", "sw_power_cap"):
                on = reason == "hw_thermal_slowdown" and hot
                out += _gauge("promspec_gpu_clock_event_active", {**labels, "reason": reason}, int(on), clock)
            remap = host == "g1" and gpu == 2
            out += _gauge("promspec_gpu_remapped_rows_pending", labels, int(remap), clock)
            out += _gauge("promspec_gpu_remapped_rows_failed", labels, 0, clock)
            out += _gauge("promspec_gpu_remapped_rows", {**labels, "state": "correctable"}, 2 if remap else 0, clock)
            out += _gauge("promspec_gpu_retired_pages_pending", labels, 0, clock)
            out += _gauge("promspec_gpu_retired_pages", {**labels, "cause": "double_bit_ecc"}, 0, clock)
            out += _counter("promspec_gpu_ecc_errors_total", {**labels, "type": "corrected"}, 0, clock)
            out += _counter("promspec_gpu_pcie_replays_total", labels, 0, clock)
            for direction, rate in (("tx", 2.0e9), ("rx", 6.0e9)):
                pcie = {**labels, "direction": direction}
                out += _gauge("promspec_gpu_pcie_throughput_bytes_per_second", pcie, rate + 1e8 * gpu, clock)
            for link in range(4):
                nvlink = {**labels, "link": str(link)}
                out += _gauge("promspec_gpu_nvlink_active", nvlink, 1, clock)
                out += _counter("promspec_gpu_nvlink_transmit_bytes_total", nvlink, 2.5e10, clock)
                out += _counter("promspec_gpu_nvlink_receive_bytes_total", nvlink, 2.4e10, clock)
            out += _counter("promspec_gpu_nvlink_errors_total", {**labels, "type": "crc_flit"}, 0, clock)
            out += _counter("promspec_gpu_energy_joules_total", labels, 500, clock)
            if hot:  # XID 79 twenty minutes ago: the series is born at 1
                born = now - 1200
                xid = {**labels, "xid": "79"}
                out.append(("promspec_gpu_xid_errors_total", xid, lambda t, b=born: 1.0 if t >= b else None))
    return out


def host_series(now: float) -> Series:
    out: Series = []
    clock = Clock(now)
    out += _gauge("up", {"job": "node", "instance": "n3:9100"}, 0, clock)
    for host, busy, boot in (("n1", 0.35, now - 86400 * 12), ("n2", 0.8, now - 240)):
        target = {"job": "node", "instance": f"{host}:9100"}
        out += _gauge("up", target, 1, clock)
        for cpu in ("0", "1"):
            for mode, share in (("idle", 1 - busy), ("user", busy * 0.7), ("system", busy * 0.3)):
                out += _counter("node_cpu_seconds_total", {**target, "cpu": cpu, "mode": mode}, share, clock)
        for n, load in (("1", busy * 2.2), ("5", busy * 2), ("15", busy * 1.8)):
            out += _gauge(f"node_load{n}", target, load, clock)
        out += _gauge("node_memory_MemTotal_bytes", target, 16 * 2**30, clock)
        out += _gauge("node_memory_MemAvailable_bytes", target, (3 if host == "n2" else 9) * 2**30, clock)
        out += _gauge("node_memory_SwapTotal_bytes", target, 4 * 2**30, clock)
        out += _gauge("node_memory_SwapFree_bytes", target, (1 if host == "n2" else 4) * 2**30, clock)
        for kind in ("cpu", "memory", "io"):
            out += _counter(f"node_pressure_{kind}_waiting_seconds_total", target, busy * 0.1, clock)
        out.append(("node_time_seconds", target, lambda t: t))
        out += _gauge("node_boot_time_seconds", target, boot, clock)
        # n2's kernel killed a process ten minutes ago.
        oom = (lambda t, at=now - 600: 4.0 if t >= at else 3.0) if host == "n2" else (lambda t: 0.0)
        out.append(("node_vmstat_oom_kill", target, oom))
        out += _gauge("node_filefd_allocated", target, 9000 if host == "n2" else 2000, clock)
        out += _gauge("node_filefd_maximum", target, 10000, clock)
        out += _gauge("node_nf_conntrack_entries", target, 20000, clock)
        out += _gauge("node_nf_conntrack_entries_limit", target, 262144, clock)
        out += _gauge("node_timex_offset_seconds", target, 0.0004, clock)
        out += _gauge("node_timex_sync_status", target, 1, clock)
        for mount, fstype, ro in (("/", "ext4", int(host == "n2")), ("/data", "xfs", 0)):
            fs = {**target, "device": "nvme0n1p1", "mountpoint": mount, "fstype": fstype}
            out += _gauge("node_filesystem_size_bytes", fs, 500 * 2**30, clock)
            out += _gauge("node_filesystem_avail_bytes", fs, (60 if mount == "/" else 300) * 2**30, clock)
            out += _gauge("node_filesystem_files", fs, 3.2e7, clock)
            out += _gauge("node_filesystem_files_free", fs, 2.9e7, clock)
            out += _gauge("node_filesystem_readonly", fs, ro, clock)
            out += _gauge("node_filesystem_device_error", fs, 0, clock)
        disk = {**target, "device": "nvme0n1"}
        out += _counter("node_disk_reads_completed_total", disk, 800, clock)
        out += _counter("node_disk_writes_completed_total", disk, 300, clock)
        out += _counter("node_disk_read_bytes_total", disk, 6e7, clock)
        out += _counter("node_disk_written_bytes_total", disk, 2e7, clock)
        out += _counter("node_disk_read_time_seconds_total", disk, 0.16, clock)
        out += _counter("node_disk_write_time_seconds_total", disk, 0.09, clock)
        out += _counter("node_disk_io_time_seconds_total", disk, busy * 0.5, clock)
        nic = {**target, "device": "eth0"}
        out += _gauge("node_network_speed_bytes", nic, 1.25e9, clock)
        out += _counter("node_network_receive_bytes_total", nic, 1.15e9 if host == "n2" else 3e8, clock)
        out += _counter("node_network_transmit_bytes_total", nic, 2e8, clock)
        for name in ("receive_errs", "transmit_errs", "receive_drop", "transmit_drop"):
            out += _counter(f"node_network_{name}_total", nic, 0, clock)
    return out


def _history(series: Series, now: float) -> list[tuple[str, dict, list[tuple[float, float]]]]:
    times = [now - SPAN + i * STEP for i in range(SPAN // STEP + 1)]
    out = []
    for name, labels, value in series:
        samples = [(t, v) for t in times if (v := value(t)) is not None]
        if samples:
            out.append((name, labels, samples))
    return out


def _exposition(series: Series, t: float) -> bytes:
    lines = []
    for name, labels, value in series:
        v = value(t)
        if v is not None:
            inner = ",".join(f'{k}="{val}"' for k, val in sorted(labels.items()))
            lines.append(f"{name}{{{inner}}} {v!r}")
    return ("\n".join(lines) + "\n").encode()


def _serve(series: Series) -> http.server.ThreadingHTTPServer:
    """The incident's series live from now on (scraped with honor_labels), so no preview ends in a gap."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = _exposition(series, time.time())
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(out_dir: str) -> None:
    work = tempfile.mkdtemp(prefix="promspec-preview-")
    try:
        now = time.time()
        series = vllm_series(now) + gpu_series(now) + host_series(now)
        data = os.path.join(work, "data")
        backfill(os.path.join(work, "incident.om"), data, _history(series, now))
        live = _serve(series)
        # The SLO rules of the bundled chat-vllm service, evaluated every second so that a breach shows at once.
        rules = os.path.join(work, "rules.yml")
        with open(os.path.join(REPO, "rules", "services-vllm.yml"), encoding="utf-8") as fh:
            text = fh.read()
        text = re.sub(r"(?m)^(\s*)interval: \S+$", r"\1interval: 1s", text)
        text = re.sub(r"(?m)^(\s*)for: \S+$", r"\1for: 0s", text)
        with open(rules, "w", encoding="utf-8") as fh:
            fh.write(text)
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w", encoding="utf-8") as fh:
            fh.write(
                f"global: {{evaluation_interval: 1s, scrape_interval: 5s}}\nrule_files: [{rules}]\n"
                "scrape_configs:\n  - job_name: incident\n    honor_labels: true\n"
                f"    static_configs: [{{targets: ['127.0.0.1:{live.server_address[1]}']}}]\n"
            )
        port = free_port()
        prom = subprocess.Popen(
            [
                require_tool("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=3650d",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(url + "/-/ready", timeout=2).read()
                    break
                except OSError:
                    time.sleep(0.5)
            time.sleep(int(os.environ.get("PROMSPEC_PREVIEW_SECONDS", "90")))  # SLO rules: a few minutes of life
            for uid, name, span in (
                ("slo-chat-vllm-errors", "slo-preview.png", "5m"),
                ("llm-service-chat-vllm", "llm-serving-preview.png", "1h"),
                ("gpu-fleet", "gpu-fleet-preview.png", "1h"),
                ("host-overview", "host-overview-preview.png", "1h"),
            ):
                png = os.path.join(work, name)
                subprocess.run(
                    [
                        os.path.join(BIN, "promspec"),
                        "preview",
                        uid,
                        "--specs",
                        os.path.join(REPO, "specs"),
                        "--prometheus",
                        url,
                        "--range",
                        span,
                        "-o",
                        png,
                    ],
                    check=True,
                    timeout=300,
                    stdout=subprocess.DEVNULL,
                )
                shutil.copyfile(png, os.path.join(out_dir, name))
                print("wrote", os.path.join(out_dir, name))
        finally:
            prom.terminate()
            prom.wait(30)
            live.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "docs", "images"))
