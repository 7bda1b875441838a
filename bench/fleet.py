"""Global-tier cost of a fleet (issue 16): vmalert evaluating the rendered global rules of N SLOs over C clusters.

Renders N Services (one 99.9% availability SLO each) with a Topology of C clusters on VictoriaMetrics, imports
D days of per-cluster 5m rates at 30s (what the clusters would have sent), runs vmalert on the rendered flags for
--seconds, and reads vmalert_iteration_duration_seconds per group. Prints the machine's state, then one JSON object:
per kind of group, the mean of each group's evaluations, and across the groups of that kind their median with
min-max and their sum.

    .venv/bin/python bench/fleet.py --slos 100 --clusters 2 --days 1 --seconds 90
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, HERE)

from machine import load_now, print_machine  # noqa: E402

from fleet_servers import VictoriaMetrics, vmalert_args  # noqa: E402

from conftest import free_port  # noqa: E402

STEP = 30


def spec(slos: int, clusters: int, vm_url: str) -> str:
    docs = [
        "apiVersion: promspec/v1\nkind: Catalog\nmetadata: {name: fleet}\nspec:\n  metrics:\n"
        "    - {name: fleet_requests_total, type: counter, help: Requests, labels: [code, service]}\n"
    ]
    for c in range(clusters):
        docs.append(
            f"apiVersion: promspec/v1\nkind: Targets\nmetadata: {{name: c{c}}}\nspec:\n  jobs:\n"
            f"    - name: llm-c{c}\n      targets: ['127.0.0.1:9']\n"
        )
    for i in range(slos):
        docs.append(
            f"apiVersion: promspec/v1\nkind: Service\nmetadata: {{name: svc{i}}}\nspec:\n  slos:\n"
            "    - name: availability\n      objective: 99.9%\n      sli:\n        ratio:\n"
            f'          errors: sum(rate(fleet_requests_total{{service="svc{i}",code=~"5.."}}[{{{{window}}}}]))\n'
            f'          total: sum(rate(fleet_requests_total{{service="svc{i}"}}[{{{{window}}}}]))\n'
        )
    clusters_yaml = "".join(
        f"    - name: c{c}\n      external_labels: {{cluster: c{c}}}\n      targets: [c{c}]\n" for c in range(clusters)
    )
    docs.append(
        "apiVersion: promspec/v1\nkind: Topology\nmetadata: {name: bench}\nspec:\n  clusters:\n"
        f"{clusters_yaml}  global:\n    backend: victoriametrics\n    url: {vm_url}\n    per_cluster_alerts: true\n"
    )
    return "---\n".join(docs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--slos", type=int, default=100)
    ap.add_argument("--clusters", type=int, default=2)
    ap.add_argument("--days", type=float, default=1.0)
    ap.add_argument("--seconds", type=int, default=90)
    args = ap.parse_args()
    print_machine(tools=["vmalert", "victoria-metrics"])
    tmp = tempfile.mkdtemp(prefix="fleet-bench-")
    vm = VictoriaMetrics(tmp)
    try:
        specs = os.path.join(tmp, "specs")
        os.makedirs(specs)
        with open(os.path.join(specs, "fleet.yml"), "w") as fh:
            fh.write(spec(args.slos, args.clusters, vm.url))
        out = os.path.join(tmp, "out")
        promspec = os.path.join(os.path.dirname(sys.executable), "promspec")
        subprocess.run([promspec, "generate", specs, "-o", out], check=True, capture_output=True)
        now = int(time.time()) // STEP * STEP
        start = now - int(args.days * 86400)
        t_import = time.monotonic()
        samples = 0
        for i in range(args.slos):
            lines = []
            for c in range(args.clusters):
                labels = f'slo_id="svc{i}-availability",slo_service="svc{i}",slo="availability",cluster="c{c}"'
                for t in range(start, now + 1, STEP):
                    lines.append(f"slo:sli_errors:rate5m{{{labels}}} 0.01 {t * 1000}")
                    lines.append(f"slo:sli_total:rate5m{{{labels}}} 10 {t * 1000}")
            samples += len(lines)
            req = urllib.request.Request(vm.url + "/api/v1/import/prometheus", data="\n".join(lines).encode())
            urllib.request.urlopen(req, timeout=60).close()
        vm.flush()
        import_s = time.monotonic() - t_import
        vmalert_dir = os.path.join(out, "fleet", "global", "vmalert")
        flags = [a for a in vmalert_args(os.path.join(vmalert_dir, "vmalert.args"), {}) if "notifier" not in a]
        port = free_port()
        with open(os.path.join(tmp, "vmalert.log"), "wb") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(
                ["vmalert", *flags, f"-httpListenAddr=127.0.0.1:{port}", "-notifier.url=http://127.0.0.1:9"],
                cwd=vmalert_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            time.sleep(args.seconds)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
                metrics = resp.read().decode()
        finally:
            proc.terminate()
            proc.wait(10)
        per_kind: dict[str, list[float]] = {}
        sums: dict[str, float] = {}
        counts: dict[str, float] = {}
        for line in metrics.splitlines():
            m = re.match(r'vmalert_iteration_duration_seconds_(sum|count)\{.*group="([^"]+)".*\} (\S+)', line)
            if m:
                (sums if m.group(1) == "sum" else counts)[m.group(2)] = float(m.group(3))
        for group, total in sums.items():
            if counts.get(group):
                kind = group.rsplit("-", 1)[-1]
                per_kind.setdefault(kind, []).append(total / counts[group])
        with open(os.path.join(vmalert_dir, "rules", "fleet.yml"), encoding="utf-8") as fh:
            rules = sum(1 for line in fh if line.lstrip().startswith(("- record:", "- alert:")))
        print(
            json.dumps(
                {
                    "slos": args.slos,
                    "clusters": args.clusters,
                    "days_of_data": args.days,
                    "samples_imported": samples,
                    "import_s": round(import_s, 1),
                    "global_rules": rules,
                    "mean_eval_ms_per_group_kind": {
                        k: {
                            "groups": len(v),
                            "mean_ms": round(1000 * sum(v) / len(v), 2),
                            "median_ms": round(1000 * statistics.median(v), 2),
                            "min_ms": round(1000 * min(v), 2),
                            "max_ms": round(1000 * max(v), 2),
                            "sum_ms": round(1000 * sum(v), 1),
                        }
                        for k, v in sorted(per_kind.items())
                    },
                },
                indent=2,
            )
        )
    finally:
        vm.stop()
    print(f"after: load average {load_now()}")


if __name__ == "__main__":
    main()
