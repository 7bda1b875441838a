"""Benchmark dashboard rendering: the bundled dashboards and 100 synthetic ones, through promspec's spec
layer and written with grafana-foundation-sdk directly (the overhead of the spec layer).

Run: .venv/bin/python bench/dashboards.py [--runs 7] [--synthetic 100]

Times are CPU seconds of this process (time.process_time), median (min-max) of the runs; the pairs
compared (spec layer vs SDK build, promspec vs the SDK program) run interleaved and their ratio is
taken per run. `load` is also profiled once (cProfile) to say how much of it is the JSON Schema check
of the compiled dashboards.

Bundled: `load` is load_build on specs/ (YAML, schemas, model, every semantic check, dashboards
included); `model` builds the dashboard model (presets too); `plan` resolves signals, ids and
layout; `sdk` is the Foundation SDK's builders, build() and conversion to sorted plain data, which is
what a dashboard written with the SDK directly costs too; `bytes` serialises to indented JSON.
Synthetic: N dashboards of 4 rows x 6 panels x 2 PromQL queries, written once as Dashboard specs
(promspec: load + render to bytes) and once as a Python program of SDK builder calls with the same
content (direct: build + json.dumps).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)  # the SDK flags its v1 dashboard model as older than v2

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "gen"))
sys.path.insert(0, os.path.join(REPO, "bench"))

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
from machine import interleaved, load_now, print_machine, ratios, spread  # noqa: E402

from promspec.compile.dashboards.compiler import build_dashboard  # noqa: E402
from promspec.compile.dashboards.plan import context_for, plan_dashboard  # noqa: E402
from promspec.compile.dashboards.project import project_dashboards  # noqa: E402
from promspec.pipeline import load_build  # noqa: E402
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


def _cpu(f):
    """A callable that runs f once and returns the CPU seconds it took."""

    def run() -> float:
        start = time.process_time()
        f()
        return time.process_time() - start

    return run


def _runs(f, runs: int) -> list[float]:
    return [_cpu(f)() for _ in range(runs)]


def _share_in(f, names: tuple[str, ...]) -> dict[str, float]:
    """The share of f's profiled time spent inside each function named (cumulative)."""
    profile = cProfile.Profile()
    profile.enable()
    f()
    profile.disable()
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    out = {}
    for (_file, _line, func), row in stats.stats.items():  # type: ignore[attr-defined]
        if func in names:
            out[func] = max(out.get(func, 0.0), row[3] / total)
    return out


# ------------------------------------------------------------------------------ bundled


def bench_bundled(runs: int) -> dict:
    specs = os.path.join(REPO, "specs")
    build, _ = load_build([specs])
    project = build.project
    dashes = project_dashboards(project, build.rule_groups, project.dashboards)
    ctx = context_for(project, dashes)
    plans = [plan_dashboard(ctx, d) for d in dashes]
    built = [build_dashboard(p) for p in plans]
    panels = sum(len([p for p in b["panels"] if p["type"] != "row"]) for b in built)

    def spec_layer() -> None:
        for d in project_dashboards(project, build.rule_groups, project.dashboards):
            plan_dashboard(ctx, d)

    own, sdk = interleaved(_cpu(spec_layer), _cpu(lambda: [build_dashboard(p) for p in plans]), runs)
    return {
        "dashboards": len(dashes),
        "panels": panels,
        "load": _runs(lambda: load_build([specs]), runs),
        "model": _runs(lambda: project_dashboards(project, build.rule_groups, project.dashboards), runs),
        "plan": _runs(lambda: [plan_dashboard(ctx, d) for d in dashes], runs),
        "sdk": sdk,
        "own": own,
        "bytes": _runs(lambda: [dump_json(b) for b in built], runs),
        "render": _runs(lambda: render_dashboards(build), runs),
        "load_shares": _share_in(lambda: load_build([specs]), ("validate_dashboard", "check_dashboards")),
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

        build, _ = load_build([path])
        files = render_dashboards(build)
        assert sum(1 for f in files if f.endswith(".json")) == n
        loads: list[float] = []
        renders: list[float] = []

        def promspec() -> float:
            loads.append(_cpu(lambda: load_build([path]))())
            renders.append(_cpu(lambda: render_dashboards(build))())
            return loads[-1] + renders[-1]

        total, sdk = interleaved(promspec, _cpu(lambda: direct(n)), runs)
        return {
            "dashboards": n,
            "panels": n * 4 * len(TYPES),
            "load": loads,
            "render": renders,
            "promspec": total,
            "direct": sdk,
            "load_shares": _share_in(lambda: load_build([path]), ("validate_dashboard", "check_dashboards")),
        }


def _ms(values: list[float]) -> str:
    return spread([v * 1000 for v in values], ".1f")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--synthetic", type=int, default=100)
    args = parser.parse_args()
    print_machine(packages=["grafana-foundation-sdk", "jsonschema"])
    b = bench_bundled(args.runs)
    print(f"\nbundled: {b['dashboards']} dashboards, {b['panels']} panels (CPU ms, median (min-max) of {args.runs})\n")
    print("| bundled | CPU ms |")
    print("|---|---:|")
    for key, label in (
        ("load", "load and check specs"),
        ("model", "model"),
        ("plan", "plan"),
        ("sdk", "SDK build"),
        ("bytes", "JSON bytes"),
        ("render", "render (model + plan + SDK + bytes)"),
    ):
        print(f"| {label} | {_ms(b[key])} |")
    shares = b["load_shares"]
    print(
        f"\nspec layer's own work (model + plan) / SDK build, interleaved: {spread(ratios(b['own'], b['sdk']), '.2f')}x"
        f"\nof `load` (profiled): dashboard checks {shares.get('check_dashboards', 0):.0%}, of which the JSON "
        f"Schema and lint of the compiled dashboards (validate_dashboard) {shares.get('validate_dashboard', 0):.0%} "
        "of the whole load"
    )
    s = bench_synthetic(args.synthetic, args.runs)
    print(
        f"\nsynthetic: {s['dashboards']} dashboards, {s['panels']} panels (CPU ms, median (min-max) of {args.runs})\n"
    )
    print("| synthetic | CPU ms | per dashboard ms |")
    print("|---|---:|---:|")
    for key, label in (
        ("load", "promspec: load and check specs"),
        ("render", "promspec: render to bytes"),
        ("promspec", "promspec total"),
        ("direct", "SDK directly (build + json.dumps)"),
    ):
        per = [v / s["dashboards"] for v in s[key]]
        print(f"| {label} | {_ms(s[key])} | {spread([v * 1000 for v in per], '.2f')} |")
    shares = s["load_shares"]
    print(
        f"\npromspec total / SDK directly, interleaved: {spread(ratios(s['promspec'], s['direct']), '.2f')}x; "
        f"of `load` (profiled): dashboard checks {shares.get('check_dashboards', 0):.0%}, "
        f"validate_dashboard {shares.get('validate_dashboard', 0):.0%}"
    )
    print(f"\nafter: load average {load_now()}")


if __name__ == "__main__":
    main()
