"""LLM probe overhead on promspec-exporter: CPU and RSS with and without --probe.config (N targets).

Runs the exporter as a subprocess twice (host collectors only, then with the probes) against the test
suite's fake OpenAI-compatible server on loopback, scrapes it every 15 s like Prometheus, and reads
utime+stime and VmRSS from /proc. Also reports the probe's TTFT against the delay the server injected.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import print_machine

from fake_llm import FakeLLM

TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run(seconds: float, probe_config: str | None) -> tuple[float, float, str]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "promspec.exporter",
        f"--web.listen-address=127.0.0.1:{port}",
        "--collectors.disable=gpu",
    ]
    if probe_config:
        argv.append(f"--probe.config={probe_config}")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        start_cpu, start = cpu_seconds(proc.pid), time.monotonic()
        body = ""
        while time.monotonic() - start < seconds:
            body = urllib.request.urlopen(url, timeout=5).read().decode()
            time.sleep(15)
        used = cpu_seconds(proc.pid) - start_cpu
        return used / (time.monotonic() - start) * 100, rss_mib(proc.pid), body
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=90)
    args = parser.parse_args()
    print_machine()
    fake = FakeLLM({})
    fake.stream.update(ttft=0.25, gap=0.02, tokens=16)
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as fh:
        fh.write("location: bench\ntargets:\n")
        for i in range(args.targets):
            fh.write(
                f"  - {{name: t{i}, url: 'http://127.0.0.1:{fake.port}/healthy/v1/chat/completions', "
                f"model: m, interval: 15s, timeout: 10s, max_tokens: 16}}\n"
            )
    try:
        base_cpu, base_rss, _ = run(args.seconds, None)
        cpu, rss, body = run(args.seconds, fh.name)
    finally:
        os.unlink(fh.name)
        fake.close()
    sums = {}
    for line in body.splitlines():
        for part in ("ttft_seconds_sum", "ttft_seconds_count"):
            if line.startswith(f"promspec_probe_llm_{part}"):
                sums[part] = sums.get(part, 0.0) + float(line.rsplit(" ", 1)[1])
    mean = sums["ttft_seconds_sum"] / sums["ttft_seconds_count"] if sums.get("ttft_seconds_count") else float("nan")
    print(f"without probes: CPU {base_cpu:.2f}% of a core, RSS {base_rss:.1f} MiB")
    print(f"with {args.targets} targets at 15s: CPU {cpu:.2f}% of a core, RSS {rss:.1f} MiB")
    print(
        f"probes: {int(sums.get('ttft_seconds_count', 0))}, mean TTFT {mean * 1000:.1f} ms "
        f"(injected 250 ms, error {(mean - 0.25) * 1000:+.1f} ms)"
    )


if __name__ == "__main__":
    main()
