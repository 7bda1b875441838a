"""Benchmark promspec-exporter against Debian's prometheus-node-exporter on this machine.

Usage: .venv/bin/python bench/exporter.py [--scrapes 1000] [--rounds 5] [--cpus 128]
       .venv/bin/python bench/exporter.py --breakdown [--scrapes 300] [--cpus 128]
       .venv/bin/python bench/exporter.py --load [--load-seconds 10]

Two host shapes: this machine, and a synthetic procfs tree shaped like a GPU server (--cpus 128 CPUs,
8 NVMe disks, 10 network links; the other files copied from this host), which promspec-exporter and
node_exporter both read through `--path.procfs`. node_exporter runs with the same collectors, its own
Go/promhttp metrics off (`--web.disable-exporter-metrics`) and /proc/net/dev rather than netlink
(`--no-collector.netdev.netlink`), so that both read the same files. Scrapes ask for gzip (as
Prometheus does; promspec-exporter compresses at level 1, node_exporter at Go's default) and, in a
second pass, for no compression, which compares the exporters' own work alone. CPU ratios are taken
per round (the exporters scraped one after the other within a round) and reported as median (min-max).

For each exporter: sequential scrapes over one keep-alive loopback connection, asking for the text
format with gzip as Prometheus does; per round the p50/p99 latency and the exporter's CPU seconds
per 1,000 scrapes (utime+stime from /proc), medians over the rounds (rounds interleave the
exporters so machine noise hits all alike); peak RSS is the process's VmHWM. Then the GPU
collector alone, in-process, against the fake NVML (tests/exporter/fake_nvml.py): CPU and wall
time per collection and rendering. Prints a Markdown table for docs/BENCHMARKS.md.

--breakdown instead prints where a scrape's CPU goes, on this host and on the fixture: each host
collector called in line, the registry's own work (gather() less the collectors: self-metrics, and the
hand-off to its worker for collectors that are not run in line, none on a real /proc),
rendering, gzip at levels 1 (promspec-exporter's) and 6 (Go's default, node_exporter's), all
in-process, and the HTTP server's own cost per request (an exporter subprocess answering /healthz).

--gpu-rows instead measures, in-process against the fake NVML, what a record (frozen slotted
dataclass, slotted dataclass, NamedTuple) for the GPU collector's rows would cost against the tuple
it uses, as many rows as the fleet serves series, beside the collector's own CPU per scrape.

--load instead runs the exporter (with the fake GPUs) under concurrent loopback clients, each
phase bounded in time: 50 and 200 scrapers that open a fresh connection per scrape, then (for at
least 15 s, past the read-header timeout) 50 such scrapers alongside 300 slow clients that drip a
request's headers one byte a second. Per phase: answers by status, latency p50/p99, the share of
connects slower than 0.9 s, and the exporter's peak threads
and RSS (sampled from /proc every 50 ms).
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "exporter"))
sys.path.insert(0, str(REPO / "bench"))

from fake_nvml import FakeGpu, FakeNvml, fleet  # noqa: E402
from machine import load_now, print_machine, spread  # noqa: E402

from promspec.exporter.collectors.gpu import GpuCollector  # noqa: E402
from promspec.exporter.metrics import render_text  # noqa: E402
from promspec.exporter.options import Options  # noqa: E402

NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
# The node_exporter collectors that cover the same metric families as promspec-exporter's host collectors.
SAME_FAMILIES = ["cpu", "loadavg", "meminfo", "pressure", "filesystem", "diskstats", "netdev"]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mib(pid: int) -> float:
    """VmHWM (peak resident set) of a process, in MiB."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Target:
    """One exporter process listening on loopback."""

    def __init__(
        self,
        label: str,
        command: list,
        port_pattern: str | None,
        port: int | None,
        workdir: Path,
        env: dict | None = None,
    ):
        self.label, self.command = label, command
        self.log = workdir / (re.sub(r"\W+", "_", label) + ".log")
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        self.port = port or self._port_from_log(port_pattern)
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.rounds: list = []
        self.encoding = "gzip"

    def _port_from_log(self, pattern: str) -> int:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            match = re.search(pattern, self.log.read_text())
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise SystemExit(f"{self.label} did not start:\n{self.log.read_text()}")

    def scrape(self) -> float:
        start = time.perf_counter()
        try:
            response = self._get()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The exporter closed the kept-alive connection while other exporters had their turn
            # (idle timeout): reconnect, as Prometheus would.
            self.connection.close()
            start = time.perf_counter()
            response = self._get()
        elapsed = time.perf_counter() - start
        if response.status != 200:
            raise SystemExit(f"{self.label}: HTTP {response.status}")
        return elapsed

    def _get(self) -> http.client.HTTPResponse:
        self.connection.request(
            "GET", "/metrics", headers={"Accept": "text/plain;version=0.0.4", "Accept-Encoding": self.encoding}
        )
        response = self.connection.getresponse()
        response.read()
        return response

    def round(self, scrapes: int) -> None:
        cpu_before = cpu_seconds(self.process.pid)
        latencies = sorted(self.scrape() for _ in range(scrapes))
        cpu = cpu_seconds(self.process.pid) - cpu_before
        self.rounds.append(
            (latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1], cpu * 1000 / scrapes)
        )

    def series(self) -> int:
        self.connection.close()  # a fresh connection: the last round may have left this one idle too long
        self.connection.request("GET", "/metrics", headers={"Accept": "text/plain;version=0.0.4"})
        lines = self.connection.getresponse().read().decode().splitlines()
        return sum(1 for line in lines if line and not line.startswith("#"))

    def summary(self) -> dict:
        p50, p99, cpu = (statistics.median(r[i] for r in self.rounds) for i in range(3))
        return {
            "label": self.label,
            "p50_ms": p50 * 1000,
            "p99_ms": p99 * 1000,
            "cpu_s_per_1000": cpu,
            "peak_rss_mib": peak_rss_mib(self.process.pid),
            "series": self.series(),
        }

    def stop(self) -> None:
        self.connection.close()
        self.process.terminate()
        self.process.wait(timeout=10)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


