"""Benchmark dashboard rendering: the bundled dashboards and 100 synthetic ones, through promspec's spec
layer and written with grafana-foundation-sdk directly (the overhead of the spec layer).

Run: .venv/bin/python bench/dashboards.py [--runs 7] [--synthetic 100]

Bundled: `load` is load_project on specs/ (YAML, schemas, model, every semantic check, dashboards
included); `model` builds the dashboard model (presets too); `plan` resolves signals, ids and
layout; `sdk` is the Foundation SDK's builders, build() and conversion to sorted plain data, which is
what a dashboard written with the SDK directly costs too; `bytes` serialises to indented JSON.
Synthetic: N dashboards of 4 rows x 6 panels x 2 PromQL queries, written once as Dashboard specs
(promspec: load + render to bytes) and once as a Python program of SDK builder calls with the same
content (direct: build + json.dumps).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)  # the SDK flags its v1 dashboard model as older than v2

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "gen"))

# After the sys.path set-up above, hence E402; one import per alias, the form the import sorter keeps.
from grafana_foundation_sdk.builders import (  # noqa: E402
    bargauge,
    gauge,
    heatmap,
    prometheus,
    stat,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import dashboard as db  # noqa: E402
from grafana_foundation_sdk.cog.encoder import JSONEncoder  # noqa: E402
from grafana_foundation_sdk.models import common as cm  # noqa: E402
from grafana_foundation_sdk.models import dashboard as dm  # noqa: E402

from promspec.compile.dashboards.compiler import build_dashboard, context_for, plan_dashboard  # noqa: E402
from promspec.compile.dashboards.project import project_dashboards  # noqa: E402
from promspec.pipeline import load_project  # noqa: E402
from promspec.render.dashboards import render_dashboards  # noqa: E402
from promspec.render.yamlout import dump_json  # noqa: E402

TYPES = ("timeseries", "stat", "heatmap", "gauge", "bargauge", "table")
UNITS = {
    "timeseries": "reqps",
    "stat": "s",
    "heatmap": "s",
    "gauge": "percentunit",
    "bargauge": "bytes",
    "table": "short",
}


def _median(f, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ------------------------------------------------------------------------------ bundled


def bench_bundled(runs: int) -> dict:
    specs = os.path.join(REPO, "specs")
    project, _ = load_project([specs])
    dashes = project_dashboards(project)
    ctx = context_for(project, dashes)
    plans = [plan_dashboard(ctx, d) for d in dashes]
    built = [build_dashboard(p) for p in plans]
    panels = sum(len([p for p in b["panels"] if p["type"] != "row"]) for b in built)
    return {
        "dashboards": len(dashes),
        "panels": panels,
        "load": _median(lambda: load_project([specs]), runs),
        "model": _median(lambda: project_dashboards(project), runs),
        "plan": _median(lambda: [plan_dashboard(ctx, d) for d in dashes], runs),
        "sdk": _median(lambda: [build_dashboard(p) for p in plans], runs),
        "bytes": _median(lambda: [dump_json(b) for b in built], runs),
        "render": _median(lambda: render_dashboards(project), runs),
    }


# ------------------------------------------------------------------------------ synthetic


def _expr(d: int, r: int, p: int, q: int, kind: str) -> str:
    metric = f"app{d}_requests_total" if kind != "heatmap" else f"app{d}_latency_seconds_bucket"
    by = "le" if kind == "heatmap" else "model"
    fn = "increase" if kind == "heatmap" else "rate"
    return f'sum by ({by}) ({fn}({metric}{{job=~"$job", instance=~"$instance", code="{200 + q}"}}[$__rate_interval]))'


def synthetic_specs(n: int) -> str:
    """N Dashboard documents and the Catalog they read, as one YAML stream."""
    docs = []
    for d in range(n):
        docs.append(f"""apiVersion: promspec/v1
kind: Catalog
metadata: {{name: app{d}}}
spec:
  metrics:
    - {{name: app{d}_requests_total, type: counter, labels: [model, code]}}
    - {{name: app{d}_latency_seconds, type: histogram, labels: [code], buckets: [0.1, 0.5, 1, 5]}}
""")
        rows = []
        for r in range(4):
            panels = []
            for p, kind in enumerate(TYPES):
                queries = "".join(
                    f"\n            - expr: '{_expr(d, r, p, q, kind)}'\n              legend: q{q}" for q in range(2)
                )
                panels.append(f"""        - title: Panel {r}.{p}
          type: {kind}
          unit: {UNITS[kind]}
          queries:{queries}""")
            rows.append(f"    - title: Row {r}\n      panels:\n" + "\n".join(panels))
        docs.append(
            f"""apiVersion: promspec/v1
