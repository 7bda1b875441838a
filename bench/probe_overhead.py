"""LLM probe overhead on promspec-exporter: CPU and RSS with and without --probe.config (N targets).

Runs two exporter subprocesses side by side for the same --seconds (host collectors only, and the same
with the probes) against the test suite's fake OpenAI-compatible server on loopback, scrapes both every
15 s like Prometheus (the order alternating each round), and reads utime+stime and VmRSS from /proc:
both sides see the same load, so their difference is measured in one run. Also reports the probe's
TTFT against the delay the server injected, per scrape interval (median and min-max).

Prints the machine's state first and the load average again at the end.
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import load_now, print_machine, spread

from fake_llm import FakeLLM

TICK = os.sysconf("SC_CLK_TCK")
SCRAPE_EVERY = 15.0
INJECTED_TTFT = 0.25


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


def ttft_totals(body: str) -> tuple[float, float]:
    """(sum, count) of promspec_probe_llm_ttft_seconds over every target in one scrape."""
    total = count = 0.0
    for line in body.splitlines():
        if line.startswith("promspec_probe_llm_ttft_seconds_sum"):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith("promspec_probe_llm_ttft_seconds_count"):
            count += float(line.rsplit(" ", 1)[1])
    return total, count


@dataclass(kw_only=True)
class Side:
    """One exporter subprocess and what was read from it."""

    label: str
    proc: subprocess.Popen[bytes]
    url: str
    cpu_start: float = 0.0
    bodies: list[str] = field(default_factory=list)

    def scrape(self) -> None:
        with urllib.request.urlopen(self.url, timeout=5) as resp:
            self.bodies.append(resp.read().decode())


def start(label: str, probe_config: str | None) -> Side:
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
    return Side(label=label, proc=proc, url=f"http://127.0.0.1:{port}/metrics")


def wait_ready(side: Side) -> None:
    for _ in range(300):
        try:
            with urllib.request.urlopen(side.url, timeout=2) as resp:
                resp.read()
            return
        except OSError:
            if side.proc.poll() is not None:
                raise SystemExit(f"{side.label}: the exporter exited with {side.proc.returncode}") from None
            time.sleep(0.1)
    raise SystemExit(f"{side.label}: no answer on {side.url} in 30 s")


def measure(sides: list[Side], seconds: float) -> float:
    """Scrape every side each SCRAPE_EVERY seconds for `seconds`, alternating the order; the elapsed time."""
    for side in sides:
        side.cpu_start = cpu_seconds(side.proc.pid)
    began = time.monotonic()
    rounds = 0
    while True:
        for side in sides if rounds % 2 == 0 else reversed(sides):
            side.scrape()
        rounds += 1
        left = seconds - (time.monotonic() - began)
        if left <= 0:
            break
        time.sleep(min(SCRAPE_EVERY, left))
    return time.monotonic() - began


def interval_ttfts(bodies: list[str]) -> list[float]:
    """Mean TTFT of the probes completed between consecutive scrapes (intervals with none left out)."""
    totals = [ttft_totals(b) for b in bodies]
    out = []
    for (s0, c0), (s1, c1) in itertools.pairwise(totals):
        if c1 > c0:
            out.append((s1 - s0) / (c1 - c0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=90)
    args = parser.parse_args()
    if args.targets < 1 or args.seconds < SCRAPE_EVERY:
        parser.error(f"--targets must be at least 1 and --seconds at least {SCRAPE_EVERY:g}")
    print_machine()
    fake = FakeLLM({})
    fake.stream.update(ttft=INJECTED_TTFT, gap=0.02, tokens=16)
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as fh:
        fh.write("location: bench\ntargets:\n")
        for i in range(args.targets):
            fh.write(
                f"  - {{name: t{i}, url: 'http://127.0.0.1:{fake.port}/healthy/v1/chat/completions', "
                f"model: m, interval: 15s, timeout: 10s, max_tokens: 16}}\n"
            )
    sides: list[Side] = []
    try:
        sides = [start("host collectors only", None), start(f"+ {args.targets} LLM probe targets at 15 s", fh.name)]
        for side in sides:
            wait_ready(side)
        elapsed = measure(sides, args.seconds)
        cpu = [cpu_seconds(s.proc.pid) - s.cpu_start for s in sides]
        rss = [rss_mib(s.proc.pid) for s in sides]
    finally:
        # The fake server first: it lets the streams in flight finish, where killing the exporter
        # mid-stream made the server print a connection-reset traceback into the report.
        fake.close()
        for side in sides:
            side.proc.terminate()
            side.proc.wait(10)
        os.unlink(fh.name)
    print(
        f"\nboth exporters side by side for {elapsed:.0f} s, scraped every {SCRAPE_EVERY:g} s "
        f"(CPU from /proc in clock ticks of {1000 / TICK:.0f} ms)\n"
    )
    print("| exporter | CPU s | CPU (% of one core) | RSS MiB |")
    print("|---|---:|---:|---:|")
    for side, c, r in zip(sides, cpu, rss, strict=True):
        print(f"| {side.label} | {c:.2f} | {c / elapsed * 100:.2f} % | {r:.1f} |")
    extra_pct = (cpu[1] - cpu[0]) / elapsed * 100
    print(
        f"\nprobes' cost, same run: {extra_pct:+.2f} % of a core, {rss[1] - rss[0]:+.1f} MiB RSS; per target "
        f"{extra_pct / args.targets:+.3f} % and {(rss[1] - rss[0]) / args.targets:+.2f} MiB"
    )
    total, count = ttft_totals(sides[1].bodies[-1])
    per_interval = interval_ttfts(sides[1].bodies)
    mean = total / count if count else float("nan")
    line = f"probes: {int(count)}, mean TTFT {mean * 1000:.1f} ms (injected {INJECTED_TTFT * 1000:.0f} ms, "
    line += f"error {(mean - INJECTED_TTFT) * 1000:+.1f} ms)"
    if per_interval:
        line += f"; per {SCRAPE_EVERY:g} s interval, mean TTFT ms: median (min-max) "
        line += spread([t * 1000 for t in per_interval], ".1f") + f" over {len(per_interval)} intervals"
    print(line)
    print(f"after: load average {load_now()}")


if __name__ == "__main__":
    main()
