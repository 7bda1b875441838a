"""Benchmark `promspec check` on one service with 1, 2, 4 and 8 SLOs (issue 15, item 7).

Run: .venv/bin/python bench/check_slos.py [--runs 3] [--counts 1,2,4,8]

Each tree holds the bundled backends, catalogs and settings plus one vLLM service whose SLOs cycle through
TTFT, inter-token and end-to-end latency thresholds and errors. Two shapes: `same` (every SLO at 99% over 30d)
and `mixed` (objectives cycling 99%, 99.5%, 99.9%, so fewer unit-test files are the same test up to names).
The script generates once, then times `promspec check OUT` (a cold process; CPU includes promtool's, from
wait4), and prints the machine's state first, medians with min-max.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

from generate import BIN, BUNDLED, ROOT, run_once
from machine import load_now, print_machine, spread

SIGNALS = (
    ("ttft", "{signal: ttft, threshold: 500ms}"),
    ("itl", "{signal: inter_token_latency, threshold: 100ms}"),
    ("e2e", "{signal: e2e_latency, threshold: 30s}"),
    ("errors", "{signal: errors}"),
)
OBJECTIVES = {"same": ("99%",), "mixed": ("99%", "99.5%", "99.9%")}


def write_specs(root: str, count: int, shape: str) -> None:
    os.makedirs(os.path.join(root, "services"))
    for name in BUNDLED:
        source = os.path.join(ROOT, "specs", name)
        (shutil.copytree if os.path.isdir(source) else shutil.copy)(source, os.path.join(root, name))
    slos = []
    for i in range(count):
        name, sli = SIGNALS[i % len(SIGNALS)]
        objective = OBJECTIVES[shape][i % len(OBJECTIVES[shape])]
        slos.append(f"    - {{name: {name}{i}, objective: '{objective}', window: 30d, sli: {sli}}}\n")
    with open(os.path.join(root, "services", "chat.yml"), "w") as fh:
        fh.write(
            "apiVersion: promspec/v1\nkind: Service\nmetadata: {name: chat}\nspec:\n  backend: vllm\n"
            "  selector: {job: vllm}\n  alerting: {min_traffic: 0.05}\n  slos:\n" + "".join(slos)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--counts", default="1,2,4,8")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="promspec-bench-check-")
    try:
        print_machine(tools=["promtool"])
        print(f"median (min-max) of {args.runs} runs; `promspec check OUT`, cold process, promtool included")
        print("| SLOs | objectives | test files | wall s | CPU s |")
        print("|---:|---|---:|---:|---:|")
        for shape in OBJECTIVES:
            for count in (int(c) for c in args.counts.split(",")):
                specs, out = os.path.join(work, f"specs-{shape}{count}"), os.path.join(work, f"out-{shape}{count}")
                write_specs(specs, count, shape)
                run_once([BIN, "generate", specs, "-o", out, "-q"])
                tests = sum(f.endswith(".test.yml") for _d, _s, files in os.walk(out) for f in files)
                walls, cpus = [], []
                for _ in range(args.runs):
                    wall, cpu, _rss = run_once([BIN, "check", out])
                    walls.append(wall)
                    cpus.append(cpu)
                print(f"| {count} | {shape} | {tests} | {spread(walls, '.1f')} | {spread(cpus, '.1f')} |", flush=True)
        print(f"after: load average {load_now()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