kind: Dashboard
metadata: {{name: synthetic-{d}}}
spec:
  title: Synthetic {d}
  variables: [datasource, job, instance]
  rows:
"""
            + "\n".join(rows)
            + "\n"
        )
    return "---\n".join(docs)


def direct(n: int) -> list[str]:
    """The same N dashboards written with grafana-foundation-sdk's builders directly."""
    ds = cm.DataSourceRef(type_val="prometheus", uid="${datasource}")
    out = []
    for d in range(n):
        b = (
            db.Dashboard(f"Synthetic {d}")
            .uid(f"synthetic-{d}")
            .tags(["promspec"])
            .time("now-6h", "now")
            .refresh("1m")
            .with_variable(db.DatasourceVariable("datasource").type("prometheus"))
            .with_variable(
                db.QueryVariable("job").datasource(ds).query("label_values(up, job)").multi(True).include_all(True)
            )
            .with_variable(
                db.QueryVariable("instance")
                .datasource(ds)
                .query('label_values(up{job=~"$job"}, instance)')
                .multi(True)
                .include_all(True)
            )
        )
        ident = 0
        for r in range(4):
            ident += 1
            b.with_row(db.Row(f"Row {r}").id(ident))
            for p, kind in enumerate(TYPES):
                ident += 1
                panel = {
                    "timeseries": timeseries.Panel,
                    "stat": stat.Panel,
                    "heatmap": heatmap.Panel,
                    "gauge": gauge.Panel,
                    "bargauge": bargauge.Panel,
                    "table": table.Panel,
                }[kind]()
                panel.id(ident).title(f"Panel {r}.{p}").unit(UNITS[kind]).datasource(ds).grid_pos(
                    dm.GridPos(h=8, w=12 if kind in ("timeseries", "heatmap", "table", "bargauge") else 6, x=0, y=0)
                )
                for q in range(2):
                    panel.with_target(
                        prometheus.Dataquery()
                        .expr(_expr(d, r, p, q, kind))
                        .legend_format(f"q{q}")
                        .ref_id("AB"[q])
                        .datasource(ds)
                    )
                b.with_panel(panel)
        out.append(json.dumps(b.build(), cls=JSONEncoder, indent=2))
    return out


def bench_synthetic(n: int, runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "synthetic.yml")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(synthetic_specs(n))

        project, _ = load_project([path])
        files = render_dashboards(project)
        assert sum(1 for f in files if f.endswith(".json")) == n
        load = _median(lambda: load_project([path]), runs)
        render = _median(lambda: render_dashboards(project), runs)
        return {
            "dashboards": n,
            "panels": n * 4 * len(TYPES),
            "load": load,
            "render": render,
            "promspec": load + render,
            "direct": _median(lambda: direct(n), runs),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--synthetic", type=int, default=100)
    args = parser.parse_args()
    b = bench_bundled(args.runs)
    print(f"bundled: {b['dashboards']} dashboards, {b['panels']} panels (median of {args.runs} runs, ms)")
    for key in ("load", "model", "plan", "sdk", "bytes", "render"):
        print(f"  {key:7s} {b[key] * 1000:8.1f}")
    own = b["model"] + b["plan"]
    print(
        f"  spec layer's own work (model + plan): {own * 1000:.1f} ms = {own / b['sdk']:.2f}x the SDK build; "
        f"loading and checking the specs: {b['load'] * 1000:.1f} ms"
    )
    s = bench_synthetic(args.synthetic, args.runs)
    print(f"synthetic: {s['dashboards']} dashboards, {s['panels']} panels (median of {args.runs} runs, ms)")
    print(f"  promspec: load specs           {s['load'] * 1000:8.1f}")
    print(f"  promspec: render to bytes      {s['render'] * 1000:8.1f}")
    print(f"  promspec (load specs + render) {s['promspec'] * 1000:8.1f}")
    print(f"  SDK directly (build + dumps)   {s['direct'] * 1000:8.1f}")
    print(
        f"  ratio {s['promspec'] / s['direct']:.2f}x, per dashboard {s['promspec'] / s['dashboards'] * 1000:.2f} ms "
        f"vs {s['direct'] / s['dashboards'] * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
