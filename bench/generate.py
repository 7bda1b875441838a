"""Benchmark `promspec generate` on realistic services (each a `kind: Service` with 3 SLOs and its dashboards).

Run: .venv/bin/python bench/generate.py [--runs 3] [--sizes 1,100,1000] [--jobs 1,auto] [--output-on disk,tmpfs]
     .venv/bin/python bench/generate.py --timeline [--runs 3] [--sizes 1000] [--jobs auto]

Every run generates from a tree holding the bundled backends, catalogs and settings (copied from
specs/) plus N services. Each service names a bundled backend (cycling through those with the three
signals used), a selector, and three SLOs (TTFT under a threshold, errors, end-to-end latency); the
generator writes their burn-rate rules, promtool tests, one service dashboard and three SLO
dashboards per service. The script prints the machine's state first (cores, load average, Python,
whether .pyc files are written), then per size the median and min-max of wall time and the peak RSS
of the generate process tree, and a floor: the CPU (user + system) that plain Python takes to write the same
files' bytes into a fresh directory (what no generator can save; creating files is a kernel cost that
varies with the machine).

Memory of a generate that forks workers (`--jobs N`, N > 1) is the sum over its processes: the tree under
the generate process is sampled from /proc, and the table gives the largest sum of resident sets seen at
once ("peak RSS", read every 50 ms; what the machine had to hold; pages a worker shares with its parent
after fork count in both, so it overstates) and the largest sum of proportional sets ("peak PSS", shared
pages split between their holders; read at most PSS_SHARE of the time, because the kernel walks every
page to count it), next to the largest single process (wait4's ru_maxrss, exact).

Where the output goes (`--output-on`): `disk`, a directory beside the specs (the filesystem of the temp
directory), and `tmpfs`, a directory under /dev/shm. Creating a file is kernel work whose cost depends on
the filesystem and the machine far more than on promspec: on the 2-vCPU VM these figures were taken on
(ext4 mounted with `discard`), writing the 1,000-service tree's 23,018 files took 2.7 s of CPU in one
minute and 7-14 s in the next, against 0.8-1.0 s on tmpfs. The tmpfs rows show promspec's own work with
that noise taken out; "CPU less floor" is the median CPU minus the median floor of the same rows.

`--timeline` instead runs bench/timeline.py (generate in one process with timers, output on tmpfs) and
prints per run when the parent forks and what it spent before (imports and the named steps, wall seconds),
each process's items and CPU after the fork, and when the parent joins and exits: where a change to the
work before the fork (one process alone) or after it (shared by the workers) shows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import load_now, print_machine, spread

TMPFS = "/dev/shm"

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


@dataclass(frozen=True, kw_only=True)
class Usage:
    """One run of a command: times, and its memory summed over the process tree."""

    wall: float
    cpu: float  # user + system of the process and every child it waited for (wait4's rusage)
    largest: float  # MiB: the largest single process's peak RSS (wait4's ru_maxrss: itself or a child)
    rss: float  # MiB: the largest sum of RSS over the tree seen at one sample (at least `largest`)
    pss: float  # MiB: the largest sum of PSS over the tree seen at one sample


def _children(pid: int) -> list[int] | None:
    """pid's child processes from /proc/<pid>/task/<tid>/children, or None where the kernel has no such file."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []  # exited
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                found.extend(int(c) for c in fh.read().split())
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue  # the thread exited meanwhile
            return None
        except OSError:
            continue
    return found


