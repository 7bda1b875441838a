"""Benchmark the schema check of spec documents: jsonschema alone against the quick check first, per kind and count.

Run: .venv/bin/python bench/validation.py [--runs 5] [--counts 10,25,50,100,200]

`validate_documents` checks each document against its kind's JSON Schema. It first asks the kind's
quick yes/no check (model/schema_check.py, compiled in a few ms for all kinds) and asks jsonschema
only about the documents the quick check does not pass. For every kind
that specs/ holds, Dashboard (bench/dashboards.py's synthetic ones) and Probe (the test suite's
probe fixture), this measures
`validate_documents` over N valid documents of that kind (the bundled ones, repeated) with the fast
check forced off and on, CPU time (process_time),
the two interleaved run by run; the ratio is taken within each run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import interleaved, load_now, print_machine, ratios, spread

from promspec.diagnostics import Report
from promspec.model import validate
from promspec.model.loader import Document, load_paths, parse_text

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(docs: list[Document], quick: bool) -> Callable[[], float]:
    def run() -> float:
        saved = validate._quick_checks
        if not quick:
            validate._quick_checks = dict  # type: ignore[assignment]  # no quick check: jsonschema alone
        try:
            start = time.process_time()
            good = validate.validate_documents(docs, Report())
            took = time.process_time() - start
        finally:
            validate._quick_checks = saved
        if len(good) != len(docs):
            raise SystemExit("a bundled document failed its schema: nothing to measure")
        return took

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--counts", default="25,50,100,200,400")
    parser.add_argument("--kinds", default="", help="only these kinds, comma-separated (all)")
    args = parser.parse_args()
    print_machine(packages=["jsonschema"])
    docs = load_paths([os.path.join(REPO, "specs")], Report())
    from dashboards import synthetic_specs  # after promspec: it sets up sys.path the same way

    docs += [d for d in parse_text(synthetic_specs(20), "synthetic.yml", Report()) if d.data.get("kind") == "Dashboard"]
    probes = load_paths([os.path.join(REPO, "tests", "fixtures", "probes", "probes.yml")], Report())
    docs += [d for d in probes if d.data.get("kind") == "Probe"]
    by_kind: dict[str, list[Document]] = {}
    for doc in docs:
        if isinstance(doc.data, dict) and isinstance(doc.data.get("kind"), str):
            by_kind.setdefault(doc.data["kind"], []).append(doc)
    validate.validate_documents(docs, Report())  # jsonschema's validators are built once per process
    counts = [int(c) for c in args.counts.split(",")]
    print(f"\nCPU ms, median (min-max) of {args.runs} interleaved runs; quick/plain per run\n")
    print("| kind | bundled | documents | jsonschema ms | quick check ms | quick / plain |")
    print("|---|---:|---:|---:|---:|---:|")
    wanted = set(args.kinds.split(",")) if args.kinds else set(by_kind)
    for kind, kind_docs in sorted((k, v) for k, v in by_kind.items() if k in wanted):
        for n in counts:
            batch = [kind_docs[i % len(kind_docs)] for i in range(n)]
            plain, fast = interleaved(timed(batch, False), timed(batch, True), args.runs)
            print(
                f"| {kind} | {len(kind_docs)} | {n} | {spread([x * 1000 for x in plain], '.1f')} | "
                f"{spread([x * 1000 for x in fast], '.1f')} | {spread(ratios(fast, plain), '.2f')} |",
                flush=True,
            )
    print(f"\nafter: load average {load_now()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