NE_SAME = "node_exporter 1.5 (same families, exporter metrics off)"
OURS_HOST = "promspec-exporter (host collectors)"


def baseline_label(tree: str) -> str:
    return f"promspec-exporter (host collectors, baseline {Path(tree).name})"


def http_targets(workdir: Path, procfs: str, full: bool, baseline: str | None = None) -> list:
    """The exporters to compare, reading `procfs`; `full` adds the fake-GPU exporter and node_exporter's defaults;
    `baseline` (a source tree) adds promspec-exporter run from that tree's gen/, for an A/B in the same rounds."""
    ours = re.escape("listening on http://127.0.0.1:") + r"(\d+)"
    host = ["--collectors.disable=gpu", "--web.listen-address=127.0.0.1:0", f"--path.procfs={procfs}"]
    targets = [Target(OURS_HOST, [sys.executable, "-m", "promspec.exporter", *host], ours, None, workdir)]
    if baseline:
        env = {**os.environ, "PYTHONPATH": str(Path(baseline).resolve() / "gen")}
        command = [sys.executable, "-m", "promspec.exporter", *host]
        targets.append(Target(baseline_label(baseline), command, ours, None, workdir, env=env))
    if full:
        targets.append(
            Target(
                "promspec-exporter (host + 4 fake GPUs)",
                [
                    sys.executable,
                    str(REPO / "tests" / "exporter" / "fake_exporter.py"),
                    "--web.listen-address=127.0.0.1:0",
                ],
                ours,
                None,
                workdir,
            )
        )
    if NODE_EXPORTER:
        if full:
            port = free_port()
            targets.append(
                Target(
                    "node_exporter 1.5 (defaults)",
                    [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
                    None,
                    port,
                    workdir,
                )
            )
        port = free_port()
        targets.append(
            Target(
                NE_SAME,
                [
                    NODE_EXPORTER,
                    f"--web.listen-address=127.0.0.1:{port}",
                    f"--path.procfs={procfs}",
                    "--web.disable-exporter-metrics",
                    "--no-collector.netdev.netlink",
                    "--collector.disable-defaults",
                    *[f"--collector.{name}" for name in SAME_FAMILIES],
                ],
                None,
                port,
                workdir,
            )
        )
    return targets


def many_cpu_procfs(root: Path, cpus: int, disks: int = 8, links: int = 10) -> str:
    """A procfs tree shaped like a GPU server: `cpus` CPUs in stat, NVMe disks and network links added
    to this host's diskstats and net/dev; meminfo, loadavg, pressure and mounts copied from /proc."""
    root.mkdir(parents=True, exist_ok=True)
    stat = Path("/proc/stat").read_text().splitlines()
    cpu_lines = [line for line in stat if re.match(r"cpu\d+ ", line)]
    rest = [line for line in stat if not line.startswith("cpu")]
    first = [int(x) for x in cpu_lines[0].split()[1:]]
    lines = ["cpu  " + " ".join(str(v * cpus) for v in first)]
    lines += [f"cpu{i} " + " ".join(str(v + 37 * i) for v in first) for i in range(cpus)]
    (root / "stat").write_text("\n".join(lines + rest) + "\n")
    disk_lines = Path("/proc/diskstats").read_text().splitlines()
    disk_lines += [f" 259 {i} nvme{i}n1 " + " ".join(str(1000 * (i + 1) + j) for j in range(17)) for i in range(disks)]
    (root / "diskstats").write_text("\n".join(disk_lines) + "\n")
    (root / "net").mkdir(exist_ok=True)
    net = Path("/proc/net/dev").read_text().splitlines()
    net += [f"  ib{i}: " + " ".join(str(10**6 * (i + 1) + j) for j in range(16)) for i in range(links)]
    (root / "net" / "dev").write_text("\n".join(net) + "\n")
    for name in ("meminfo", "loadavg", "mounts"):
        shutil.copyfile(f"/proc/{name}", root / name)
    (root / "1").mkdir(exist_ok=True)
    shutil.copyfile("/proc/1/mounts" if os.access("/proc/1/mounts", os.R_OK) else "/proc/mounts", root / "1" / "mounts")
    if os.path.isdir("/proc/pressure"):
        (root / "pressure").mkdir(exist_ok=True)
        for name in os.listdir("/proc/pressure"):
            shutil.copyfile(f"/proc/pressure/{name}", root / "pressure" / name)
    return str(root)


def wait_ready(target: Target) -> None:
    end = time.monotonic() + 30
    while True:
        try:
            target.scrape()
            return
        except (OSError, http.client.HTTPException, SystemExit):
            target.connection.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def hgx(gpus: int = 8) -> FakeNvml:
    """An HGX-like box: eight GPUs with 18 NVLinks each."""
    return FakeNvml(
        [
            FakeGpu(f"GPU-{i:08d}-0000-0000-0000-000000000000", pci_bus_id=f"00000000:{i:02X}:00.0", nvlinks=18)
            for i in range(gpus)
        ]
    )


def gpu_collector_cost(label: str, nvml: FakeNvml, collections: int) -> dict:
    collector = GpuCollector(Options(gpu_slow_interval=3600.0), nvml=nvml)
    try:
        for _ in range(20):
            render_text(collector.collect())
        walls = []
        cpu_before = time.process_time()
        for _ in range(collections):
            start = time.perf_counter()
            body = render_text(collector.collect())
            walls.append(time.perf_counter() - start)
        cpu = (time.process_time() - cpu_before) / collections
    finally:
        collector.close()
    walls.sort()
    return {
        "label": label,
        "cpu_ms": cpu * 1000,
        "p50_ms": walls[len(walls) // 2] * 1000,
        "p99_ms": walls[int(len(walls) * 0.99) - 1] * 1000,
        "series": body.count(b"\n") - body.count(b"\n#"),
    }


def _proc_status(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class _Peak:
    """The exporter's peak thread count and RSS while a phase runs."""

    def __init__(self, pid: int):
        self.pid, self.threads, self.rss_kib = pid, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.threads = max(self.threads, _proc_status(self.pid, "Threads"))
            self.rss_kib = max(self.rss_kib, _proc_status(self.pid, "VmRSS"))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _scraper(port: int, stop: threading.Event, results: list, lock: threading.Lock) -> None:
    """Fresh connection per scrape, as many short-lived scrapers (or a reconnecting Prometheus) do."""
    while not stop.is_set():
        start = time.perf_counter()
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            connected = time.perf_counter() - start
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.sock = sock
            connection.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
            response = connection.getresponse()
            response.read()
            status: object = response.status
            connection.close()
        except (OSError, http.client.HTTPException) as exc:
            status, connected = type(exc).__name__, time.perf_counter() - start
        with lock:
            results.append((status, time.perf_counter() - start, connected))


def _slow_client(port: int, stop: threading.Event, cut: list, lock: threading.Lock) -> None:
    """Send a request line, then headers one byte a second, until the exporter hangs up or the phase ends."""
    start = time.perf_counter()
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(b"GET /metrics HTTP/1.1\r\n")
        while not stop.wait(1.0):
            sock.sendall(b"X")
        sock.close()
    except OSError:
        with lock:
            cut.append(time.perf_counter() - start)


def load_phase(port: int, pid: int, scrapers: int, slow: int, seconds: float) -> dict:
    """Run scrapers (and slow clients) for `seconds`; their outcomes and the exporter's peaks."""
    stop, lock = threading.Event(), threading.Lock()
    results: list = []
    cut: list = []
    peak = _Peak(pid)
    threads = [threading.Thread(target=_slow_client, args=(port, stop, cut, lock), daemon=True) for _ in range(slow)]
    threads += [
        threading.Thread(target=_scraper, args=(port, stop, results, lock), daemon=True) for _ in range(scrapers)
    ]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(60)
    peak.stop()
    statuses: dict = {}
    for status, _, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    latencies = sorted(r[1] for r in results if r[0] == 200) or [float("nan")]
    slow_connects = sum(1 for r in results if r[2] > 0.9)
    return {
        "scrapers": scrapers,
        "slow": slow,
        "seconds": seconds,
        "statuses": statuses,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000,
        "slow_connect_pct": 100 * slow_connects / max(len(results), 1),
        "threads": peak.threads,
        "rss_mib": peak.rss_kib / 1024,
        "slow_cut": len(cut),
        "slow_cut_max_s": max(cut, default=float("nan")),
    }


def run_load(seconds: float) -> int:
    with tempfile.TemporaryDirectory() as workdir:
        target = Target(
            "promspec-exporter (host + 4 fake GPUs)",
            [sys.executable, str(REPO / "tests" / "exporter" / "fake_exporter.py"), "--web.listen-address=127.0.0.1:0"],
            re.escape("listening on http://127.0.0.1:") + r"(\d+)",
            None,
            Path(workdir),
        )
        try:
            wait_ready(target)
            target.connection.close()
            phases = [
                load_phase(target.port, target.process.pid, 50, 0, seconds),
                load_phase(target.port, target.process.pid, 200, 0, seconds),
                load_phase(target.port, target.process.pid, 50, 300, max(seconds, 15.0)),
            ]
        finally:
            target.stop()
    print(
        f"Load: fresh connection per scrape, gzip, loopback, {seconds:g} s per phase; {os.cpu_count()} CPUs; "
        f"exporter defaults (--web.max-connections 128, --web.max-requests 64, read-header timeout 10s)\n"
    )
    print(
        "| scrapers | slow clients | answers (status: count) | p50 ms | p99 ms | connects > 0.9 s | "
        "peak threads | peak RSS MiB | slow clients cut off (latest, s) |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for p in phases:
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(p["statuses"].items(), key=lambda kv: str(kv[0])))
        cut = f"{p['slow_cut']} ({p['slow_cut_max_s']:.1f})" if p["slow"] else "-"
        print(
            f"| {p['scrapers']} | {p['slow']} | {answers} | {p['p50_ms']:.1f} | {p['p99_ms']:.1f} | "
            f"{p['slow_connect_pct']:.1f}% | {p['threads']} | {p['rss_mib']:.1f} | {cut} |"
        )
    return 0


def scrape_shape(workdir: Path, shape: str, procfs: str, full: bool, encoding: str, args: argparse.Namespace) -> None:
    """Scrape every target in interleaved rounds and print the table and the per-round CPU ratios."""
    targets = http_targets(workdir, procfs, full, args.baseline)
    try:
        for target in targets:
            target.encoding = encoding
            wait_ready(target)
            for _ in range(50):
                target.scrape()
        for _ in range(args.rounds):
            for target in targets:
                target.round(args.scrapes)
        results = [t.summary() for t in targets]
        per_round = {t.label: [r[2] for r in t.rounds] for t in targets}
    finally:
        for target in targets:
            target.stop()
    print(
        f"\n{shape}, Accept-Encoding {encoding}: {args.rounds} rounds x {args.scrapes} sequential scrapes, "
        "keep-alive; medians of rounds\n"
    )
    print("| exporter | series | p50 ms | p99 ms | CPU s / 1,000 scrapes | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['label']} | {r['series']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['cpu_s_per_1000']:.2f} | "
            f"{r['peak_rss_mib']:.1f} |"
        )
    ours = per_round[OURS_HOST]
    series = {r["label"]: r["series"] for r in results}
    if args.baseline:
        before = per_round[baseline_label(args.baseline)]
        change = [a / b for a, b in zip(ours, before, strict=True)]
        print(f"CPU per scrape, {OURS_HOST} / baseline: {spread(change, '.2f')}x per round")
        if NE_SAME in per_round:
            ratios = [a / b for a, b in zip(before, per_round[NE_SAME], strict=True) if b > 0]
            print(f"CPU per scrape, baseline / {NE_SAME}: {spread(ratios, '.2f')}x per round")
    for reference in (NE_SAME, "node_exporter 1.5 (defaults)"):
        if reference in per_round:
            ratios = [a / b for a, b in zip(ours, per_round[reference], strict=True) if b > 0]
            if ratios:
                # Per series too: node_exporter serves more series for the same families.
                scale = series[reference] / series[OURS_HOST]
                print(
                    f"CPU per scrape, {OURS_HOST} / {reference}: {spread(ratios, '.2f')}x per round; "
                    f"per series served {spread([x * scale for x in ratios], '.2f')}x"
                )


def _cpu_ms(fn, calls: int, repeats: int = 5) -> tuple:
    """CPU ms per call of fn: (median, min, max) of `repeats` runs of `calls` calls, after a warm-up."""
    for _ in range(20):
        fn()
    runs = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(calls):
            fn()
        runs.append((time.process_time() - start) * 1000 / calls)
    return statistics.median(runs), min(runs), max(runs)


def breakdown(procfs: str, calls: int) -> list:
    """(part, (median, min, max) CPU ms per scrape) for the host collectors reading procfs, in-process."""
    import gzip

    from promspec.exporter.collectors import DEFAULT, build
    from promspec.exporter.registry import Registry

    names = [name for name in DEFAULT if name != "gpu"]
    collectors = build(names, Options(procfs=procfs))
    registry = Registry(collectors)
    # What the registry calls: a collector's Families where it has one (collect() would also make a family
    # object per family, which a text scrape never does), so the collectors' rows add up to gather()'s.
    runs = [getattr(c, "collect_families", c.collect) for c in collectors]
    try:
        parts = [(f"collector {c.name}", _cpu_ms(run, calls)) for c, run in zip(collectors, runs, strict=True)]
        inline = _cpu_ms(lambda: [run() for run in runs], calls)
        gathered = _cpu_ms(registry.gather, calls)
        parts.append(("all collectors in line", inline))
        parts.append(
            (
                "registry: self-metrics, hand-offs if any (gather() less the above, medians)",
                (gathered[0] - inline[0], math.nan, math.nan),
            )
        )
        families = registry.gather().metrics
        parts.append(("render text", _cpu_ms(lambda: render_text(families), calls)))
        body = render_text(families)
        for level in (1, 6):
            parts.append(
                (
                    f"gzip level {level} ({len(body):,} bytes)",
                    _cpu_ms(lambda level=level: gzip.compress(body, level), calls),
                )
            )
    finally:
        registry.close()
    return parts


def http_cost(workdir: Path, calls: int) -> tuple:
    """CPU ms per /healthz request of an exporter subprocess (the HTTP server's own cost), 5 rounds."""
    ours = re.escape("listening on http://127.0.0.1:") + r"(\d+)"
    command = [
        sys.executable,
        "-m",
        "promspec.exporter",
        "--collectors.enable=loadavg",
        "--web.listen-address=127.0.0.1:0",
    ]
    target = Target("healthz", command, ours, None, workdir)
    try:
        wait_ready(target)
        runs = []
        for _ in range(5):
            before = cpu_seconds(target.process.pid)
            for _ in range(calls):
                target.connection.request("GET", "/healthz")
                target.connection.getresponse().read()
            runs.append((cpu_seconds(target.process.pid) - before) * 1000 / calls)
    finally:
        target.stop()
    return statistics.median(runs), min(runs), max(runs)


def run_breakdown(args: argparse.Namespace) -> int:
    print_machine(tools=[])
    with tempfile.TemporaryDirectory() as workdir:
        shapes = [("this host", "/proc")]
        if args.cpus:
            shapes.append((f"{args.cpus}-CPU fixture", many_cpu_procfs(Path(workdir) / "procfs", args.cpus)))
        tables = [(shape, breakdown(procfs, args.scrapes)) for shape, procfs in shapes]
        http = http_cost(Path(workdir), args.scrapes)
    print(f"\nCPU ms per scrape, in-process, median (min-max) of 5 x {args.scrapes} calls:\n")
    print("| part | " + " | ".join(shape for shape, _ in tables) + " |")
    print("|---|" + "---:|" * len(tables))
    for row, (part, _) in enumerate(tables[0][1]):
        cells = [
            f"{t[row][1][0]:.3f}" + ("" if math.isnan(t[row][1][1]) else f" ({t[row][1][1]:.3f}-{t[row][1][2]:.3f})")
            for _, t in tables
        ]
        print(f"| {part} | " + " | ".join(cells) + " |")
    print(f"| HTTP server per request (/healthz, subprocess) | {http[0]:.3f} ({http[1]:.3f}-{http[2]:.3f}) |")
    return 0


ROW_LABELS = {"gpu": "0", "uuid": "GPU-00000000-0000-0000-0000-000000000000"}


def run_gpu_rows(args: argparse.Namespace) -> int:
    """What a record for GPU rows (gpu/sample.py's Row) would cost against the tuple, per scrape."""
    from dataclasses import dataclass
    from typing import NamedTuple

    @dataclass(frozen=True, slots=True, kw_only=True)
    class FrozenRow:
        name: str
        labels: dict
        value: float

    @dataclass(slots=True, kw_only=True)
    class SlottedRow:
        name: str
        labels: dict
        value: float

    class NamedRow(NamedTuple):
        name: str
        labels: dict
        value: float

    print_machine(tools=[])
    print("\n| fake fleet | series | collect + render ms | rows as | make + read rows ms | more than the tuple |")
    print("|---|---:|---:|---|---:|---:|")
    for label, nvml in (("4 fake GPUs", fleet()), ("8 fake GPUs, HGX-like", hgx())):
        collector = GpuCollector(Options(gpu_slow_interval=3600.0), nvml=nvml)
        try:
            for _ in range(20):
                render_text(collector.collect())
            rows = sum(len(family.samples) for family in collector.collect())
            whole = _cpu_ms(lambda collector=collector: render_text(collector.collect()), max(args.scrapes // 4, 10))
        finally:
            collector.close()

        def as_tuples(rows=rows, labels=ROW_LABELS):
            for _name, _labels, _value in [("promspec_gpu_x", labels, 1.0) for _ in range(rows)]:
                pass

        def as_records(cls, rows=rows, labels=ROW_LABELS):
            for row in [cls(name="promspec_gpu_x", labels=labels, value=1.0) for _ in range(rows)]:
                _ = row.name, row.labels, row.value

        costs = {"tuple": _cpu_ms(as_tuples, args.scrapes)}
        for kind, cls in (("frozen slotted dataclass", FrozenRow), ("slotted dataclass", SlottedRow)):
            costs[kind] = _cpu_ms(lambda cls=cls: as_records(cls), args.scrapes)
        costs["NamedTuple"] = _cpu_ms(lambda: as_records(NamedRow), args.scrapes)
        for kind, cost in costs.items():
            extra = cost[0] - costs["tuple"][0]
            print(
                f"| {label} | {rows} | {whole[0]:.2f} ({whole[1]:.2f}-{whole[2]:.2f}) | {kind} | "
                f"{cost[0]:.3f} ({cost[1]:.3f}-{cost[2]:.3f}) | {extra:+.3f} ms ({100 * extra / whole[0]:+.1f}%) |"
            )
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=1000, help="scrapes per round (1000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per exporter (5)")
    parser.add_argument("--cpus", type=int, default=128, help="CPUs of the procfs fixture (128; 0: host only)")
    parser.add_argument("--fixture-only", action="store_true", help="only the procfs fixture, not this host")
    parser.add_argument("--load", action="store_true", help="concurrent-client load phases instead (loopback)")
    parser.add_argument("--breakdown", action="store_true", help="where a scrape's CPU goes, in-process, instead")
    parser.add_argument(
        "--gpu-rows", action="store_true", help="what a record for GPU rows would cost against the tuple, instead"
    )
    parser.add_argument("--load-seconds", type=float, default=10.0, help="length of each load phase (10)")
    parser.add_argument(
        "--baseline",
        metavar="TREE",
        help="also run promspec-exporter from TREE/gen (e.g. an unmodified `git archive` of an older commit), "
        "in the same interleaved rounds, and print this tree's CPU per scrape against it",
    )
    args = parser.parse_args(argv)
    if args.breakdown:
        return run_breakdown(args)
    if args.gpu_rows:
        return run_gpu_rows(args)
    if args.load:
        if not 1 <= args.load_seconds <= 60:
            parser.error("--load-seconds must be between 1 and 60")
        print_machine(tools=[])
        status = run_load(args.load_seconds)
        print(f"\nafter: load average {load_now()}")
        return status
    if not NODE_EXPORTER:
        print("prometheus-node-exporter not found: comparing nothing (make tools installs it)", file=sys.stderr)
    print_machine(tools=["prometheus-node-exporter"])
    with tempfile.TemporaryDirectory() as workdir:
        shapes = [] if args.fixture_only else [("this host", "/proc", True)]
        if args.cpus:
            fixture = many_cpu_procfs(Path(workdir) / "procfs", args.cpus)
            shapes.append((f"procfs fixture: {args.cpus} CPUs, 8 NVMe disks, 10 links", fixture, False))
        for shape, procfs, full in shapes:
            for encoding in ("gzip", "identity"):
                scrape_shape(Path(workdir), shape, procfs, full and encoding == "gzip", encoding, args)
    gpu = [
        gpu_collector_cost("4 fake GPUs (NVLink, MIG, sparse fields)", fleet(), args.scrapes),
        gpu_collector_cost("8 fake GPUs, 18 NVLinks each (HGX-like)", hgx(), args.scrapes),
    ]
    print(f"\nafter: load average {load_now()}")
    print(
        "\nGPU collector alone, in-process, fake NVML (collect + render text; the fake's own Python cost included):\n"
    )
    print("| fake fleet | series | CPU ms / scrape | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    for r in gpu:
        print(f"| {r['label']} | {r['series']} | {r['cpu_ms']:.2f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