def _scanned_children() -> dict[int, list[int]]:
    """Every process's children, from a scan of /proc (kernels without the children files)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    return parents


def _tree(root: int) -> list[int]:
    """root and its descendants: from the children files where the kernel has them (a scan of /proc reads
    every process's stat, 3-4 ms of CPU per sample here), else from a scan."""
    scanned: dict[int, list[int]] | None = None
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        children = _children(pid) if scanned is None else None
        if children is None:
            scanned = scanned if scanned is not None else _scanned_children()
            children = scanned.get(pid, [])
        todo.extend(children)
    return found


def _kib(path: str, key: str) -> int:
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# The sampler's share of one CPU spent reading PSS, at most. smaps_rollup walks every page of a process
# under its memory-map lock: 0.13 s per read of a 1.2 GB Python heap here (2.85 GB at 10,000 services).
# Read every 50 ms, as RSS is, it took 14.4 s of CPU while generate -j 2 of 2,000 services took 33 s, and
# blocked generate 2,400 times (voluntary context switches: 53 without it): on 2 vCPUs, most of a CPU
# taken from the run it measures, the more so the larger the run. PSS is read on its own clock instead.
PSS_SHARE = 0.1


def _sampler(root: int, peaks: dict[str, float], stop: threading.Event) -> None:
    """RSS of the tree every 50 ms (status: cheap); PSS as often as PSS_SHARE allows (each read sets the time
    to the next one): a worker's copy-on-write copies raise PSS at a flat RSS, so RSS cannot say when."""
    pss_after = 0.0  # perf_counter time before which PSS is not read again
    while not stop.wait(0.05):
        pids = _tree(root)
        rss = sum(_kib(f"/proc/{p}/status", "VmRSS:") for p in pids) / 1024
        peaks["rss"] = max(peaks["rss"], rss)
        if time.perf_counter() >= pss_after:
            start = time.perf_counter()
            pss = sum(_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids) / 1024
            pss_after = start + (time.perf_counter() - start) / PSS_SHARE
            peaks["pss"] = max(peaks["pss"], pss)


def run_once(cmd: list[str]) -> Usage:
    """One command, measured from a fresh child (wait4's rusage) and its process tree sampled from /proc.

    CPU time (user + system) is reported beside wall time: on a shared machine wall time measures the
    neighbours too."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks = {"rss": 0.0, "pss": 0.0}
    stop = threading.Event()
    sampler = threading.Thread(target=_sampler, args=(proc.pid, peaks, stop), daemon=True)
    sampler.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode() if proc.stderr else ''}")
    largest = usage.ru_maxrss / 1024
    return Usage(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        largest=largest,
        rss=max(peaks["rss"], largest),
        pss=peaks["pss"],
    )


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
    parser.add_argument(
        "--jobs",
        default="1,auto",
        help="comma-separated `generate --jobs` values (numbers or auto, the default of generate) to run at each size",
    )
    parser.add_argument(
        "--output-on", default="disk,tmpfs", help=f"comma-separated: disk (beside the specs), tmpfs ({TMPFS})"
    )
    parser.add_argument(
        "--timeline", action="store_true", help="per run, the steps before the fork and each process's share after"
    )
    args = parser.parse_args()
    if args.timeline:
        _timelines(args.sizes, args.jobs, args.runs)
        return
    places = args.output_on.split(",")
    unknown = sorted(set(places) - {"disk", "tmpfs"})
    if unknown:
        parser.error(f"--output-on: unknown {', '.join(unknown)} (expected disk, tmpfs)")
    if "tmpfs" in places and not os.path.isdir(TMPFS):
        parser.error(f"--output-on tmpfs: {TMPFS} does not exist here")
    work = tempfile.mkdtemp(prefix="promspec-bench-")
    shm = tempfile.mkdtemp(prefix="promspec-bench-", dir=TMPFS) if "tmpfs" in places else work
    try:
        print_machine(tools=["promtool"])
        for place in places:
            print(f"output on {place}: {_filesystem(work if place == 'disk' else shm)}")
        print(f"median (min-max) of {args.runs} runs; `promspec generate SPECS -o OUT -q --jobs N`, cold process")
        print(
            "| services | SLOs | jobs | output on | files written | MB written | wall s | CPU s | floor CPU s "
            "| CPU less floor s | peak RSS MiB (sum) | peak PSS MiB (sum) | largest process MiB |"
        )
        print("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in (int(s) for s in args.sizes.split(",")):
            specs = os.path.join(work, f"specs{n}")
            write_specs(specs, n)
            for jobs in args.jobs.split(","):
                for place in places:
                    _row(n, jobs, place, specs, work if place == "disk" else shm, args.runs)
            shutil.rmtree(specs, ignore_errors=True)
        print(f"after: load average {load_now()}")
        help_times = [run_once([BIN, "--help"]).wall for _ in range(max(args.runs, 10))]
        print(
            f"\n`promspec --help` cold start: {spread([t * 1000 for t in help_times], '.0f')} ms "
            f"over {len(help_times)} runs"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(shm, ignore_errors=True)


def _row(n: int, jobs: str, place: str, specs: str, where: str, runs_wanted: int) -> None:
    """One table row: generate n services runs_wanted times with its output under `where`, then the floor there."""
    out = os.path.join(where, f"out{n}")
    runs = [run_once([BIN, "generate", specs, "-o", out, "-q", "--jobs", str(jobs)]) for _ in range(runs_wanted)]
    files = sum(len(f) for _d, _s, f in os.walk(out))
    megabytes = sum(os.path.getsize(os.path.join(d, f)) for d, _s, fs in os.walk(out) for f in fs) / 1e6
    floor = [write_floor(out, os.path.join(where, f"floor{n}")) for _ in range(runs_wanted)]
    shutil.rmtree(out, ignore_errors=True)
    own = statistics.median(r.cpu for r in runs) - statistics.median(floor)
    print(
        f"| {n} | {3 * n} | {jobs} | {place} | {files} | {megabytes:.0f} | {spread([r.wall for r in runs], '.2f')} "
        f"| {spread([r.cpu for r in runs], '.2f')} | {spread(floor, '.2f')} | {own:.2f} "
        f"| {spread([r.rss for r in runs], '.0f')} | {spread([r.pss for r in runs], '.0f')} "
        f"| {spread([r.largest for r in runs], '.0f')} |",
        flush=True,
    )


def _timelines(sizes: str, jobs_list: str, runs: int) -> None:
    """--timeline: one line per run of bench/timeline.py, then the step names it timed."""
    work = tempfile.mkdtemp(prefix="promspec-bench-")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "timeline.py")
    try:
        print_machine(tools=["promtool"])
        print("one generate per row, in a process timed by bench/timeline.py; seconds from its start")
        print(
            "| services | jobs | imports s | steps before the fork, wall s | fork at s | CPU before fork s "
            "| after the fork: items, CPU s (wall s) per process | joined at s | exit at s |"
        )
        print("|---:|---:|---:|---|---:|---:|---|---:|---:|")
        for n in (int(s) for s in sizes.split(",")):
            specs = os.path.join(work, f"specs{n}")
            write_specs(specs, n)
            for jobs in jobs_list.split(","):
                for _ in range(runs):
                    done = subprocess.run(
                        [sys.executable, script, specs, "--jobs", jobs], capture_output=True, text=True, check=True
                    )
                    t = json.loads(done.stdout.splitlines()[-1])
                    before = t.get("steps_before_fork_s", t["steps_s"])  # -j 1 forks nothing: the whole run's
                    steps = ", ".join(f"{k} {v:.2f}" for k, v in before.items())
                    shares = "; ".join(f"{p['items']}, {p['cpu_s']:.2f} ({p['wall_s']:.2f})" for p in t["processes"])
                    missing = f" (not found: {', '.join(t['missing_steps'])})" if t["missing_steps"] else ""
                    print(
                        f"| {n} | {jobs} | {t['imports_s']:.2f} | {steps or '-'}{missing} | {t.get('fork_at_s', '-')} "
                        f"| {t.get('cpu_before_fork_s', '-')} | {shares} | {t.get('joined_at_s', '-')} "
                        f"| {t['exit_at_s']:.2f} |",
                        flush=True,
                    )
            shutil.rmtree(specs, ignore_errors=True)
        print(f"after: load average {load_now()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _filesystem(path: str) -> str:
    """The type and mount options of the filesystem holding path (the mount with the longest matching prefix)."""
    real = os.path.realpath(path)
    best = ("", "unknown", "")
    with open("/proc/self/mounts", encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) < 4:
                continue
            point = fields[1]
            inside = real == point or real.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best[0]):
                best = (point, fields[2], fields[3])
    return f"{best[1]} mounted at {best[0]} ({best[2]})"


if __name__ == "__main__":
    main()
