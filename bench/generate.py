"""Benchmark `promspec generate` on realistic services (each a `kind: Service` with 3 SLOs and its dashboards).

Run: .venv/bin/python bench/generate.py [--runs 3] [--sizes 1,100,1000]

Every run generates from a tree holding the bundled backends, catalogs and settings (copied from
specs/) plus N services. Each service names a bundled backend (cycling through those with the three
signals used), a selector, and three SLOs (TTFT under a threshold, errors, end-to-end latency); the
generator writes their burn-rate rules, promtool tests, one service dashboard and three SLO
dashboards per service. The script prints the machine's state first (cores, load average, Python,
whether .pyc files are written), then per size the median and min-max of wall time and the peak RSS
of the generate process, and a floor: the CPU (user + system) that plain Python takes to write the same
files' bytes into a fresh directory (what no generator can save; creating files is a kernel cost that
varies with the machine).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import load_now, print_machine, spread

BIN = os.path.join(os.path.dirname(sys.executable), "promspec")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED = ("backends", "catalog", "settings.yml")
# Bundled backends that expose ttft, errors and an end-to-end latency histogram, with a TTFT and an
# end-to-end threshold that are bucket bounds of theirs.
BACKENDS = (
    ("vllm", "500ms", "10s"),
    ("sglang", "400ms", "10s"),
    ("generic", "500ms", "10s"),
    ("litellm", "500ms", "10s"),
    ("otel_genai", "500ms", "10240ms"),
)

SERVICE = """\
apiVersion: promspec/v1
kind: Service
metadata:
  name: svc{i:05d}
  labels: {{team: team{team}}}
spec:
  backend: {backend}
  selector: {{job: svc{i:05d}}}
  alerting: {{min_traffic: 0.05}}
  slos:
    - name: ttft
      description: Time to first token under {ttft}
      objective: 99%
      window: 30d
      sli: {{signal: ttft, threshold: {ttft}}}
    - name: errors
      description: Requests without an engine error
      objective: 99.5%
      sli: {{signal: errors}}
    - name: e2e
      description: End-to-end latency under {e2e}
      objective: 99%
      sli: {{signal: e2e_latency, threshold: {e2e}}}
"""


def write_specs(root: str, n: int) -> None:
    os.makedirs(os.path.join(root, "services"), exist_ok=True)
    for name in BUNDLED:
        src = os.path.join(ROOT, "specs", name)
        dst = os.path.join(root, name)
        if os.path.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)
    for i in range(n):
        backend, ttft, e2e = BACKENDS[i % len(BACKENDS)]
        text = SERVICE.format(i=i, team=i % 20, backend=backend, ttft=ttft, e2e=e2e)
        with open(os.path.join(root, "services", f"svc{i:05d}.yml"), "w", encoding="utf-8") as fh:
            fh.write(text)


def run_once(cmd: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MiB) of one command, measured from a fresh child (wait4's rusage).

    CPU time (user + system) is reported beside wall time: on a shared machine wall time measures the
    neighbours too."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def write_floor(out: str, copy: str) -> float:
    """CPU seconds (user + system) to write out's files again under copy, from bytes already in memory."""
    files = {}
    for dirpath, _dirs, names in os.walk(out):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as fh:
                files[os.path.relpath(path, out)] = fh.read()
    start = time.process_time()
    made: set[str] = set()
    for rel, data in sorted(files.items()):
        target = os.path.join(copy, rel)
        parent = os.path.dirname(target)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        with open(target, "wb") as fh:
            fh.write(data)
    used = time.process_time() - start
    shutil.rmtree(copy, ignore_errors=True)
    return used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1,100,1000")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="promspec-bench-")
    try:
        print_machine(tools=["promtool"])
        print(f"median (min-max) of {args.runs} runs; `promspec generate SPECS -o OUT -q`, cold process")
        print("| services | SLOs | files written | MB written | wall s | CPU s | floor CPU s | peak RSS MiB |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in (int(s) for s in args.sizes.split(",")):
            specs = os.path.join(work, f"specs{n}")
            write_specs(specs, n)
            out = os.path.join(work, f"out{n}")
            times, cpu, rss = [], [], []
            for _ in range(args.runs):
                wall, used, peak = run_once([BIN, "generate", specs, "-o", out, "-q"])
                times.append(wall)
                cpu.append(used)
                rss.append(peak)
            files = sum(len(f) for _d, _s, f in os.walk(out))
            megabytes = sum(os.path.getsize(os.path.join(d, f)) for d, _s, fs in os.walk(out) for f in fs) / 1e6
            floor = [write_floor(out, os.path.join(work, f"floor{n}")) for _ in range(args.runs)]
            shutil.rmtree(out, ignore_errors=True)
            print(
                f"| {n} | {3 * n} | {files} | {megabytes:.0f} | {spread(times, '.2f')} | {spread(cpu, '.2f')} "
                f"| {spread(floor, '.2f')} | {spread(rss, '.0f')} |",
                flush=True,
            )
        print(f"after: load average {load_now()}")
        help_times = [run_once([BIN, "--help"])[0] for _ in range(max(args.runs, 10))]
        print(
            f"\n`promspec --help` cold start: {spread([t * 1000 for t in help_times], '.0f')} ms "
            f"over {len(help_times)} runs"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
