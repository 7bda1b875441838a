"""Benchmark `promspec generate` on 1, 100 and 1,000 synthetic services, and `promspec --help` cold start.

Run: .venv/bin/python bench/generate.py [--runs 5] [--sizes 1,100,1000]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BIN = os.path.join(os.path.dirname(sys.executable), "promspec")

SERVICE = """\
apiVersion: promspec/v1
kind: Catalog
metadata: {{name: svc{i}}}
spec:
  metrics:
    - {{name: svc{i}_requests_total, type: counter, labels: [model, code]}}
    - {{name: svc{i}_errors_total, type: counter, labels: [model, type]}}
    - name: svc{i}_latency_seconds
      type: histogram
      labels: [model]
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10]
---
apiVersion: promspec/v1
kind: RecordingGroup
metadata: {{name: svc{i}-recording}}
spec:
  rules:
    - record: svc{i}:request_rate_5m
      expr: sum by (model) (rate(svc{i}_requests_total[5m]))
    - record: svc{i}:error_rate_5m
      expr: sum by (model, type) (rate(svc{i}_errors_total[5m]))
    - record: svc{i}:error_ratio_5m
      expr: sum by (model) (rate(svc{i}_errors_total[5m])) / sum by (model) (rate(svc{i}_requests_total[5m]))
    - record: svc{i}:latency_p95_5m
      expr: histogram_quantile(0.95, sum by (model, le) (rate(svc{i}_latency_seconds_bucket[5m])))
---
apiVersion: promspec/v1
kind: AlertGroup
metadata: {{name: svc{i}-alerts}}
spec:
  labels: {{service: svc{i}}}
  alerts:
    - name: Svc{i}HighErrorRatio
      expr: svc{i}:error_ratio_5m > 0.05
      for: 5m
      severity: page
      summary: "svc{i} error ratio {{{{ $value | humanizePercentage }}}}"
    - name: Svc{i}HighLatency
      expr: svc{i}:latency_p95_5m > 2
      for: 10m
      severity: ticket
    - name: Svc{i}Down
      expr: up{{job="svc{i}"}} == 0
      for: 2m
      severity: page
---
apiVersion: promspec/v1
kind: Targets
metadata: {{name: svc{i}-targets}}
spec:
  jobs:
    - name: svc{i}
      targets: [localhost:{port}]
      file_sd: {file_sd}
"""


def write_specs(root: str, n: int) -> None:
    os.makedirs(root, exist_ok=True)
    for i in range(n):
        with open(os.path.join(root, f"svc{i:04d}.yml"), "w", encoding="utf-8") as fh:
            fh.write(SERVICE.format(i=i, port=20000 + i, file_sd="true" if i % 2 else "false"))


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="1,100,1000")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="promspec-bench-")
    try:
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, median of {args.runs} runs")
        print("| services | spec documents | rules | generate (median s) | min s |")
        print("|---:|---:|---:|---:|---:|")
        for n in (int(s) for s in args.sizes.split(",")):
            specs = os.path.join(work, f"specs{n}")
            write_specs(specs, n)
            out = os.path.join(work, f"out{n}")
            times = [timed([BIN, "generate", specs, "-o", out, "-q"]) for _ in range(args.runs)]
            print(f"| {n} | {4 * n} | {7 * n} | {statistics.median(times):.3f} | {min(times):.3f} |")
        help_times = [timed([BIN, "--help"]) for _ in range(max(args.runs, 20))]
        print(f"\n`promspec --help` cold start: median {statistics.median(help_times) * 1000:.0f} ms, "
              f"min {min(help_times) * 1000:.0f} ms over {len(help_times)} runs")
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"peak RSS of the largest child: {rss:.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
