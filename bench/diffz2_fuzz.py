"""Differential fuzzing of the dashboard checks' once-per-shape paths: hostile spec trees rendered by two
checkouts (an old commit as the oracle and this one), compared byte for byte (exit code, stderr, output).

    python bench/diffz2_fuzz.py --old /tmp/base/gen --new gen --seeds 0:100 --work /dev/shm/fz

A tree is services sharing the bundled presets and written Dashboard specs made as copies of one another
that differ in label values, variables or metric names: an uncatalogued metric or an undefined variable in
one copy only, queries that do not parse, empty ones, regex and __name__ matchers, odd strings.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
BACKENDS = ["vllm", "sglang", "tgi", "triton", "litellm", "llamacpp", "otel_genai", "generic"]
KNOWN = ["llm_request_total", "llm_error_total", "llm_tokens_total", "up", "vllm:num_requests_running"]
UNKNOWN = ["nope_total", "llm_request_totl", "my:unrecorded"]
RECORDED = ["job:fz_rate:5m", "llm:request_rate_5m"]
VALUES = [
    "a",
    "svc-1",
    "x.y:z",
    "",
    "ü日本",
    "a b",
    "tab\there",
    "q'uote",
    'dq"uote',
    "back\\slash",
    "$job",
    "$jbo",
    "[[job]]",
    "${job:regex}",
    ".*",
    "a|b",
    "\u2028x",
    "#hash",
    "`tick`",
    "é\u0301",
    "a\x01b",
]
SIGNALS = ["signal:requests", "signal:errors", "signal:ttft", "signal:running"]
CLEAN_VARS = ["datasource", "job", "instance", {"name": "model", "metric": "llm_request_total"}]
VARS = ["datasource", "job", "instance", "model", "gpu"]


def _value(r: random.Random, clean: bool = False) -> str:
    v = r.choice(VALUES) if r.random() < 0.4 else f"v{r.randrange(5)}"
    return v.replace("$jbo", "$job") if clean else v


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"')


def _query(form: int, metric: str, v: str) -> str:
    ev = _esc(v)
    forms = [
        lambda: f'sum(rate({metric}{{job="{ev}"}}[$__rate_interval]))',
        lambda: f'sum by (model) ({metric}{{job=~"$job", instance="{ev}"}})',
        lambda: f'{{__name__="{metric}", job="{ev}"}}',
        lambda: f'{{__name__=~"{metric}|up", instance!="{ev}"}}',
        lambda: f'rate({metric}{{job=~"$job"}}[5m])',
        lambda: f'increase({metric}{{job="{ev}"}}[$__range])',
        lambda: f'{metric}{{job=~"$job|{ev}"}}',
        lambda: f"{metric}{{job='{ev}'}}",
        lambda: f'{metric}{{job="{ev}"}} # note "x"',
        lambda: f'{metric}{{job="{ev}",\n  instance=~"$instance"}}',
        lambda: (
            "histogram_quantile(0.9, sum by (le) "
            f'(rate(llm_request_duration_seconds_bucket{{job="{ev}"}}[$__rate_interval])))'
        ),
        lambda: f'sum({metric}{{job="{ev}"}}) / sum({metric}{{job="{ev}x"}}) or on() vector(0)',
        lambda: f'{metric}{{job="{ev}"}} offset 5m',
        lambda: f'{metric}{{job="{ev}", model=~"[[model]]"}}',
        lambda: f'topk(5, {metric}{{job=~"${{job}}", instance="{ev}"}})',
    ]
    return forms[form % len(forms)]()


def _mutate(r: random.Random, q: str) -> str:
    kind = r.randrange(7)
    if kind == 0:
        return q + ")"  # does not parse
    if kind == 1:
        return "" if r.random() < 0.2 else q + " and on() up"
    if kind == 2:
        return q.replace("$job", "$jbo", 1) if "$job" in q else q + ' + up{job="$jbo"}'
    if kind == 3:
        return q.replace('"', "", 1)  # an odd quote
    if kind == 4:
        return q + ' + nope_total{job="x"}'
    if kind == 5:
        return q.replace("[$__rate_interval]", "[1m]")
    return "  " if r.random() < 0.1 else q.replace('"', '"\\"', 1)


def _dashboard(
    r: random.Random,
    name: str,
    skeleton: list[list[tuple[str, str]]],
    variables: list[Any],
    services: list[str],
    mutate: float,
    clean: bool,
    plain: bool = False,
) -> dict[str, Any]:
    rows = []
    for i, panels in enumerate(skeleton):
        out = []
        for j, targets in enumerate(panels):
            queries: list[dict[str, Any]] = []
            for form_seed, metric in targets:
                if metric.startswith("signal:"):
                    q: dict[str, Any] = {"signal": metric[7:]}
                    if metric[7:] in ("ttft", "e2e_latency"):
                        q["quantile"] = 0.9
                    if services and r.random() < 0.5:
                        q["service"] = r.choice(services + ["ghost"])
                    queries.append(q)
                    continue
                fr = random.Random(form_seed)
                value = _value(r, clean) if r.random() < 0.7 else _value(fr, clean)
                # plain: every query's literals "..." strings, so the queries are shaped together (joined_shape)
                if plain:
                    expr = _query(0 if form_seed % 15 in (7, 8) else form_seed, metric, f"v{r.randrange(5)}")
                else:
                    expr = _query(form_seed, metric, value)
                if r.random() < mutate:
                    expr = _mutate(r, expr)
                queries.append({"expr": expr, "legend": "{{job}}"})
            panel: dict[str, Any] = {"title": f"P{i}.{j}", "unit": "short", "queries": queries}
            if r.random() < 0.15:
                panel["type"] = "stat"
            out.append(panel)
        row: dict[str, Any] = {"title": f"Row {i}", "panels": out}
        if not clean and r.random() < 0.1:
            row["repeat"] = r.choice(["instance", "job", "jbo"])
        rows.append(row)
    spec: dict[str, Any] = {"title": name, "variables": variables, "rows": rows}
    if services and r.random() < 0.5:
        spec["service"] = r.choice(services)
    return {"apiVersion": "promspec/v1", "kind": "Dashboard", "metadata": {"name": name}, "spec": spec}


def write_tree(seed: int, root: Path) -> None:
    r = random.Random(seed)
    clean = r.random() < 0.5  # no finding of the dashboard checks meant: the fast paths' clean verdicts run
    # then the later copies of a clean dashboard may lack a variable: the same queries, another verdict
    drop = clean and r.random() < 0.5
    src = REPO / "specs"
    root.mkdir(parents=True)
    shutil.copy(src / "settings.yml", root / "settings.yml")
    shutil.copytree(src / "backends", root / "backends")
    (root / "catalog").mkdir()
    for cat in ("llm.yml", "node-exporter.yml", "exporter.yml"):
        if r.random() < 0.6:
            shutil.copy(src / "catalog" / cat, root / "catalog" / cat)
    docs: list[dict[str, Any]] = []
    services = []
    for i in range(r.randrange(1, 9)):
        name = f"s{i}" if r.random() < 0.8 else f"svc.{i}-with-a-rather-long-name-for-the-uid-{i}"
        spec: dict[str, Any] = {"selector": {"job": _value(r, clean) or "j" if r.random() < 0.5 else name}}
        backend = r.choice(BACKENDS + [None])
        sli: dict[str, Any] = {"signal": "errors"}
        if backend:
            spec["backend"] = backend
        if backend in (None, "llamacpp"):
            sli = {"ratio": {"good": "sum(rate(up[{{window}}]))", "total": "sum(rate(up[{{window}}])) + 1"}}
        spec["slos"] = [{"name": "errors", "objective": "99%", "sli": sli}]
        services.append(name)
        docs.append({"apiVersion": "promspec/v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
    if clean or r.random() < 0.6:
        docs.append(
            {
                "apiVersion": "promspec/v1",
                "kind": "RecordingGroup",
                "metadata": {"name": "fz"},
                "spec": {"rules": [{"record": r_, "expr": "sum by (job) (rate(up[5m]))"} for r_ in RECORDED]},
            }
        )
    metrics = KNOWN + RECORDED if clean else KNOWN + UNKNOWN + RECORDED + SIGNALS
    if clean:
        shutil.copy(src / "catalog" / "llm.yml", root / "catalog" / "llm.yml")
    for d in range(r.randrange(0, 4)):
        skeleton = [
            [
                [(r.randrange(10**6), r.choice(metrics)) for _ in range(r.randrange(1, 4))]
                for _ in range(r.randrange(1, 4))
            ]
            for _ in range(r.randrange(1, 3))
        ]
        base_vars: list[Any] = list(CLEAN_VARS) if clean else r.sample(VARS, r.randrange(0, 5))
        if r.random() < 0.3:
            base_vars.append({"name": "tier", "values": ["a", "b"]})
        for c in range(r.randrange(1, 5)):
            variables = list(base_vars)
            if c and drop and r.random() < 0.7:
                gone = r.choice(["job", "job", "instance", "model"])  # one the queries read
                variables = [v for v in variables if (v if isinstance(v, str) else v["name"]) != gone]
            elif c and not clean and r.random() < 0.3 and variables:
                variables.pop(r.randrange(len(variables)))
            mutate = 0.0 if clean or c == 0 or r.random() < 0.5 else 0.15
            docs.append(_dashboard(r, f"d{d}-c{c}", skeleton, variables, services, mutate, clean, drop))
    if r.random() < 0.2 and services:
        docs.append(
            {
                "apiVersion": "promspec/v1",
                "kind": "Dashboard",
                "metadata": {"name": f"llm-service-{services[0]}"},
                "spec": {
                    "title": "mine",
                    "panels": [{"title": "x", "unit": "s", "queries": [{"expr": 'up{job="a"}'}]}],
                },
            }
        )
    (root / "fz.yml").write_text(yaml.safe_dump_all(docs, allow_unicode=True, sort_keys=False))


def _run(gen: str, args: list[str], cwd: Path) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=gen)
    p = subprocess.run(
        [sys.executable, "-m", "promspec.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )
    return p.returncode, p.stdout + p.stderr


def compare(seed: int, old: str, new: str, work: Path, jobs2: bool, check: bool) -> list[str]:
    d = work / str(seed)
    shutil.rmtree(d, ignore_errors=True)
    write_tree(seed, d / "specs")
    diffs = []
    runs = {"old": (old, "1"), "new": (new, "1")}
    if jobs2:
        runs["new2"] = (new, "2")
    res = {k: _run(g, ["generate", "specs", "-o", f"o-{k}", "-q", "-j", j], d) for k, (g, j) in runs.items()}
    for k in runs:
        if k != "old" and res[k] != res["old"]:
            diffs.append(f"generate {k}: {res['old']!r} != {res[k]!r}")
        if k != "old" and (d / "o-old").exists():
            p = subprocess.run(["diff", "-r", "o-old", f"o-{k}"], cwd=d, capture_output=True, text=True)
            if p.returncode:
                diffs.append(f"diff -r {k}: {p.stdout[:2000]}")
    v = {} if seed % 2 else {k: _run(g, ["validate", "specs"], d) for k, g in (("old", old), ("new", new))}
    if v and v["old"] != v["new"]:
        diffs.append(f"validate: {v['old']!r} != {v['new']!r}")
    if check and res["old"][0] == 0:
        files = sorted(str(p.relative_to(d)) for p in (d / "o-old" / "dashboards").rglob("*.json"))
        if files:
            c = {k: _run(g, ["check", "--dashboard", *files], d) for k, g in (("old", old), ("new", new))}
            if c["old"] != c["new"]:
                diffs.append(f"check: {c['old']!r} != {c['new']!r}")
    if not diffs:
        shutil.rmtree(d)
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--seeds", default="0:20")
    ap.add_argument("--work", default="/dev/shm/fz")
    a = ap.parse_args()
    lo, hi = map(int, a.seeds.split(":"))
    work = Path(a.work)
    bad = 0
    for seed in range(lo, hi):
        diffs = compare(seed, os.path.abspath(a.old), os.path.abspath(a.new), work, seed % 2 == 0, seed % 3 == 0)
        print(json.dumps({"seed": seed, "diffs": diffs}), flush=True)
        bad += bool(diffs)
    print(f"{hi - lo} trees, {bad} with differences", flush=True)


if __name__ == "__main__":
    main()
